"""On-demand assignment: who gets the offer, accept/decline/expiry, escalation, stat raise."""
import datetime as dt

import pytest
from django.utils import timezone

from consult.models import Consultation
from directory.access import VIEW, can
from scheduling.models import Assignment
from scheduling.services import (assignment_accept, assignment_decline, assignment_expire, assignment_request,
                                 assignments_sweep, consultation_assign)
from teleclinic.errors import Conflict, Gone, NotFound
from tests.consult.findings import critical_finding
from tests.factories import ExpertFactory, UserFactory
from tests.factories.scheduling import OnCallShiftFactory


@pytest.fixture
def case(people, community, cardiology, patient_factory, consultation_factory):
    def make(urgency="urgent", patient=None, **kw):
        patient = patient or patient_factory(home_clinic=community.village_a1)
        return consultation_factory(patient=patient, requested_by=people["village_doctor"], specialty=cardiology,
                                    urgency=urgency, **kw)
    return make


def test_least_loaded_on_duty_expert_gets_the_offer(people, on_duty, case):
    # given two experts on duty, the first already holding a case
    busy, idle = on_duty
    case(assigned_expert=busy, state="assigned")
    # when a new consultation asks for an expert
    offer = assignment_request(consultation_id=case().pk)
    # then the idle one gets it, with an urgent timeout of 15 minutes
    assert offer.expert == idle
    assert dt.timedelta(minutes=14) < offer.expires_at - timezone.now() <= dt.timedelta(minutes=15)
    assert Consultation.objects.get(pk=offer.consultation_id).state == "offered"


def test_the_patients_previous_expert_is_preferred_over_a_less_loaded_one(people, on_duty, case, patient_factory,
                                                                          community):
    # given a patient the busy expert has seen before
    busy, idle = on_duty
    patient = patient_factory(home_clinic=community.village_a1)
    case(patient=patient, assigned_expert=busy, state="reported")
    case(assigned_expert=busy, state="assigned")
    # when the patient needs an expert again
    offer = assignment_request(consultation_id=case(patient=patient).pk)
    # then continuity wins
    assert offer.expert == busy


def test_off_duty_and_full_experts_are_skipped(people, community, cardiology, on_duty, case):
    # given an off-duty cardiologist and a full on-duty one
    busy, idle = on_duty
    ExpertFactory(user=UserFactory(username="off", role="expert", organisation=community.lead),
                  specialties=[cardiology])
    idle.max_open_assignments = 1
    idle.save()
    case(assigned_expert=idle, state="assigned")
    # when a case asks for an expert
    offer = assignment_request(consultation_id=case().pk)
    # then only the on-duty expert with room is offered it
    assert offer.expert == busy


def test_expert_in_a_cloud_clinic_session_now_is_on_duty(people, cardiology, session_factory, case):
    session_factory(people["other_expert"], cardiology, starts_at=timezone.now() - dt.timedelta(minutes=10))
    offer = assignment_request(consultation_id=case().pk)
    assert offer.expert == people["other_expert"].expert


def test_accept_assigns_the_case_and_sets_its_turnaround_target(api, people, on_duty, case):
    # given an open offer to an expert
    consultation = case(urgency="stat")
    offer = assignment_request(consultation_id=consultation.pk)
    expert_user = offer.expert.user
    # when the expert accepts through the API
    response = api(expert_user).post(f"/api/scheduling/assignments/{offer.pk}/accept/", {}, format="json")
    # then the case is theirs, due 30 minutes after the request (stat), and in their worklist
    assert response.status_code == 200 and response.data["status"] == "accepted"
    consultation.refresh_from_db()
    assert consultation.assigned_expert == offer.expert and consultation.state == "assigned"
    assert consultation.due_at == consultation.created_at + dt.timedelta(minutes=30)
    # and accepting again is a conflict
    assert api(expert_user).post(f"/api/scheduling/assignments/{offer.pk}/accept/", {},
                                 format="json").status_code == 409


def test_another_expert_cannot_answer_someone_elses_offer(people, on_duty, case):
    offer = assignment_request(consultation_id=case().pk)
    stranger = people["other_expert"] if offer.expert.user != people["other_expert"] else people["expert"]
    with pytest.raises(NotFound):
        assignment_accept(assignment_id=offer.pk, by=stranger)


def test_decline_offers_the_case_to_the_next_expert_and_then_escalates(people, on_duty, case):
    # given an offer to the first expert
    consultation = case()
    first = assignment_request(consultation_id=consultation.pk)
    # when they decline
    assignment_decline(assignment_id=first.pk, by=first.expert.user, reason="in theatre")
    # then the other on-duty expert is offered it
    second = Assignment.objects.get(consultation=consultation, status="offered")
    assert second.expert != first.expert
    # and when the second declines too, nobody is left: the coordinators have it
    assignment_decline(assignment_id=second.pk, by=second.expert.user)
    consultation.refresh_from_db()
    assert consultation.state == "escalated"
    assert not Assignment.objects.filter(consultation=consultation, status="offered").exists()


def test_expiry_moves_the_offer_on_and_is_safe_to_run_twice(people, on_duty, case):
    # given an offer whose time ran out
    consultation = case(urgency="stat")
    first = assignment_request(consultation_id=consultation.pk)
    later = first.expires_at + dt.timedelta(seconds=1)
    # when expiry runs twice (timer task and sweeper)
    assert assignment_expire(assignment_id=first.pk, now=later) is True
    assert assignment_expire(assignment_id=first.pk, now=later) is False
    # then the first offer expired once and exactly one new offer is open
    first.refresh_from_db()
    assert first.status == "expired"
    assert Assignment.objects.filter(consultation=consultation, status="offered").count() == 1


def test_expiry_before_time_does_nothing(on_duty, case):
    offer = assignment_request(consultation_id=case().pk)
    assert assignment_expire(assignment_id=offer.pk) is False
    offer.refresh_from_db()
    assert offer.status == "offered"


def test_accepting_a_lapsed_offer_is_410(on_duty, case):
    offer = assignment_request(consultation_id=case().pk)
    Assignment.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(Gone):
        assignment_accept(assignment_id=offer.pk, by=offer.expert.user)


def test_sweeper_expires_every_lapsed_offer(on_duty, case):
    offers = [assignment_request(consultation_id=case().pk) for _ in range(2)]
    Assignment.objects.filter(pk__in=[o.pk for o in offers]).update(expires_at=timezone.now())
    assert assignments_sweep() == 2


def test_no_one_on_duty_escalates_at_once(api, people, case):
    # given no cardiologist on duty
    consultation = case()
    # when the requesting doctor asks for an expert through the API
    response = api(people["village_doctor"]).post(f"/api/scheduling/consultations/{consultation.pk}/assignment/",
                                                  {}, format="json")
    # then it is escalated to the coordinators (202) and the coordinator can hand it to a named expert
    assert response.status_code == 202 and response.data["state"] == "escalated"
    assignment = consultation_assign(consultation_id=consultation.pk, expert_id=people["expert"].expert.pk,
                                     by=people["coordinator"])
    consultation.refresh_from_db()
    assert assignment.status == "accepted" and consultation.assigned_expert_id == people["expert"].expert.pk


def test_asking_again_returns_the_open_offer_and_an_assigned_case_is_a_conflict(on_duty, case):
    consultation = case()
    offer = assignment_request(consultation_id=consultation.pk)
    assert assignment_request(consultation_id=consultation.pk) == offer
    assignment_accept(assignment_id=offer.pk, by=offer.expert.user)
    with pytest.raises(Conflict):
        assignment_request(consultation_id=consultation.pk)


def test_a_clinic_cannot_ask_for_another_clinics_consultation(api, people, on_duty, case):
    consultation = case()
    response = api(people["other_village_doctor"]).post(
        f"/api/scheduling/consultations/{consultation.pk}/assignment/", {}, format="json")
    assert response.status_code == 404


def test_raise_to_stat_shortens_an_open_offer(on_duty, case):
    # given a routine case offered for 4 hours
    consultation = case(urgency="routine")
    offer = assignment_request(consultation_id=consultation.pk)
    # when a critical ECG raises it to stat
    critical_finding(consultation_id=consultation.pk)
    # then it is stat and the offer lapses within 2 minutes
    offer.refresh_from_db()
    consultation.refresh_from_db()
    assert consultation.urgency == "stat"
    assert offer.expires_at - timezone.now() <= dt.timedelta(minutes=2)


def test_expert_may_view_a_consultation_offered_to_them_but_not_after_declining(api, people, on_duty, case):
    # given an offer to one expert
    consultation = case()
    offer = assignment_request(consultation_id=consultation.pk)
    expert_user = offer.expert.user
    # then they may read the consultation to decide, but not change it
    assert api(expert_user).get(f"/api/consultations/{consultation.pk}/").status_code == 200
    assert can(expert_user, VIEW, consultation) and not can(expert_user, "change", consultation)
    # and after declining it is out of their reach
    assignment_decline(assignment_id=offer.pk, by=expert_user)
    assert not can(expert_user, VIEW, consultation)


def test_coordinator_puts_an_expert_on_call_and_the_next_case_is_offered_to_them(api, people, case):
    # given nobody on duty
    now = timezone.now()
    body = {"expert": people["other_expert"].expert.pk, "specialty": "cardiology",
            "starts_at": (now - dt.timedelta(minutes=5)).isoformat(),
            "ends_at": (now + dt.timedelta(hours=12)).isoformat()}
    # when a village doctor tries, it is refused; when the coordinator puts the expert on call, it stands
    assert api(people["village_doctor"]).post("/api/scheduling/on-call/", body, format="json").status_code == 403
    response = api(people["coordinator"]).post("/api/scheduling/on-call/", body, format="json")
    assert response.status_code == 201, response.data
    # then the next case is offered to that expert
    assert assignment_request(consultation_id=case().pk).expert == people["other_expert"].expert


def test_the_coordinator_sees_whom_to_give_a_case_to_on_duty_first_then_least_loaded(
        api, people, community, cardiology, case):
    # given the other cardiologist on call and holding one case, the first off duty and idle,
    # and a cardiologist of another community
    other = people["other_expert"].expert
    OnCallShiftFactory(expert=other, specialty=cardiology)
    case(assigned_expert=other, state="assigned")
    ExpertFactory(user=UserFactory(role="expert", organisation=community.foreign_lead), specialties=[cardiology])
    # when the coordinator asks for the cardiologists to give an escalated case to
    response = api(people["coordinator"]).get("/api/scheduling/experts/?specialty=cardiology")
    # then the one on duty comes first despite its load, then the idle one; none of the other community
    assert response.status_code == 200
    rows = [(r["id"], r["on_duty"], r["load"]) for r in response.data]
    assert rows == [(other.pk, True, 1), (people["expert"].expert.pk, False, 0)]
    assert response.data[0]["name"] == str(people["other_expert"]) and "max_open_assignments" in response.data[0]


def test_only_coordinators_list_experts_to_assign_and_an_unknown_specialty_is_404(api, people, cardiology):
    assert api(people["village_doctor"]).get("/api/scheduling/experts/?specialty=cardiology").status_code == 403
    assert api(people["expert"]).get("/api/scheduling/experts/?specialty=cardiology").status_code == 403
    response = api(people["coordinator"]).get("/api/scheduling/experts/?specialty=astrology")
    assert response.status_code == 404 and response.data["code"]


def test_a_decline_keeps_its_reason_and_the_coordinator_reads_it_on_the_case(api, people, on_duty, case):
    # given an offer to the first expert
    consultation = case()
    first = assignment_request(consultation_id=consultation.pk)
    declined = api(first.expert.user).post(f"/api/scheduling/assignments/{first.pk}/decline/",
                                           {"code": "busy", "reason": "门诊加号中"}, format="json")
    assert declined.status_code == 200 and declined.json()["decline_code"] == "busy"
    # "other" needs words; an unknown choice is refused; neither is stored
    second = Assignment.objects.get(consultation=consultation, status="offered")
    for body in ({"code": "other", "reason": " "}, {"code": "tired"}):
        refused = api(second.expert.user).post(f"/api/scheduling/assignments/{second.pk}/decline/", body, format="json")
        assert refused.status_code == 400 and refused.json()["code"] == "invalid", refused.json()
    second.refresh_from_db()
    assert second.status == "offered"
    # then the coordinator sees, on this case's offers, who declined and why
    rows = api(people["coordinator"]).get("/api/scheduling/assignments/", {"consultation": consultation.pk}).json()["results"]
    mine = next(r for r in rows if r["id"] == first.pk)
    assert (mine["status"], mine["decline_code"], mine["reason"]) == ("declined", "busy", "门诊加号中")
    assert mine["expert_name"] == str(first.expert.user)
    assert {r["consultation"] for r in rows} == {consultation.pk}
    # a coordinator of another community does not
    assert api(people["foreign_coordinator"]).get(
        "/api/scheduling/assignments/", {"consultation": consultation.pk}).json()["results"] == []
    assert api(people["coordinator"]).get("/api/scheduling/assignments/", {"consultation": "x"}).status_code == 400
