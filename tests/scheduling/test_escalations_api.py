"""The coordinator's escalations: each escalated case says why (who declined and why, lapsed offers,
nobody on duty), and the experts to give it to mark who declined it, listed last."""
import datetime as dt

import pytest
from django.utils import timezone

from scheduling.models import Assignment
from scheduling.services.assignments import consultation_escalate
from tests.factories import ExpertFactory, UserFactory


def _declined_three_times(people, cardiology, community, consultation_factory, patient_factory):
    third = ExpertFactory(user=UserFactory(username="expert3", display_name="王三", role="expert",
                                           organisation=community.lead), specialties=[cardiology])
    patient = patient_factory(name="何桂兰", home_clinic=people["village_doctor"].organisation)
    consultation = consultation_factory(patient=patient, requested_by=people["village_doctor"], specialty=cardiology,
                                        requesting_org=patient.home_clinic, urgency="urgent", state="offered")
    now = timezone.now()
    experts = [people["expert"].expert, people["other_expert"].expert, third]
    for expert, reason in zip(experts, ["正在手术", "", "不熟悉此类病例"]):
        Assignment.objects.create(consultation=consultation, expert=expert, status=Assignment.Status.DECLINED,
                                  expires_at=now + dt.timedelta(minutes=5), decided_at=now, reason=reason)
    consultation_escalate(consultation_id=consultation.pk, reason="no_expert_available")
    return consultation, experts


def test_an_escalation_says_who_declined_with_their_reasons_and_that_nobody_else_is_on_duty(
        people, cardiology, community, consultation_factory, patient_factory, api):
    # given an urgent case declined by three cardiologists, then escalated as nobody else was on duty
    consultation, experts = _declined_three_times(people, cardiology, community, consultation_factory, patient_factory)
    # and a routine escalated case handed over by hand, older
    other = consultation_factory(patient=patient_factory(home_clinic=people["village_doctor"].organisation),
                                 requested_by=people["village_doctor"], specialty=cardiology,
                                 requesting_org=people["village_doctor"].organisation, state="requested")
    consultation_escalate(consultation_id=other.pk, reason="requested")
    # when the coordinator lists the escalations
    response = api(people["coordinator"]).get("/api/scheduling/escalations/")
    # then the urgent one comes first, naming the three declines with their reasons, and why it escalated
    assert response.status_code == 200, response.content
    first, second = response.data
    assert first["id"] == consultation.pk and first["patient_name"] == "何桂兰" and first["urgency"] == "urgent"
    assert first["escalation_reason"] == "no_expert_available" and first["expired"] == 0
    assert [(d["expert"], d["reason"]) for d in first["declines"]] == [
        (experts[0].pk, "正在手术"), (experts[1].pk, ""), (experts[2].pk, "不熟悉此类病例")]
    assert first["declines"][2]["expert_name"] == "王三"
    assert first["requesting_org_name"] == people["village_doctor"].organisation.name
    assert second["id"] == other.pk and second["escalation_reason"] == "requested" and second["declines"] == []


def test_the_experts_to_assign_mark_those_who_declined_the_case_and_list_them_last(
        people, cardiology, community, consultation_factory, patient_factory, api):
    consultation, experts = _declined_three_times(people, cardiology, community, consultation_factory, patient_factory)
    fresh = ExpertFactory(user=UserFactory(username="expert4", role="expert", organisation=community.lead),
                          specialties=[cardiology])
    client = api(people["coordinator"])
    rows = client.get("/api/scheduling/experts/", {"specialty": "cardiology", "consultation": consultation.pk}).data
    assert [(r["id"], r["declined"]) for r in rows][0] == (fresh.pk, False)
    assert {r["id"] for r in rows if r["declined"]} == {e.pk for e in experts}
    # without the consultation nobody is marked
    assert not any(r["declined"] for r in client.get("/api/scheduling/experts/", {"specialty": "cardiology"}).data)
    # a malformed consultation is a 400 with a code, never a 500
    bad = client.get("/api/scheduling/experts/", {"specialty": "cardiology", "consultation": "x1"})
    assert bad.status_code == 400 and bad.json()["code"]


def test_escalations_are_for_coordinators_in_their_community_only(people, cardiology, community,
                                                                  consultation_factory, patient_factory, api):
    _declined_three_times(people, cardiology, community, consultation_factory, patient_factory)
    assert api(people["village_doctor"]).get("/api/scheduling/escalations/").status_code == 403
    assert api(people["foreign_coordinator"]).get("/api/scheduling/escalations/").data == []
    assert len(api(people["admin"]).get("/api/scheduling/escalations/").data) == 1


@pytest.mark.parametrize("who, which, status", [
    ("coordinator", "declined case", 200),
    ("coordinator", "no such case", 404),
    ("foreign_coordinator", "declined case", 404),  # another community's case: as if it did not exist
    ("foreign_coordinator", "no such case", 404),
])
def test_who_declined_a_case_is_told_only_to_coordinators_who_may_see_it(
        people, cardiology, community, consultation_factory, patient_factory, api, who, which, status):
    consultation, _ = _declined_three_times(people, cardiology, community, consultation_factory, patient_factory)
    pk = consultation.pk if which == "declined case" else consultation.pk + 1000
    response = api(people[who]).get("/api/scheduling/experts/", {"specialty": "cardiology", "consultation": pk})
    assert response.status_code == status
    if status == 404:
        assert response.json() == {"code": "not_found", "detail": "No such consultation in your reach."}
