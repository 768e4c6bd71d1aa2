"""A live consultation is offered to an on-duty expert as an async one is; the live room's host asks for an
expert now; the requesting doctor hears each change of state and sees the expert's name and booked time."""
import datetime as dt

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from consult.models import Consultation
from scheduling.models import Assignment
from tests.factories.scheduling import OnCallShiftFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_call(people, cardiology):
    """put(user): that cardiologist on an on-call shift around now."""

    def put(user):
        return OnCallShiftFactory(expert=user.expert, specialty=cardiology)

    return put


@pytest.fixture
def request_consultation(api, people, community, patient_factory):
    def make(mode="live"):
        patient = patient_factory(home_clinic=community.village_a1, name="孙立新")
        response = api(people["village_doctor"]).post("/api/consultations/", {
            "patient": patient.pk, "specialty": "cardiology", "mode": mode, "reason": "心悸一周"}, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return make


def test_a_live_consultation_is_offered_to_the_on_duty_expert_when_requested(api, people, on_call,
                                                                              request_consultation):
    # given a cardiologist on call
    on_call(people["expert"])
    # when the village doctor requests a live consultation
    created = request_consultation("live")
    # then the answer already says it is on offer, and the expert has the offer in the worklist
    assert created["state"] == "offered"
    offer = Assignment.objects.get(consultation_id=created["id"])
    assert offer.status == "offered" and offer.expert == people["expert"].expert
    worklist = api(people["expert"]).get("/api/scheduling/worklist/").json()
    assert [(w["consultation"], w["status"], w["mode"]) for w in worklist] == [(created["id"], "offered", "live")]


def test_a_live_consultation_with_nobody_on_duty_goes_to_the_coordinators_and_async_waits_for_its_study(
        people, request_consultation):
    # given nobody on duty: a live request is escalated at once, as an async one with its study would be
    assert request_consultation("live")["state"] == "escalated"
    # and an async request waits for its study (studies ingest offers it), no offer yet
    created = request_consultation("async")
    assert created["state"] == "requested" and not Assignment.objects.filter(consultation_id=created["id"]).exists()


def test_the_rooms_host_asks_for_an_expert_now_and_the_console_shows_who_accepted(api, people, on_call,
                                                                                 request_consultation):
    # given a live consultation escalated for want of an expert, its room open
    created = request_consultation("live")
    doctor = api(people["village_doctor"])
    room = doctor.post("/api/live/rooms/", {"consultation": created["id"]}, format="json").json()
    # when a cardiologist goes on call and the host asks for an expert from the room
    on_call(people["expert"])
    asked = doctor.post(f"/api/live/rooms/{room['id']}/expert-request/")
    # then the case is offered to them
    assert asked.status_code == 201, asked.content
    assert asked.json()["state"] == "offered"
    assert doctor.get(f"/api/consultations/{created['id']}/").json()["state"] == "offered"
    # and asking again returns the same open offer
    assert doctor.post(f"/api/live/rooms/{room['id']}/expert-request/").json()["assignment"] == asked.json()["assignment"]
    # when the expert accepts, then the doctor's consultation says assigned, with the expert's name
    accepted = api(people["expert"]).post(f"/api/scheduling/assignments/{asked.json()['assignment']}/accept/")
    assert accepted.status_code == 200, accepted.content
    body = doctor.get("/api/consultations/").json()["results"][0]
    assert (body["id"], body["state"], body["expert_name"], body["booked_at"]) == (
        created["id"], "assigned", str(people["expert"]), None)
    # and asking once more is a clear conflict, not a second offer
    again = doctor.post(f"/api/live/rooms/{room['id']}/expert-request/")
    assert again.status_code == 409 and again.json()["code"] == "already_assigned"


def test_only_the_host_asks_for_an_expert_from_the_room(api, people, on_call, request_consultation):
    created = request_consultation("live")
    room = api(people["village_doctor"]).post("/api/live/rooms/", {"consultation": created["id"]},
                                              format="json").json()
    # the township doctor above the clinic may see the room but is not its host
    response = api(people["township_doctor"]).post(f"/api/live/rooms/{room['id']}/expert-request/")
    assert response.status_code == 403 and response.json()["code"] == "not_permitted"
    # another clinic's doctor does not learn the room exists
    assert api(people["other_village_doctor"]).post(f"/api/live/rooms/{room['id']}/expert-request/").status_code == 404


def test_the_console_shows_the_booked_time_of_a_booked_live_consultation(api, people, cardiology, session_factory,
                                                                         request_consultation, tomorrow):
    # given a live consultation and a free slot of the expert's session tomorrow
    created = request_consultation("live")
    session = session_factory(people["expert"], cardiology, starts_at=tomorrow)
    slot = session.slots.order_by("starts_at").first()
    doctor = api(people["village_doctor"])
    # when the doctor books it for the consultation
    booked = doctor.post("/api/scheduling/bookings/", {"slot": slot.pk, "patient": created["patient"],
                                                       "consultation": created["id"]}, format="json")
    assert booked.status_code == 201, booked.content
    # then the consultation says assigned to the session's expert, at the slot's time
    body = doctor.get(f"/api/consultations/{created['id']}/").json()
    assert body["state"] == "assigned" and body["expert_name"] == str(people["expert"])
    assert dt.datetime.fromisoformat(body["booked_at"]) == slot.starts_at


@pytest.mark.django_db(transaction=True)
async def test_the_requesting_doctor_hears_the_offer_and_the_acceptance_live(people, on_call, socket_of,
                                                                            patient_factory, community, cardiology):
    from consult.services import consultation_request
    from scheduling.services import assignment_accept

    await sync_to_async(on_call)(people["expert"])
    patient = await sync_to_async(patient_factory)(home_clinic=community.village_a1)
    async with socket_of(people["village_doctor"]) as doctor, socket_of(people["expert"]) as expert:
        # when the doctor requests a live consultation
        consultation = await sync_to_async(consultation_request)(
            by=people["village_doctor"], patient_id=patient.pk, specialty_code="cardiology",
            mode=Consultation.Mode.LIVE, reason="胸痛")
        # then the expert is offered it and the doctor hears it is on offer
        offered = await expert.next("assignment.offered", timeout=5)
        assert offered["consultation"] == consultation.pk
        assert (await doctor.next("consultation.offered", timeout=5))["consultation"] == consultation.pk
        # when the expert accepts, then the doctor hears who took it
        await sync_to_async(assignment_accept)(assignment_id=offered["assignment"], by=people["expert"])
        assigned = await doctor.next("consultation.assigned", timeout=5)
    assert assigned == {"type": "consultation.assigned", "consultation": consultation.pk,
                        "expert": people["expert"].expert.pk}
    await sync_to_async(connections.close_all)()


@pytest.mark.django_db(transaction=True)
async def test_booking_an_offered_live_consultation_tells_the_doctor_and_withdraws_the_offer_live(
        people, on_call, socket_of, patient_factory, community, cardiology, session_factory, tomorrow):
    from consult.services import consultation_request
    from scheduling.services import booking_create

    # given a live consultation on offer to the on-call cardiologist
    await sync_to_async(on_call)(people["expert"])
    patient = await sync_to_async(patient_factory)(home_clinic=community.village_a1)
    session = await sync_to_async(session_factory)(people["other_expert"], cardiology, starts_at=tomorrow)
    slot = await sync_to_async(lambda: session.slots.order_by("starts_at").first())()
    async with socket_of(people["village_doctor"]) as doctor, socket_of(people["expert"]) as expert:
        consultation = await sync_to_async(consultation_request)(
            by=people["village_doctor"], patient_id=patient.pk, specialty_code="cardiology",
            mode=Consultation.Mode.LIVE, reason="胸痛")
        offered = await expert.next("assignment.offered", timeout=5)
        # when the doctor books it into the other cardiologist's cloud clinic
        await sync_to_async(booking_create)(slot_id=slot.pk, patient_id=patient.pk, consultation_id=consultation.pk,
                                            by=people["village_doctor"])
        # then the offered expert's workstation hears the offer withdrawn, and the doctor's console the booking
        withdrawn = await expert.next("assignment.withdrawn", timeout=5)
        booked = await doctor.next("consultation.booked", timeout=5)
    assert withdrawn == {"type": "assignment.withdrawn", "assignment": offered["assignment"],
                         "consultation": consultation.pk, "reason": "booked_in_cloud_clinic"}
    assert booked == {"type": "consultation.booked", "consultation": consultation.pk, "state": "assigned"}
    await sync_to_async(connections.close_all)()


async def _offered_live(people, on_call, patient_factory, community, expert):
    """A live consultation requested by the village doctor, on offer to the on-call cardiologist (heard live)."""
    from consult.services import consultation_request

    await sync_to_async(on_call)(people["expert"])
    patient = await sync_to_async(patient_factory)(home_clinic=community.village_a1)
    consultation = await sync_to_async(consultation_request)(
        by=people["village_doctor"], patient_id=patient.pk, specialty_code="cardiology",
        mode=Consultation.Mode.LIVE, reason="胸痛")
    offered = await expert.next("assignment.offered", timeout=5)
    assert offered["consultation"] == consultation.pk
    return consultation, offered


@pytest.mark.django_db(transaction=True)
async def test_escalating_an_offered_consultation_withdraws_the_offer_from_the_experts_workstation_live(
        api, people, on_call, socket_of, patient_factory, community):
    async with socket_of(people["expert"]) as expert:
        consultation, offered = await _offered_live(people, on_call, patient_factory, community, expert)
        # when the coordinator escalates it (through the API)
        response = await sync_to_async(api(people["coordinator"]).post)(
            f"/api/scheduling/consultations/{consultation.pk}/escalate/", {"reason": "needs_senior"}, format="json")
        assert response.status_code == 200, response.content
        # then the offered expert's workstation hears the offer withdrawn
        withdrawn = await expert.next("assignment.withdrawn", timeout=5)
    assert withdrawn == {"type": "assignment.withdrawn", "assignment": offered["assignment"],
                         "consultation": consultation.pk, "reason": "needs_senior"}
    assert await sync_to_async(lambda: Assignment.objects.get(pk=offered["assignment"]).status)() == "withdrawn"
    await sync_to_async(connections.close_all)()


@pytest.mark.django_db(transaction=True)
async def test_a_coordinator_assigning_an_offered_consultation_elsewhere_withdraws_the_offer_live(
        api, people, on_call, socket_of, patient_factory, community):
    async with socket_of(people["expert"]) as expert, socket_of(people["other_expert"]) as other:
        consultation, offered = await _offered_live(people, on_call, patient_factory, community, expert)
        # when the coordinator gives the case by hand to the other cardiologist
        response = await sync_to_async(api(people["coordinator"]).post)(
            f"/api/scheduling/consultations/{consultation.pk}/assign/",
            {"expert": people["other_expert"].expert.pk}, format="json")
        assert response.status_code == 201, response.content
        # then the offered expert's workstation hears the offer withdrawn, and the other expert hears the case
        withdrawn = await expert.next("assignment.withdrawn", timeout=5)
        assigned = await other.next("consultation.assigned_to_you", timeout=5)
    assert withdrawn == {"type": "assignment.withdrawn", "assignment": offered["assignment"],
                         "consultation": consultation.pk, "reason": "assigned_by_coordinator"}
    assert assigned["consultation"] == consultation.pk
    assert await sync_to_async(lambda: Assignment.objects.get(pk=offered["assignment"]).status)() == "withdrawn"
    await sync_to_async(connections.close_all)()


@pytest.mark.django_db(transaction=True)
async def test_an_offer_that_lapses_unanswered_leaves_the_experts_workstation_live(
        people, on_call, socket_of, patient_factory, community):
    from scheduling.services import assignment_expire

    async with socket_of(people["expert"]) as expert:
        consultation, offered = await _offered_live(people, on_call, patient_factory, community, expert)
        # when the offer's time runs out (the timer or the sweeper)
        lapsed_at = dt.datetime.fromisoformat(offered["expires_at"]) + dt.timedelta(seconds=1)
        assert await sync_to_async(assignment_expire)(assignment_id=offered["assignment"], now=lapsed_at)
        # then the expert's workstation hears it lapsed (it reloads its offers on any assignment.* event)
        expired = await expert.next("assignment.expired", timeout=5)
    assert expired == {"type": "assignment.expired", "assignment": offered["assignment"],
                       "consultation": consultation.pk}
    await sync_to_async(connections.close_all)()
