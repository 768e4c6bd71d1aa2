"""FHIR R4 read views of Schedule, Slot and Appointment, validated with fhir.resources.

fhir.resources 8 ships R5 at the top level and R4B in a subpackage; Schedule, Slot and
Appointment did not change between R4 and R4B, so the R4B models validate R4 resources.
"""
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot as FhirSlot

from audit.models import AuditEvent
from scheduling.services import booking_create

# R4 value sets (fhir.resources checks structure, not bound codes)
SLOT_STATUS = {"busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error"}
APPOINTMENT_STATUS = {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
                      "entered-in-error", "checked-in", "waitlist"}


def test_schedule_slot_and_appointment_are_valid_fhir_r4(api, people, community, cardiology, session_factory,
                                                        tomorrow, patient_factory, consultation_factory):
    # given a session with a reserved and an open slot, the open one booked for a consultation
    session = session_factory(people["expert"], cardiology, starts_at=tomorrow, slots=2, kinds=["grassroots", "open"])
    reserved, open_slot = session.slots.order_by("starts_at")
    patient = patient_factory(home_clinic=community.village_a1)
    consultation = consultation_factory(patient=patient, requested_by=people["village_doctor"], specialty=cardiology)
    booking = booking_create(slot_id=open_slot.pk, patient_id=patient.pk, consultation_id=consultation.pk,
                             by=people["village_doctor"])
    client = api(people["village_doctor"])
    # when the clinic reads them as FHIR
    schedule = client.get(f"/fhir/Schedule/{session.pk}")
    slot_free = client.get(f"/fhir/Slot/{reserved.pk}")
    slot_busy = client.get(f"/fhir/Slot/{open_slot.pk}")
    appointment = client.get(f"/fhir/Appointment/{booking.pk}")
    # then each is a valid R4 resource of the right type, content type application/fhir+json
    assert appointment["Content-Type"].startswith("application/fhir+json")
    s = Schedule.model_validate(schedule.json())
    assert s.actor[0].reference == f"Practitioner/{people['expert'].expert.pk}"
    free, busy = FhirSlot.model_validate(slot_free.json()), FhirSlot.model_validate(slot_busy.json())
    assert free.schedule.reference == f"Schedule/{session.pk}" and {free.status, busy.status} <= SLOT_STATUS
    assert busy.status == "busy" and free.status == "busy-unavailable" and "reserved" in free.comment
    a = Appointment.model_validate(appointment.json())
    assert a.status == "booked" and a.status in APPOINTMENT_STATUS
    assert a.slot[0].reference == f"Slot/{open_slot.pk}"
    assert {p.actor.reference for p in a.participant} == {f"Patient/{patient.pk}",
                                                          f"Practitioner/{people['expert'].expert.pk}"}
    assert a.basedOn[0].reference == f"ServiceRequest/{consultation.pk}"
    # and reading the appointment (patient data) was audited
    assert AuditEvent.objects.filter(actor=people["village_doctor"], object_type="Booking",
                                     object_id=str(booking.pk), interface="fhir").exists()


def test_appointment_of_another_clinic_is_404(api, people, community, cardiology, session_factory, tomorrow,
                                              patient_factory):
    session = session_factory(people["expert"], cardiology, starts_at=tomorrow, slots=1)
    booking = booking_create(slot_id=session.slots.get().pk,
                             patient_id=patient_factory(home_clinic=community.village_a1).pk,
                             by=people["village_doctor"])
    assert api(people["other_village_doctor"]).get(f"/fhir/Appointment/{booking.pk}").status_code == 404
    assert api(people["foreign_coordinator"]).get(f"/fhir/Slot/{session.slots.get().pk}").status_code == 404
