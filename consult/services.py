"""Writes to consultations: one function per use case, each owning its transaction."""
from django.db import transaction
from django.dispatch import Signal

from audit.services import audit_record
from directory.access import CHANGE
from directory.models import Specialty, User
from directory.selectors import patient_get
from teleclinic.errors import InvalidInput, NotPermitted

from .models import Consultation, Urgency

# Sent inside the request's transaction with `consultation=`: the apps that route a new case react to it
# (scheduling offers a live one to an on-duty expert at once) without consult importing them, and what
# they do commits or rolls back with the request.
consultation_requested = Signal()


def consultation_request(*, by: User, patient_id: int, specialty_code: str, urgency: str = Urgency.ROUTINE,
                         mode: str = Consultation.Mode.ASYNC, reason: str, request=None) -> Consultation:
    """A village or township doctor asks the lead hospital about one of their patients."""
    if by.role not in (User.Role.VILLAGE_DOCTOR, User.Role.TOWNSHIP_DOCTOR, User.Role.ADMIN):
        raise NotPermitted("Only village and township doctors request consultations.")
    specialty = Specialty.objects.filter(code=specialty_code).first()
    if specialty is None:
        raise InvalidInput(f"Unknown specialty '{specialty_code}'.", code="unknown_specialty")
    with transaction.atomic():
        patient = patient_get(user=by, patient_id=patient_id, request=request, action=CHANGE)
        consultation = Consultation.objects.create(
            patient=patient, requesting_org_id=by.organisation_id or patient.home_clinic_id, requested_by=by,
            specialty=specialty, urgency=urgency, mode=mode, reason=reason,
        )
        audit_record(actor=by, action="create", obj=consultation, interface="api", request=request)
        consultation_requested.send(sender=Consultation, consultation=consultation)
    consultation.refresh_from_db()
    return consultation
