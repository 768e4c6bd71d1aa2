"""Writing the audit log. Every interface that reads or writes patient data calls these."""
from typing import Iterable

from django.db.models import Model

from .models import AuditEvent


def client_ip(request) -> str | None:
    """The peer address (behind the proxy, its X-Forwarded-For is trusted only when configured)."""
    if request is None:
        return None
    meta = getattr(request, "META", {})
    return meta.get("REMOTE_ADDR") or None


def _ids_of(obj: Model) -> tuple[int | None, int | None]:
    """(patient_id, consultation_id) of an object, by the fields it carries."""
    type_name = type(obj).__name__
    if type_name == "Patient":
        return obj.pk, None
    if type_name == "Consultation":
        return obj.patient_id, obj.pk
    consultation_id = getattr(obj, "consultation_id", None)
    patient_id = getattr(obj, "patient_id", None)
    return patient_id, consultation_id


def audit_record(*, actor, action: str, obj: Model, interface: str, request=None, detail: dict | None = None,
                 consultation_id: int | None = None) -> AuditEvent:
    patient_id, own_consultation = _ids_of(obj)
    return AuditEvent.objects.create(**_row(actor, action, obj, interface, request, detail, patient_id,
                                            consultation_id or own_consultation))


def audit_record_many(*, actor, action: str, objs: Iterable[Model], interface: str, request=None,
                      detail: dict | None = None, ids_of=None, detail_of=None) -> None:
    """One row per object read (a listing shows each patient to the reader), in one INSERT. `ids_of(obj)` gives
    (patient_id, consultation_id) for objects that reach them through a relation (a report version);
    `detail_of(obj)`, if given, each row's own detail instead of `detail`."""
    rows = []
    for obj in objs:
        patient_id, consultation_id = (ids_of or _ids_of)(obj)
        own = detail_of(obj) if detail_of is not None else detail
        rows.append(AuditEvent(**_row(actor, action, obj, interface, request, own, patient_id, consultation_id)))
    AuditEvent.objects.bulk_create(rows)


def _row(actor, action, obj, interface, request, detail, patient_id, consultation_id) -> dict:
    return dict(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_username=getattr(actor, "username", "") or "anonymous",
        action=action,
        object_type=type(obj).__name__,
        object_id=str(obj.pk),
        patient_id=patient_id,
        consultation_id=consultation_id,
        ip=client_ip(request),
        interface=interface,
        detail=detail or {},
    )
