"""The expert's side: start a report, autosave the draft, sign it, amend a signed report."""
import re
import secrets

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from consult.lifecycle import Transition, allows
from consult.locks import lock_consultation
from consult.models import Consultation
from consult.services import do_report, do_start
from directory.access import VIEW, scoped
from directory.models import User
from teleclinic.errors import Conflict, InvalidInput, NotFound, NotPermitted
from teleclinic.events import enqueue_on_commit

from ..kinds import TEMPLATES, clean_content, ecg_template_prefill, empty_draft, missing_to_sign
from ..models import Delivery, Report, ReportVersion
from ..study_inputs import freeze_study_inputs, link_study_ref
from .locks import lock_report

STUDY_REF = re.compile(r"^(ecg:[0-9A-Za-z_-]{1,60}|dicom:[0-9.]{1,64})$")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone


def report_start(*, consultation_id: int, kind: str, by: User, study_ref: str | None = None,
                 measurements: dict | None = None, statements: list[str] | None = None, request=None) -> Report:
    """The assigned expert opens a report of a kind; an ECG draft is prefilled from the measurements
    and the computed preliminary statements."""
    if kind not in TEMPLATES:
        raise InvalidInput(f"Unknown report kind '{kind}'.", code="unknown_kind")
    if study_ref is not None and not STUDY_REF.match(study_ref):
        raise InvalidInput("study_ref must look like 'ecg:<id>' or 'dicom:<StudyInstanceUID>'.")
    measurements = measurements or {}
    with transaction.atomic():
        consultation = lock_consultation(_consultation_for_expert(consultation_id, by).pk)
        if Report.objects.filter(consultation=consultation, kind=kind).exists():
            raise Conflict(f"This consultation already has a {kind} report.", code="report_exists")
        draft = ecg_template_prefill(measurements, statements or []) if kind == Report.Kind.ECG else empty_draft(kind)
        report = Report.objects.create(consultation=consultation, kind=kind, study_ref=study_ref,
                                       measurements=measurements, author=by, draft=draft,
                                       draft_saved_at=timezone.now())
        link_study_ref(report=report)
        if allows(consultation.state, Transition.START):  # a second report of the case: started already
            do_start(consultation=consultation, by=by, request=request, detail={"report": report.pk})
        audit_record(actor=by, action="create", obj=report, interface="api", request=request,
                     consultation_id=consultation.pk, detail={"kind": kind})
    return report


def draft_save(*, report_id: int, by: User, content: dict, request=None) -> Report:
    """Autosave: replaces the draft (partial content keeps the other fields). Signed reports refuse."""
    with transaction.atomic():
        report = _locked_report_for_expert(report_id, by)
        if report.state == Report.State.SIGNED:
            raise Conflict("A signed report is never edited: start an amendment.", code="signed")
        report.draft = clean_content(report.kind, {**report.draft, **content})
        report.draft_saved_at = timezone.now()
        report.save(update_fields=["draft", "draft_saved_at"])
        audit_record(actor=by, action="update", obj=report, interface="api", request=request,
                     consultation_id=report.consultation_id, detail={"draft": True})
    return report


def amendment_start(*, report_id: int, by: User, reason: str, request=None) -> Report:
    """Open a draft of the next version from the latest signed one; signing it records the reason."""
    if not reason.strip():
        raise InvalidInput("An amendment needs a reason the village clinic can read.", code="reason_required")
    with transaction.atomic():
        report = _locked_report_for_expert(report_id, by)
        if report.state != Report.State.SIGNED:
            raise Conflict("Only a signed report is amended; this one is still a draft.", code="not_signed")
        latest = report.versions.get(number=report.latest_version)
        report.state, report.draft, report.draft_reason = Report.State.AMENDING, dict(latest.content), reason.strip()
        report.draft_saved_at = timezone.now()
        report.save(update_fields=["state", "draft", "draft_reason", "draft_saved_at"])
        audit_record(actor=by, action="update", obj=report, interface="api", request=request,
                     consultation_id=report.consultation_id, detail={"amendment": reason.strip()})
    return report


def report_sign(*, report_id: int, by: User, request=None) -> ReportVersion:
    """Freeze the draft as the next signed version and write its outbox row, in one transaction.

    The PDF task starts only after the commit; a rolled-back signature leaves no version,
    no outbox row and no task, so nothing is published.
    """
    with transaction.atomic():
        report = _locked_report_for_expert(report_id, by)
        if report.state == Report.State.SIGNED:
            raise Conflict("Already signed: start an amendment to change it.", code="signed")
        content = clean_content(report.kind, report.draft)
        missing = missing_to_sign(report.kind, content)
        if missing:
            raise InvalidInput(f"Fill in before signing: {', '.join(missing)}.", code="incomplete",
                               extra={"fields": list(missing)})
        version = ReportVersion.objects.create(
            report=report, patient_id=report.consultation.patient_id, number=report.latest_version + 1, content=content, critical=bool(content.get("critical")),
            amendment_reason=report.draft_reason, signed_by=by, signed_at=timezone.now(),
            verification_code=_verification_code())
        freeze_study_inputs(version=version)  # the key images chosen now are this version's, whenever it renders
        report.state, report.latest_version, report.draft, report.draft_reason = Report.State.SIGNED, version.number, {}, ""
        report.save(update_fields=["state", "latest_version", "draft", "draft_reason"])
        Delivery.objects.create(version=version, organisation_id=report.consultation.requesting_org_id,
                                critical=version.critical)
        do_report(consultation=lock_consultation(report.consultation_id), by=by, request=request,
                  detail={"report": report.pk, "signed": version.number})
        audit_record(actor=by, action="create", obj=version, interface="api", request=request,
                     consultation_id=report.consultation_id, detail={"signed": version.number})
        enqueue_on_commit("reports.render_pdf", version.pk)
    return version


def report_lock_for_editing(*, report_id: int, by: User) -> Report:
    """The report locked for its assigned expert to change what it reads (its key images): 404 outside their
    reach, 403 for anyone else, 409 `signed` once signed (an amendment opens it again). Call inside a transaction."""
    report = _locked_report_for_expert(report_id, by)
    if report.state == Report.State.SIGNED:
        raise Conflict("A signed report is never edited: start an amendment.", code="signed")
    return report


def _consultation_for_expert(consultation_id: int, by: User) -> Consultation:
    consultation = scoped(by, Consultation.objects.all(), VIEW).filter(pk=consultation_id).first()
    if consultation is None:
        raise NotFound("No such consultation in your reach.")
    _require_assigned_expert(consultation, by)
    return consultation


def _locked_report_for_expert(report_id: int, by: User) -> Report:
    if not scoped(by, Report.objects.all(), VIEW).filter(pk=report_id).exists():
        raise NotFound("No such report in your reach.")
    report = lock_report(report_id)
    _require_assigned_expert(report.consultation, by)
    return report


def _require_assigned_expert(consultation: Consultation, by: User) -> None:
    expert_user_id = Consultation.objects.filter(pk=consultation.pk).values_list("assigned_expert__user_id", flat=True)[0]
    if expert_user_id is None or expert_user_id != by.id:
        raise NotPermitted("Only the expert assigned to this consultation writes and signs its report.",
                           code="not_assigned")


def _verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
