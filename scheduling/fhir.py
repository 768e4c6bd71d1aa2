"""FHIR R4 representations of cloud-clinic sessions (Schedule), slots (Slot) and bookings (Appointment).

Plain dicts from already-loaded rows; no ORM access here. Validated with fhir.resources (R4B models,
whose Schedule, Slot and Appointment match R4) in tests/scheduling/test_fhir.py.
"""
from django.utils import timezone

SERVICE_SYSTEM = "urn:teleclinic:specialty"
SLOT_KIND_SYSTEM = "urn:teleclinic:slot-kind"


def _instant(value) -> str:
    return timezone.localtime(value).isoformat()


def _specialty(specialty) -> list[dict]:
    return [{"coding": [{"system": SERVICE_SYSTEM, "code": specialty.code, "display": specialty.name}],
             "text": specialty.name_en or specialty.name}]


def schedule(session) -> dict:
    """A cloud-clinic session: one expert's bookable time window for one specialty."""
    return {
        "resourceType": "Schedule",
        "id": str(session.pk),
        "active": session.state == "scheduled",
        "serviceType": _specialty(session.specialty),
        "actor": [{"reference": f"Practitioner/{session.expert_id}", "display": str(session.expert.user)}],
        "planningHorizon": {"start": _instant(session.starts_at), "end": _instant(session.ends_at)},
        "comment": f"云诊室 cloud clinic, {session.organisation.name}",
    }


def slot(row, *, taken: bool) -> dict:
    """free / busy; a reserved slot is busy-unavailable to the public until its release."""
    if taken:
        status = "busy"
    elif row.kind == "green_channel" or row.is_reserved:
        status = "busy-unavailable"
    else:
        status = "free"
    resource = {
        "resourceType": "Slot",
        "id": str(row.pk),
        "serviceType": _specialty(row.session.specialty),
        "serviceCategory": [{"coding": [{"system": SLOT_KIND_SYSTEM, "code": row.kind}]}],
        "schedule": {"reference": f"Schedule/{row.session_id}"},
        "status": status,
        "start": _instant(row.starts_at),
        "end": _instant(row.ends_at),
    }
    if row.is_reserved and row.release_at:
        resource["comment"] = f"reserved for grassroots clinics until {_instant(row.release_at)}"
    return resource


APPOINTMENT_STATUS = {"booked": "booked", "arrived": "arrived", "cancelled": "cancelled"}


def appointment(booking) -> dict:
    row, session = booking.slot, booking.slot.session
    resource = {
        "resourceType": "Appointment",
        "id": str(booking.pk),
        "status": APPOINTMENT_STATUS[booking.status],
        "serviceType": _specialty(session.specialty),
        "start": _instant(row.starts_at),
        "end": _instant(row.ends_at),
        "created": _instant(booking.created_at),
        "slot": [{"reference": f"Slot/{row.pk}"}],
        "participant": [
            {"actor": {"reference": f"Patient/{booking.patient_id}", "display": booking.patient.name},
             "required": "required", "status": "accepted"},
            {"actor": {"reference": f"Practitioner/{session.expert_id}", "display": str(session.expert.user)},
             "required": "required", "status": "accepted"},
        ],
    }
    if booking.consultation_id:
        resource["basedOn"] = [{"reference": f"ServiceRequest/{booking.consultation_id}"}]
    return resource
