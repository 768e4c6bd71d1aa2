"""Writes to consultations: one function per use case, each owning its transaction.

The lifecycle (consult/lifecycle.py) changes only here: one `do_*` per transition, each audited
once, called by scheduling, reports and studies holding the consultation's row lock
(consult.locks.lock_consultation) inside their own transaction.
"""
import datetime as dt
from types import SimpleNamespace

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from directory.access import CHANGE
from directory.models import Specialty, User
from directory.selectors import patient_get
from teleclinic.errors import InvalidInput, NotPermitted
from teleclinic.events import send_event_on_commit

from . import signals
from .lifecycle import Transition, check_transition
from .models import Consultation, Urgency

SYSTEM = SimpleNamespace(username="system:consult", is_authenticated=False)


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
        signals.consultation_requested.send(sender=Consultation, consultation=consultation)
    consultation.refresh_from_db()
    return consultation


def _do_transition(consultation: Consultation, transition: str, *, by, interface: str, request=None,
                   fields: dict | None = None, detail: dict | None = None) -> Consultation:
    """Move the consultation along one transition of the table, or TransitionRefused (nothing written)."""
    target = check_transition(consultation, transition)
    before, fields = consultation.state, fields or {}
    consultation.state = target
    for name, value in fields.items():
        setattr(consultation, name, value)
    consultation.save(update_fields=["state", *fields, "updated_at"])
    audit_record(actor=by or SYSTEM, action="update", obj=consultation, interface=interface, request=request,
                 detail={"transition": str(transition), "state": [before, target], **(detail or {})})
    return consultation


def do_offer(*, consultation: Consultation, detail: dict, by=None, interface: str = "task") -> Consultation:
    """An offer to an expert is open (detail names it). Call holding the consultation's row lock."""
    return _do_transition(consultation, Transition.OFFER, by=by, interface=interface, detail=detail)


def do_escalate(*, consultation: Consultation, reason: str, by=None, interface: str = "task") -> Consultation:
    """Nobody on duty took it: the coordinators have it. Call holding the consultation's row lock."""
    return _do_transition(consultation, Transition.ESCALATE, by=by, interface=interface, detail={"reason": reason})


def do_assign(*, consultation: Consultation, expert_id: int, at: dt.datetime, due_at: dt.datetime | None, by,
              detail: dict, request=None, interface: str = "api") -> Consultation:
    """An expert holds the case (an accepted offer, or a coordinator's choice). Call holding the row lock."""
    return _do_transition(consultation, Transition.ASSIGN, by=by, interface=interface, request=request,
                          fields={"assigned_expert_id": expert_id, "assigned_at": at, "due_at": due_at},
                          detail={"expert": expert_id, **detail})


def do_book(*, consultation: Consultation, expert_id: int, at: dt.datetime, due_at: dt.datetime, by,
            detail: dict, request=None, interface: str = "api") -> Consultation:
    """Booked into a cloud-clinic slot: the session's expert holds it, due at the slot's end. Call holding the row lock.
    The requester's console is told on commit (consultation.booked): every window of it shows the expert."""
    _do_transition(consultation, Transition.BOOK, by=by, interface=interface, request=request,
                   fields={"assigned_expert_id": expert_id, "assigned_at": at, "due_at": due_at},
                   detail={"expert": expert_id, **detail})
    send_event_on_commit(user_ids=[consultation.requested_by_id], payload={
        "type": "consultation.booked", "consultation": consultation.pk, "state": consultation.state})
    return consultation


def do_start(*, consultation: Consultation, by, detail: dict, request=None, interface: str = "api") -> Consultation:
    """The expert started a report. Call holding the consultation's row lock. The requester's console
    is told on commit (consultation.started), as it is of an offer and of the report."""
    _do_transition(consultation, Transition.START, by=by, interface=interface, request=request, detail=detail)
    send_event_on_commit(user_ids=[consultation.requested_by_id], payload={
        "type": "consultation.started", "consultation": consultation.pk, "state": consultation.state})
    return consultation


def do_report(*, consultation: Consultation, by, detail: dict, request=None, interface: str = "api") -> Consultation:
    """A report version was signed. Call holding the consultation's row lock."""
    return _do_transition(consultation, Transition.REPORT, by=by, interface=interface, request=request, detail=detail,
                          fields={"ended_at": consultation.ended_at or timezone.now()})


def do_close(*, consultation: Consultation, by, detail: dict, request=None, interface: str = "api") -> Consultation:
    """The clinic acknowledged the latest signed version. Call holding the consultation's row lock."""
    return _do_transition(consultation, Transition.CLOSE, by=by, interface=interface, request=request, detail=detail,
                          fields={"ended_at": consultation.ended_at or timezone.now()})


def do_raise_to_stat(*, consultation: Consultation, reason: str, by=None, interface: str = "task",
                     detail: dict | None = None) -> bool:
    """A critical finding: urgency becomes stat (audited, once) and `signals.raised_to_stat` tells the
    apps that route the case (scheduling re-sends an open offer, tells the expert, or offers it now).
    Call holding the consultation's row lock. False if it was stat already (nothing written)."""
    changed = consultation.urgency != Urgency.STAT
    if changed:
        before, consultation.urgency = consultation.urgency, Urgency.STAT
        consultation.save(update_fields=["urgency", "updated_at"])
        audit_record(actor=by or SYSTEM, action="update", obj=consultation, interface=interface,
                     detail={"urgency": [before, Urgency.STAT], "reason": reason, **(detail or {})})
    signals.raised_to_stat.send(sender=Consultation, consultation=consultation, reason=reason, changed=changed)
    return changed
