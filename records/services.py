"""Writes of the patient record: a break-glass read, a study attached to a later consultation. Audited."""
import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from directory.access import VIEW, STAFF, access_get
from directory.models import Patient, User
from studies.models import EcgRecord, ImagingStudy
from teleclinic.errors import Conflict, DomainError, InvalidInput, NotFound
from teleclinic.events import send_event_on_commit

from . import selectors
from .models import AttachedStudy, BreakGlassGrant

REASON_MIN, REASON_MAX = 4, 1000


def _coordinators(community_id: int) -> list[int]:
    return list(User.objects.filter(role=User.Role.COORDINATOR, organisation__community_id=community_id,
                                    is_active=True).values_list("id", flat=True))


@transaction.atomic
def break_glass(*, by: User, patient_id, reason: str, request=None) -> BreakGlassGrant:
    """An emergency read (紧急调阅) of a record of the reader's community that is out of their reach: it asks
    for a reason, opens the record for RECORD_BREAK_GLASS_HOURS, is audited and flagged to coordinators."""
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise InvalidInput(f"reason: say why, in {REASON_MIN} to {REASON_MAX} characters.", code="reason_required")
    if by.role not in STAFF or by.organisation_id is None:
        raise NotFound(selectors.NOT_FOUND)
    _check_break_glass_limit(by)
    community_id = by.organisation.community_id
    try:
        patient = Patient.objects.select_related("home_clinic").get(pk=patient_id,
                                                                   home_clinic__community_id=community_id)
    except (Patient.DoesNotExist, ValueError, TypeError):
        raise NotFound(selectors.NOT_FOUND)  # other communities' patients, as those that do not exist
    expires_at = timezone.now() + dt.timedelta(hours=settings.RECORD_BREAK_GLASS_HOURS)
    grant = BreakGlassGrant.objects.create(user=by, patient=patient, reason=reason, expires_at=expires_at)
    audit_record(actor=by, action="create", obj=grant, interface="api", request=request,
                 detail={"break_glass": True, "reason": reason, "expires_at": expires_at.isoformat()})
    send_event_on_commit(user_ids=_coordinators(community_id), payload={
        "type": "record.break_glass", "grant": grant.pk, "patient": patient.pk, "patient_name": patient.name,
        "user": str(by), "reason": reason, "expires_at": expires_at.isoformat()})
    return grant


class BreakGlassLimited(DomainError):
    status, code = 429, "break_glass_limit"


def _check_break_glass_limit(by: User) -> None:
    """At most RECORD_BREAK_GLASS_PER_DAY grants per user in 24 hours. The user's row lock makes two
    requests at once count one after the other. Checked before the patient is looked up: no oracle."""
    User.objects.select_for_update().filter(pk=by.pk).first()
    cap = settings.RECORD_BREAK_GLASS_PER_DAY
    since = timezone.now() - dt.timedelta(hours=24)
    if BreakGlassGrant.objects.filter(user=by, created_at__gte=since).count() >= cap:
        raise BreakGlassLimited(f"You opened {cap} records in an emergency in the last 24 hours, the most allowed; "
                                "ask a coordinator of your community.")


def _study(by: User, patient: Patient, study_ref: str):
    kind, _, key = (study_ref or "").partition(":")
    model = {"ecg": EcgRecord, "imaging": ImagingStudy}.get(kind)
    if model is None or not key.isascii() or not key.isdigit():
        raise InvalidInput('study: "ecg:<id>" or "imaging:<id>".', code="bad_study")
    study = access_get(by, model._default_manager.all(), VIEW, pk=int(key), not_found="No such study in your reach.")
    if study.patient_id != patient.pk:
        raise NotFound("No such study in your reach.")  # another patient's study is no study of this record
    return kind, study


@transaction.atomic
def attach_study(*, by: User, consultation_id, study_ref: str, request=None) -> AttachedStudy:
    """Attach a study of the record to a consultation of the same patient instead of repeating it (检查结果互认).

    Who may change the consultation (its requesting clinic) may attach a study they may see."""
    consultation = selectors.consultation_for_change(user=by, consultation_id=consultation_id)
    if consultation.state in ("closed", "cancelled"):
        raise Conflict("The consultation is closed: nothing can be attached to it.", code="consultation_closed")
    kind, study = _study(by, consultation.patient, study_ref)
    if study.consultation_id == consultation.pk:
        raise Conflict("The study already belongs to this consultation.", code="already_attached")
    try:
        with transaction.atomic():
            row = AttachedStudy.objects.create(consultation=consultation, attached_by=by,
                                               **{"ecg" if kind == "ecg" else "imaging_study": study})
    except IntegrityError:
        raise Conflict("The study is attached to this consultation already.", code="already_attached")
    audit_record(actor=by, action="create", obj=row, interface="api", request=request,
                 consultation_id=consultation.pk, detail={"attached": study_ref,
                                                          "from_consultation": study.consultation_id})
    return row
