"""The expert's worklist: urgency first, then the due time of the turnaround target; overdue flagged."""
import datetime as dt

from django.utils import timezone



def test_worklist_orders_by_urgency_then_due_time_and_flags_overdue(api, people, community, cardiology, patient_factory,
                                                                    consultation_factory, assignment_factory):
    # given cases assigned to the expert at various urgencies and due times, and one offered to them
    expert = people["expert"].expert
    now = timezone.now()

    def case(urgency, due_in_minutes, **kw):
        return consultation_factory(patient=patient_factory(home_clinic=community.village_a1),
                                    requested_by=people["village_doctor"], specialty=cardiology, urgency=urgency,
                                    state=kw.pop("state", "assigned"), assigned_expert=kw.pop("assigned", expert),
                                    due_at=now + dt.timedelta(minutes=due_in_minutes), **kw)

    routine_late = case("routine", -60)
    routine_soon = case("routine", 30)
    stat = case("stat", 20)
    urgent_later = case("urgent", 200)
    urgent_sooner = case("urgent", 100)
    offered = case("urgent", 150, state="offered", assigned=None)
    assignment_factory(consultation=offered, expert=expert)  # open for ten more minutes
    case("stat", 5, assigned=people["other_expert"].expert)  # someone else's
    case("stat", 5, state="reported")  # done
    # when the expert opens the worklist
    response = api(people["expert"]).get("/api/scheduling/worklist/")
    # then stat first, then urgent by due time (the offer among them), then routine; the late one is flagged
    assert response.status_code == 200
    assert [i["consultation"] for i in response.data] == [
        stat.pk, urgent_sooner.pk, offered.pk, urgent_later.pk, routine_late.pk, routine_soon.pk]
    flags = {i["consultation"]: (i["overdue"], i["status"]) for i in response.data}
    assert flags[routine_late.pk] == (True, "assigned") and flags[routine_soon.pk] == (False, "assigned")
    assert flags[offered.pk] == (False, "offered")


def test_a_village_doctor_has_an_empty_worklist(api, people):
    assert api(people["village_doctor"]).get("/api/scheduling/worklist/").data == []
