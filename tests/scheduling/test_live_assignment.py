"""Live notifications of on-demand assignment on the Redis channel layer: offers, escalation, stat."""
import datetime as dt

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from scheduling.models import OnCallShift
from scheduling.services import assignment_request
from tests.consult.findings import critical_finding

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def new_case(people, community, cardiology, patient_factory, consultation_factory):
    def make(**kw):
        return consultation_factory(patient=patient_factory(home_clinic=community.village_a1),
                                    requested_by=people["village_doctor"], specialty=cardiology, **kw)
    return make


async def test_with_nobody_on_duty_the_coordinator_and_the_requesting_doctor_hear_of_the_escalation(
        people, new_case, socket_of):
    # given a consultation and no cardiologist on duty
    consultation = await sync_to_async(new_case)(urgency="urgent")
    async with socket_of(people["coordinator"]) as coordinator, socket_of(people["village_doctor"]) as doctor:
        # when it asks for an expert
        offer = await sync_to_async(assignment_request)(consultation_id=consultation.pk)
        # then nobody is offered it, and both are told at once
        assert offer is None
        assert (await coordinator.next("consultation.escalated", timeout=5))["consultation"] == consultation.pk
        assert (await doctor.next("consultation.escalated", timeout=5))["reason"] == "no_expert_available"
    await sync_to_async(connections.close_all)()


async def test_a_critical_finding_notifies_the_assigned_expert_at_once(people, new_case, socket_of):
    # given a routine consultation already assigned to the expert
    consultation = await sync_to_async(new_case)(urgency="routine", state="assigned",
                                                 assigned_expert=people["expert"].expert)
    async with socket_of(people["expert"]) as expert:
        # when a critical ECG raises it to stat
        await sync_to_async(critical_finding)(consultation_id=consultation.pk)
        # then the expert hears it immediately
        event = await expert.next("consultation.stat", timeout=5)
    assert event == {"type": "consultation.stat", "consultation": consultation.pk, "reason": "critical_finding"}
    await sync_to_async(connections.close_all)()


async def test_a_critical_finding_on_an_unassigned_case_offers_it_to_the_on_duty_expert_as_stat(
        people, cardiology, new_case, socket_of):
    # given an on-duty cardiologist and a consultation nobody holds yet
    def setup():
        now = timezone.now()
        OnCallShift.objects.create(expert=people["expert"].expert, specialty=cardiology,
                                   starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=1))
        return new_case(urgency="routine")
    consultation = await sync_to_async(setup)()
    async with socket_of(people["expert"]) as expert:
        # when studies ingest raises it to stat
        await sync_to_async(critical_finding)(consultation_id=consultation.pk)
        # then the expert is offered it as stat, with a two-minute window
        event = await expert.next("assignment.offered", timeout=5)
    assert event["consultation"] == consultation.pk and event["urgency"] == "stat"
    expires = dt.datetime.fromisoformat(event["expires_at"])
    assert expires - timezone.now() <= dt.timedelta(minutes=2)
    await sync_to_async(connections.close_all)()
