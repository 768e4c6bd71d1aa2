"""Booking cloud-clinic slots: who may book which slot, and the errors a clinic sees."""
import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from consult.models import Consultation
from scheduling.models import Booking
from scheduling.selectors import worklist_for
from scheduling.services import booking_cancel, booking_create, booking_reschedule

URL = "/api/scheduling/bookings/"


@pytest.fixture
def clinic(community, people, cardiology, session_factory, tomorrow, patient_factory, consultation_factory):
    session = session_factory(people["expert"], cardiology, starts_at=tomorrow,
                              kinds=["grassroots", "grassroots", "open", "green_channel"])
    slots = list(session.slots.order_by("starts_at"))
    patient = patient_factory(home_clinic=community.village_a1)
    consultation = consultation_factory(patient=patient, requested_by=people["village_doctor"],
                                        specialty=cardiology, mode="live")
    return {"session": session, "reserved": slots[0], "reserved2": slots[1], "open": slots[2], "green": slots[3],
            "patient": patient, "consultation": consultation}


def test_village_doctor_books_a_reserved_slot_and_the_expert_sees_it_in_the_worklist(api, people, clinic):
    # given a reserved slot of the expert's cloud clinic and a village doctor's live consultation
    doctor = people["village_doctor"]
    # when the doctor books it for the patient and the consultation
    response = api(doctor).post(URL, {"slot": clinic["reserved"].pk, "patient": clinic["patient"].pk,
                                      "consultation": clinic["consultation"].pk}, format="json")
    # then the booking stands and the consultation is in the expert's worklist at the slot's time
    assert response.status_code == 201, response.data
    assert response.data["status"] == "booked"
    items = worklist_for(people["expert"])
    assert [i["consultation"].pk for i in items] == [clinic["consultation"].pk]
    assert items[0]["slot_starts_at"] == clinic["reserved"].starts_at
    assert Consultation.objects.get(pk=clinic["consultation"].pk).state == "assigned"
    assert AuditEvent.objects.filter(object_type="Booking", action="create", patient_id=clinic["patient"].pk).exists()


def test_taken_slot_is_409_with_a_reason_and_nothing_is_stored(api, people, community, clinic, patient_factory):
    # given a slot already booked by one village
    booking_create(slot_id=clinic["open"].pk, patient_id=clinic["patient"].pk, by=people["village_doctor"])
    other_patient = patient_factory(home_clinic=community.village_a2)
    before = Booking.objects.count(), AuditEvent.objects.count()
    # when another village doctor tries the same slot
    response = api(people["other_village_doctor"]).post(
        URL, {"slot": clinic["open"].pk, "patient": other_patient.pk}, format="json")
    # then 409 with a reason, and no row was written
    assert response.status_code == 409
    assert response.data["code"] == "slot_taken" and "taken" in response.data["detail"]
    assert (Booking.objects.count(), AuditEvent.objects.count()) == before


def test_reserved_slot_booked_by_a_lead_hospital_coordinator_is_403(api, people, community, clinic):
    # given a slot reserved for grassroots clinics and a coordinator of the lead hospital
    # when the coordinator books it for a village patient
    response = api(people["coordinator"]).post(
        URL, {"slot": clinic["reserved"].pk, "patient": clinic["patient"].pk}, format="json")
    # then 403 naming the reservation
    assert response.status_code == 403
    assert response.data["code"] == "not_eligible" and "reserved" in response.data["detail"]
    assert not Booking.objects.exists()


def test_slot_reserved_for_named_clinics_refuses_other_villages(
        api, people, community, cardiology, session_factory, tomorrow, patient_factory):
    # given a session whose reserved slots are kept for village A1 only
    session = session_factory(people["expert"], cardiology, starts_at=tomorrow, slots=2,
                              kinds=["grassroots", "grassroots"], reserved_for=[community.village_a1])
    slot = session.slots.first()
    patient_a2 = patient_factory(home_clinic=community.village_a2)
    # when the doctor of village A2 books it
    response = api(people["other_village_doctor"]).post(URL, {"slot": slot.pk, "patient": patient_a2.pk},
                                                        format="json")
    # then 403; while village A1's doctor may
    assert response.status_code == 403 and response.data["code"] == "not_eligible"
    patient_a1 = patient_factory(home_clinic=community.village_a1)
    assert api(people["village_doctor"]).post(URL, {"slot": slot.pk, "patient": patient_a1.pk},
                                              format="json").status_code == 201


def test_slot_in_the_past_is_400(api, people, cardiology, session_factory, clinic):
    # given a session that started an hour ago
    past = session_factory(people["expert"], cardiology, starts_at=timezone.now() - dt.timedelta(hours=1))
    # when a village doctor books one of its slots
    response = api(people["village_doctor"]).post(URL, {"slot": past.slots.first().pk,
                                                        "patient": clinic["patient"].pk}, format="json")
    # then 400 with the reason
    assert response.status_code == 400 and response.data["code"] == "slot_in_past"


def test_green_channel_slot_is_only_booked_through_a_referral(api, people, clinic):
    response = api(people["village_doctor"]).post(URL, {"slot": clinic["green"].pk,
                                                        "patient": clinic["patient"].pk}, format="json")
    assert response.status_code == 403 and response.data["code"] == "green_channel_only"


def test_patient_of_another_clinic_cannot_be_booked(api, people, community, clinic, patient_factory):
    stranger = patient_factory(home_clinic=community.village_b1)
    response = api(people["village_doctor"]).post(URL, {"slot": clinic["open"].pk, "patient": stranger.pk},
                                                  format="json")
    assert response.status_code == 404
    assert not Booking.objects.exists()


def test_unknown_field_is_refused(api, people, clinic):
    response = api(people["village_doctor"]).post(
        URL, {"slot": clinic["open"].pk, "patient": clinic["patient"].pk, "force": True}, format="json")
    assert response.status_code == 400 and "force" in response.data["detail"]


def test_cancelled_booking_frees_the_slot_for_another_clinic(api, people, community, clinic, patient_factory):
    # given a booking of the open slot
    booking = booking_create(slot_id=clinic["open"].pk, patient_id=clinic["patient"].pk, by=people["village_doctor"])
    # when its clinic cancels it
    response = api(people["village_doctor"]).post(f"{URL}{booking.pk}/cancel/", {}, format="json")
    # then it is cancelled and another village can book the slot
    assert response.status_code == 200 and response.data["status"] == "cancelled"
    other = patient_factory(home_clinic=community.village_a2)
    again = booking_create(slot_id=clinic["open"].pk, patient_id=other.pk, by=people["other_village_doctor"])
    assert again.status == "booked"
    # and cancelling twice is a conflict
    assert api(people["village_doctor"]).post(f"{URL}{booking.pk}/cancel/", {}, format="json").status_code == 409


def test_another_clinic_cannot_cancel_a_booking(api, people, clinic):
    booking = booking_create(slot_id=clinic["open"].pk, patient_id=clinic["patient"].pk, by=people["village_doctor"])
    response = api(people["other_village_doctor"]).post(f"{URL}{booking.pk}/cancel/", {}, format="json")
    assert response.status_code == 404
    assert Booking.objects.get(pk=booking.pk).status == "booked"


def test_reschedule_moves_the_booking_and_frees_the_old_slot(api, people, clinic):
    # given a booking of a reserved slot
    booking = booking_create(slot_id=clinic["reserved"].pk, patient_id=clinic["patient"].pk,
                             consultation_id=clinic["consultation"].pk, by=people["village_doctor"])
    # when the doctor moves it to the second reserved slot
    response = api(people["village_doctor"]).post(f"{URL}{booking.pk}/reschedule/",
                                                  {"slot": clinic["reserved2"].pk}, format="json")
    # then the new booking holds, points back at the old one, and the old slot is free
    assert response.status_code == 201
    assert response.data["slot"] == clinic["reserved2"].pk and response.data["rescheduled_from"] == booking.pk
    assert Booking.objects.get(pk=booking.pk).status == "cancelled"
    assert Booking.objects.filter(slot=clinic["reserved"], status="booked").count() == 0


def test_reschedule_to_a_taken_slot_keeps_the_old_booking(people, community, clinic, patient_factory):
    # given two bookings
    mine = booking_create(slot_id=clinic["reserved"].pk, patient_id=clinic["patient"].pk,
                          by=people["village_doctor"])
    booking_create(slot_id=clinic["open"].pk, patient_id=patient_factory(home_clinic=community.village_a2).pk,
                   by=people["other_village_doctor"])
    # when the first is moved onto the second's slot
    from scheduling.services import SlotTaken
    with pytest.raises(SlotTaken):
        booking_reschedule(booking_id=mine.pk, slot_id=clinic["open"].pk, by=people["village_doctor"])
    # then nothing changed: the old booking still holds
    assert Booking.objects.get(pk=mine.pk).status == "booked"


def test_leave_cancels_the_days_bookings(people, clinic):
    from scheduling.services import roster_exception_add

    booking = booking_create(slot_id=clinic["open"].pk, patient_id=clinic["patient"].pk, by=people["village_doctor"])
    roster_exception_add(by=people["coordinator"], roster_id=clinic["session"].roster_id,
                         date=timezone.localtime(clinic["session"].starts_at).date(), kind="leave")
    assert Booking.objects.get(pk=booking.pk).status == "cancelled"
    clinic["session"].refresh_from_db()
    assert clinic["session"].state == "cancelled"


def test_booking_cancel_service_refuses_a_stranger(people, clinic):
    from teleclinic.errors import NotFound

    booking = booking_create(slot_id=clinic["open"].pk, patient_id=clinic["patient"].pk, by=people["village_doctor"])
    with pytest.raises(NotFound):
        booking_cancel(booking_id=booking.pk, by=people["foreign_coordinator"])


def test_a_consultation_held_by_another_expert_cannot_be_booked_into_a_clinic(people, clinic):
    # given the consultation already assigned to the other expert
    Consultation.objects.filter(pk=clinic["consultation"].pk).update(
        assigned_expert=people["other_expert"].expert, state="assigned")
    # when it is booked into the first expert's session
    from teleclinic.errors import Conflict
    with pytest.raises(Conflict):
        booking_create(slot_id=clinic["open"].pk, patient_id=clinic["patient"].pk,
                       consultation_id=clinic["consultation"].pk, by=people["village_doctor"])
    # then nothing was booked
    assert not Booking.objects.exists()


def test_booking_a_consultation_withdraws_its_open_offer(people, clinic):
    from scheduling.models import Assignment

    offer = Assignment.objects.create(consultation=clinic["consultation"], expert=people["other_expert"].expert,
                                      expires_at=timezone.now() + dt.timedelta(minutes=5))
    booking_create(slot_id=clinic["open"].pk, patient_id=clinic["patient"].pk,
                   consultation_id=clinic["consultation"].pk, by=people["village_doctor"])
    offer.refresh_from_db()
    assert offer.status == "withdrawn"
