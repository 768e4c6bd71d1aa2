"""Coordinators manage rosters from their page: a roster's pattern changed, leave and extra sessions listed,
on-call shifts listed, added and ended; long lists paged. The clock is frozen on a Sunday 23:00 UTC (Monday
07:00 in the county), where a week computed in UTC and one computed in the county's zone differ."""
import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from scheduling.models import CloudClinicSession, OnCallShift
from scheduling.services import booking_create, roster_create

pytestmark = pytest.mark.django_db
SUNDAY_23_UTC = dt.datetime(2026, 11, 8, 23, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(SUNDAY_23_UTC, tick=False):
        yield


@pytest.fixture
def roster(people, cardiology):
    return roster_create(by=people["coordinator"], expert_id=people["expert"].expert.pk, specialty_code="cardiology",
                         weekdays=[1, 3, 5], start_time=dt.time(9), end_time=dt.time(11), slot_minutes=20, capacity=6,
                         valid_from=timezone.localdate())


def _local_weekdays(sessions) -> set[int]:
    return {timezone.localtime(s.starts_at).isoweekday() for s in sessions}


def test_changing_a_roster_remakes_its_unbooked_sessions_and_keeps_the_booked_one(api, people, roster,
                                                                                  patient_factory, community):
    # given Monday/Wednesday/Friday sessions, one of Wednesday's slots booked by the village doctor
    wednesday = next(s for s in roster.sessions.order_by("starts_at") if timezone.localtime(s.starts_at).isoweekday() == 3)
    slot = wednesday.slots.filter(kind="open").first()
    patient = patient_factory(home_clinic=community.village_a1)
    booking_create(slot_id=slot.pk, patient_id=patient.pk, by=people["village_doctor"])
    # when the coordinator moves the roster to Tuesdays and Thursdays with four slots
    response = api(people["coordinator"]).patch(f"/api/scheduling/rosters/{roster.pk}/",
                                                {"weekdays": [2, 4], "capacity": 4}, format="json")
    # then the unbooked sessions follow the new pattern, and the booked Wednesday stays with its booking
    assert response.status_code == 200, response.content
    assert response.json()["weekdays"] == [2, 4] and response.json()["capacity"] == 4
    sessions = list(CloudClinicSession.objects.filter(roster=roster))
    assert wednesday.pk in {s.pk for s in sessions}
    assert _local_weekdays(s for s in sessions if s.pk != wednesday.pk) == {2, 4}
    assert {s.slots.count() for s in sessions if s.pk != wednesday.pk} == {4}
    # when the coordinator stops the roster, then only the booked session is left
    api(people["coordinator"]).patch(f"/api/scheduling/rosters/{roster.pk}/", {"active": False}, format="json")
    assert list(CloudClinicSession.objects.filter(roster=roster).values_list("pk", flat=True)) == [wednesday.pk]


def test_a_bad_change_is_refused_with_a_reason_and_nothing_changes(api, people, roster):
    before = CloudClinicSession.objects.filter(roster=roster).count()
    response = api(people["coordinator"]).patch(f"/api/scheduling/rosters/{roster.pk}/",
                                                {"start_time": "12:00"}, format="json")  # after its end, 11:00
    assert response.status_code == 400 and response.json()["code"] == "bad_pattern"
    assert CloudClinicSession.objects.filter(roster=roster).count() == before
    # and a coordinator of another community may not touch it, nor a village doctor
    for who in ("foreign_coordinator", "village_doctor"):
        refused = api(people[who]).patch(f"/api/scheduling/rosters/{roster.pk}/", {"capacity": 2}, format="json")
        assert refused.status_code == 403, who


def test_leave_and_extra_sessions_are_listed_for_the_coordinators_page(api, people, roster):
    coordinator = api(people["coordinator"])
    today = timezone.localdate()  # Monday in the county (Sunday in UTC)
    assert today.isoweekday() == 1
    # when the coordinator puts Wednesday on leave and adds a Saturday afternoon session
    url = f"/api/scheduling/rosters/{roster.pk}/exceptions/"
    leave = coordinator.post(url, {"date": str(today + dt.timedelta(days=2)), "kind": "leave", "note": "进修"},
                             format="json")
    extra = coordinator.post(url, {"date": str(today + dt.timedelta(days=5)), "kind": "extra",
                                   "start_time": "14:00", "end_time": "16:00"}, format="json")
    assert leave.status_code == extra.status_code == 201, (leave.content, extra.content)
    # then both are listed, in date order, with what the page shows
    listed = coordinator.get(url).json()["results"]
    assert [(e["kind"], e["date"], e["start_time"], e["note"]) for e in listed] == [
        ("leave", str(today + dt.timedelta(days=2)), None, "进修"),
        ("extra", str(today + dt.timedelta(days=5)), "14:00:00", "")]
    # and the Saturday session exists while Wednesday's is cancelled
    states = {timezone.localtime(s.starts_at).date(): s.state for s in roster.sessions.all()}
    assert states[today + dt.timedelta(days=2)] == "cancelled"
    assert states[today + dt.timedelta(days=5)] == "scheduled"


def test_on_call_shifts_are_listed_added_and_ended_from_the_page(api, people, cardiology):
    coordinator = api(people["coordinator"])
    now = timezone.now()
    # when the coordinator puts the expert on call tonight and the other expert tomorrow
    tonight = coordinator.post("/api/scheduling/on-call/", {
        "expert": people["expert"].expert.pk, "specialty": "cardiology",
        "starts_at": (now - dt.timedelta(hours=1)).isoformat(), "ends_at": (now + dt.timedelta(hours=8)).isoformat()},
        format="json")
    tomorrow = coordinator.post("/api/scheduling/on-call/", {
        "expert": people["other_expert"].expert.pk, "specialty": "cardiology",
        "starts_at": (now + dt.timedelta(days=1)).isoformat(), "ends_at": (now + dt.timedelta(days=1, hours=8)).isoformat()},
        format="json")
    assert tonight.status_code == tomorrow.status_code == 201
    # then both are listed with the experts' names; another community's coordinator sees neither
    listed = coordinator.get("/api/scheduling/on-call/").json()["results"]
    assert [(s["id"], s["expert_name"]) for s in listed] == [(tonight.json()["id"], str(people["expert"])),
                                                             (tomorrow.json()["id"], str(people["other_expert"]))]
    assert api(people["foreign_coordinator"]).get("/api/scheduling/on-call/").json()["count"] == 0
    assert api(people["foreign_coordinator"]).delete(f"/api/scheduling/on-call/{tonight.json()['id']}/").status_code == 403
    # when the coordinator ends tonight's shift and removes tomorrow's
    assert coordinator.delete(f"/api/scheduling/on-call/{tonight.json()['id']}/").status_code == 204
    assert coordinator.delete(f"/api/scheduling/on-call/{tomorrow.json()['id']}/").status_code == 204
    # then tonight's ends now (kept for the record) and tomorrow's is gone; none is listed any more
    assert OnCallShift.objects.get(pk=tonight.json()["id"]).ends_at == now
    assert not OnCallShift.objects.filter(pk=tomorrow.json()["id"]).exists()
    assert coordinator.get("/api/scheduling/on-call/").json()["results"] == []


def test_a_long_slot_list_is_paged_to_its_end(api, people, cardiology):
    # given two weeks of daily sessions with 40 slots each (560 slots: more than one 500-row page)
    roster_create(by=people["coordinator"], expert_id=people["expert"].expert.pk, specialty_code="cardiology",
                  weekdays=list(range(1, 8)), start_time=dt.time(8), end_time=dt.time(18), slot_minutes=15,
                  capacity=40, valid_from=timezone.localdate() + dt.timedelta(days=1))
    start = timezone.localdate() + dt.timedelta(days=1)
    window = {"from": f"{start}T00:00:00+08:00", "to": f"{start + dt.timedelta(days=14)}T00:00:00+08:00"}
    client = api(people["coordinator"])
    # when the list is read page by page, then the pages add up to every slot, the second week included
    first = client.get("/api/scheduling/slots/", {**window, "limit": 500}).json()
    rest = client.get("/api/scheduling/slots/", {**window, "limit": 500, "offset": 500}).json()
    assert first["count"] == 560 and len(first["results"]) + len(rest["results"]) == 560
    last_day = timezone.localtime(dt.datetime.fromisoformat(rest["results"][-1]["starts_at"])).date()
    assert last_day == start + dt.timedelta(days=13)


def test_a_leave_day_is_undone_and_its_sessions_come_back(api, people, roster):
    # given Wednesday put on leave
    coordinator = api(people["coordinator"])
    wednesday = timezone.localdate() + dt.timedelta(days=2)
    url = f"/api/scheduling/rosters/{roster.pk}/exceptions/"
    leave = coordinator.post(url, {"date": str(wednesday), "kind": "leave"}, format="json").json()
    on = [s for s in CloudClinicSession.objects.filter(roster=roster) if timezone.localtime(s.starts_at).date() == wednesday]
    assert [s.state for s in on] == ["cancelled"]
    # when the coordinator undoes it
    undone = coordinator.delete(f"{url}{leave['id']}/")
    # then the day's session is scheduled again and the leave is no longer listed
    assert undone.status_code == 200, undone.content
    assert undone.json() == {"sessions": 1, "bookings_cancelled": 0}
    on[0].refresh_from_db()
    assert on[0].state == "scheduled"
    assert coordinator.get(url).json()["results"] == []
    # and it cannot be undone twice
    assert coordinator.delete(f"{url}{leave['id']}/").status_code == 404


def test_an_extra_session_with_bookings_is_not_removed_silently(api, people, roster, patient_factory, community):
    # given an extra Saturday session with one booked slot
    coordinator = api(people["coordinator"])
    saturday = timezone.localdate() + dt.timedelta(days=5)
    url = f"/api/scheduling/rosters/{roster.pk}/exceptions/"
    extra = coordinator.post(url, {"date": str(saturday), "kind": "extra", "start_time": "14:00",
                                   "end_time": "16:00"}, format="json").json()
    session = next(s for s in CloudClinicSession.objects.filter(roster=roster)
                   if timezone.localtime(s.starts_at).date() == saturday)
    patient = patient_factory(home_clinic=community.village_a1)
    booking = booking_create(slot_id=session.slots.filter(kind="open").first().pk, patient_id=patient.pk,
                             by=people["village_doctor"])
    # when a village doctor tries to undo it, then it is refused
    assert api(people["village_doctor"]).delete(f"{url}{extra['id']}/").status_code == 403
    # when the coordinator undoes it, then it is refused with the reason, and nothing changes
    refused = coordinator.delete(f"{url}{extra['id']}/")
    assert refused.status_code == 409 and refused.json()["code"] == "session_has_bookings"
    assert "1 patient" in refused.json()["detail"]
    session.refresh_from_db()
    booking.refresh_from_db()
    assert session.state == "scheduled" and booking.status == "booked"
    assert len(coordinator.get(url).json()["results"]) == 1
    # when the coordinator confirms that the bookings are to be cancelled
    done = coordinator.delete(f"{url}{extra['id']}/", {"cancel_bookings": True}, format="json")
    # then the booking is cancelled (its booker told), the session with it, and the extra session is gone
    assert done.status_code == 200 and done.json() == {"sessions": 1, "bookings_cancelled": 1}
    booking.refresh_from_db()
    session.refresh_from_db()
    assert booking.status == "cancelled" and session.state == "cancelled"
    assert coordinator.get(url).json()["results"] == []


def test_an_extra_session_nobody_booked_is_removed(api, people, roster):
    coordinator = api(people["coordinator"])
    saturday = timezone.localdate() + dt.timedelta(days=5)
    url = f"/api/scheduling/rosters/{roster.pk}/exceptions/"
    before = CloudClinicSession.objects.filter(roster=roster).count()
    extra = coordinator.post(url, {"date": str(saturday), "kind": "extra", "start_time": "14:00",
                                   "end_time": "16:00"}, format="json").json()
    assert CloudClinicSession.objects.filter(roster=roster).count() == before + 1
    assert coordinator.delete(f"{url}{extra['id']}/").json() == {"sessions": 1, "bookings_cancelled": 0}
    assert CloudClinicSession.objects.filter(roster=roster).count() == before
    # and the session does not come back when the roster's sessions are made again
    from scheduling.services import roster_generate
    roster_generate(roster_id=roster.pk)
    assert CloudClinicSession.objects.filter(roster=roster).count() == before
