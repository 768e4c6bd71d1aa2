"""双向转诊: upward through a green-channel slot (accept, arrival), downward with a follow-up plan; live both ways."""
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from scheduling.models import Booking, FollowUpTask, Referral
from scheduling.services import (followup_complete, referral_accept, referral_acknowledge, referral_arrive,
                                 referral_down_create, referral_up_create)
from teleclinic.errors import Conflict, NotFound


@pytest.fixture
def assigned_case(people, community, cardiology, patient_factory, consultation_factory):
    patient = patient_factory(home_clinic=community.village_a1)
    return consultation_factory(patient=patient, requested_by=people["village_doctor"], specialty=cardiology,
                                state="assigned", assigned_expert=people["expert"].expert)


@pytest.fixture
def green_clinic(people, cardiology, session_factory, tomorrow):
    """The other expert's session tomorrow: one open slot, two green-channel slots."""
    return session_factory(people["other_expert"], cardiology, starts_at=tomorrow, slots=3,
                           kinds=["open", "green_channel", "green_channel"])


@pytest.mark.django_db(transaction=True)
async def test_referral_round_trip_notifies_the_other_side_at_each_step(people, assigned_case, green_clinic,
                                                                        socket_of):
    village, expert, coordinator = people["village_doctor"], people["expert"], people["coordinator"]
    async with socket_of(village) as village_socket, socket_of(coordinator) as lead_socket, \
            socket_of(expert) as expert_socket:
        # when the expert recommends upward referral from the consultation
        up = await sync_to_async(referral_up_create)(by=expert, consultation_id=assigned_case.pk, reason="需要冠脉造影")
        # then the earliest green-channel slot is booked and both the village and the lead hospital hear of it
        assert (await village_socket.next("referral.requested"))["referral"] == up.pk
        assert (await lead_socket.next("referral.requested"))["referral"] == up.pk
        # when the coordinator accepts and later confirms arrival, the village hears each step
        await sync_to_async(referral_accept)(referral_id=up.pk, by=coordinator)
        assert (await village_socket.next("referral.accepted"))["referral"] == up.pk
        await sync_to_async(referral_arrive)(referral_id=up.pk, by=coordinator)
        assert (await village_socket.next("referral.arrived"))["referral"] == up.pk
        # when the expert sends the patient back down with a plan, the village hears it
        down = await sync_to_async(referral_down_create)(
            by=expert, consultation_id=assigned_case.pk, summary="PCI术后, 病情稳定",
            plan=[{"title": "测血压", "due_in_days": 7}, {"title": "复查心电图", "due_in_days": 30}])
        assert (await village_socket.next("referral.sent_back"))["tasks"] == 2
        # and when the village acknowledges, the expert hears it
        await sync_to_async(referral_acknowledge)(referral_id=down.pk, by=village)
        assert (await expert_socket.next("referral.acknowledged"))["referral"] == down.pk

    def check():
        booking = Booking.objects.select_related("slot").get(pk=up.booking_id)
        assert booking.slot.kind == "green_channel" and booking.status == "arrived"
        assert booking.slot == green_clinic.slots.filter(kind="green_channel").order_by("starts_at").first()
        assert Referral.objects.get(pk=up.pk).state == "arrived"
        assert Referral.objects.get(pk=down.pk).state == "acknowledged"
    await sync_to_async(check)()
    await sync_to_async(connections.close_all)()  # the worker thread's connection, before the DB is dropped


def test_village_doctor_refers_up_and_the_followup_plan_becomes_tasks(api, people, community, assigned_case,
                                                                     green_clinic):
    # given a village doctor's patient
    doctor = people["village_doctor"]
    # when the doctor refers up through the API by specialty
    response = api(doctor).post("/api/scheduling/referrals/", {"patient": assigned_case.patient_id,
                                                              "specialty": "cardiology"}, format="json")
    # then a green-channel slot at the lead hospital is booked
    assert response.status_code == 201, response.data
    assert response.data["state"] == "requested" and response.data["to_org"] == community.lead.pk
    # when the expert sends the patient back with a plan
    down = api(people["expert"]).post("/api/scheduling/referrals/down/", {
        "consultation": assigned_case.pk, "summary": "稳定", "plan": [{"title": "随访血压", "due_in_days": 7}]},
        format="json")
    assert down.status_code == 201, down.data
    # then the village doctor sees the follow-up task and can complete it
    tasks = api(doctor).get("/api/scheduling/follow-ups/").data["results"]
    assert [t["title"] for t in tasks] == ["随访血压"]
    done = api(doctor).post(f"/api/scheduling/follow-ups/{tasks[0]['id']}/complete/", {"note": "130/80"},
                            format="json")
    assert done.status_code == 200 and done.data["state"] == "done"
    # and another village's doctor sees none of it
    assert api(people["other_village_doctor"]).get("/api/scheduling/follow-ups/").data["count"] == 0
    assert api(people["other_village_doctor"]).get("/api/scheduling/referrals/").data["count"] == 0


def test_no_free_green_channel_slot_is_a_conflict_and_nothing_is_stored(people, assigned_case, cardiology,
                                                                         session_factory, tomorrow):
    session_factory(people["other_expert"], cardiology, starts_at=tomorrow, slots=1)
    with pytest.raises(Conflict):
        referral_up_create(by=people["village_doctor"], patient_id=assigned_case.patient_id,
                           specialty_code="cardiology")
    assert not Referral.objects.exists() and not Booking.objects.exists()


def test_upward_referral_cannot_take_an_ordinary_slot(people, assigned_case, green_clinic):
    from teleclinic.errors import InvalidInput

    with pytest.raises(InvalidInput):
        referral_up_create(by=people["village_doctor"], patient_id=assigned_case.patient_id,
                           slot_id=green_clinic.slots.get(kind="open").pk)


def test_only_the_lead_hospital_accepts_and_a_step_cannot_repeat(people, assigned_case, green_clinic):
    up = referral_up_create(by=people["village_doctor"], patient_id=assigned_case.patient_id,
                            specialty_code="cardiology")
    with pytest.raises(NotFound):
        referral_accept(referral_id=up.pk, by=people["village_doctor"])
    referral_accept(referral_id=up.pk, by=people["other_expert"])  # the green-channel slot's expert
    with pytest.raises(Conflict):
        referral_accept(referral_id=up.pk, by=people["coordinator"])


def test_another_clinic_cannot_complete_a_followup(people, assigned_case):
    down = referral_down_create(by=people["expert"], consultation_id=assigned_case.pk, summary="ok",
                                plan=[{"title": "复诊", "due_in_days": 14}])
    task = FollowUpTask.objects.get(referral=down)
    with pytest.raises(NotFound):
        followup_complete(task_id=task.pk, by=people["other_village_doctor"])


def test_a_break_glass_read_lets_a_doctor_read_but_not_refer_or_book_for_anothers_patient(
        api, people, assigned_case, green_clinic):
    # given a doctor of the next village who opened village A1's patient in an emergency (a read grant)
    reader = api(people["other_village_doctor"])
    patient = assigned_case.patient_id
    granted = reader.post(f"/api/records/patients/{patient}/break-glass/", {"reason": "急诊昏迷，查既往史"},
                          format="json")
    assert granted.status_code == 201, granted.content
    assert reader.get(f"/api/records/patients/{patient}/timeline/").status_code == 200
    # when they refer the patient up, or book them a slot
    referred = reader.post("/api/scheduling/referrals/", {"patient": patient, "specialty": "cardiology"}, format="json")
    slot = green_clinic.slots.order_by("starts_at").first()
    booked = reader.post("/api/scheduling/bookings/", {"slot": slot.pk, "patient": patient}, format="json")
    # then both are refused as for a patient out of reach, and nothing is stored
    assert (referred.status_code, booked.status_code) == (404, 404), (referred.content, booked.content)
    assert not Referral.objects.exists() and not Booking.objects.exists()
