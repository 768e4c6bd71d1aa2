"""Reads of the directory that apply permissions and write the audit log."""
from django.db.models import Q, QuerySet

from audit.services import audit_record, audit_record_many

from . import resident_id
from .access import VIEW, access_get, scoped
from .models import Patient, User


def patient_list(*, user: User, query: str = "") -> QuerySet[Patient]:
    patients = scoped(user, Patient.objects.select_related("home_clinic"), VIEW)
    if query and resident_id.looks_like(query):
        # the full 18-character number, exactly (a part of one would find other people's)
        patients = patients.filter(id_number=resident_id.normalise(query))
    elif query:
        patients = patients.filter(Q(name__icontains=query) | Q(health_record_no__iexact=query) | Q(phone=query))
    return patients.order_by("id")


def audit_patients_listed(*, user: User, patients, request, interface: str = "api") -> None:
    audit_record_many(actor=user, action="read", objs=patients, interface=interface, request=request)


def patient_get(*, user: User, patient_id, request=None, interface: str = "api", action: str = VIEW) -> Patient:
    """One patient the user may see, audited; NotFound for anything else (ids do not leak)."""
    patient = access_get(user, Patient.objects.select_related("home_clinic"), action, pk=patient_id,
                         not_found="No such patient in your reach.")
    audit_record(actor=user, action="read", obj=patient, interface=interface, request=request)
    return patient
