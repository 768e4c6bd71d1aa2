"""Reads of studies that apply permissions (directory.access) and write the audit log."""
from django.db.models import Q, QuerySet

from audit.services import audit_record, audit_record_many
from consult.models import Consultation
from directory.access import access_get, VIEW, scoped
from directory.models import User
from reports.models import Report

from .errors import NotFound
from .models import EcgRecord, ImagingStudy, Instance, Photo, ReportKeyImage, Series, StudyLink, Upload
from .parsing import ecg_from_npz
from .services.storage import media_path


def _get(user: User, queryset: QuerySet, pk, what: str, request, interface: str):
    row = access_get(user, queryset, pk=pk, not_found=f"No such {what} in your reach.")
    audit_record(actor=user, action="read", obj=row, interface=interface, request=request,
                 consultation_id=getattr(row, "consultation_id", None) or _consultation_of(row))
    return row


def _consultation_of(row) -> int | None:
    study = getattr(row, "study", None) or getattr(getattr(row, "series", None), "study", None)
    return getattr(study, "consultation_id", None)


def upload_get(*, user: User, upload_id) -> Upload:
    """The caller's own upload (status, error, result); 404 for anyone else's."""
    upload = Upload.objects.filter(pk=upload_id, owner=user).first() if _is_uuid(upload_id) else None
    if upload is None:
        raise NotFound("No such upload.")
    return upload


def upload_read(*, user: User, upload_id, request) -> Upload:
    """upload_get for showing the upload's status (its patient, consultation, file name): the read is audited.

    The tus methods call upload_get instead: a chunk of the uploader's own bytes is not a read.
    """
    upload = upload_get(user=user, upload_id=upload_id)
    audit_record(actor=user, action="read", obj=upload, interface="api", request=request)
    return upload


def uploads_read(*, user: User, state: str = "", request, limit: int = 100) -> list[Upload]:
    """The caller's `limit` most recent uploads (upload_list), each read audited."""
    rows = list(upload_list(user=user, state=state)[:limit])
    audit_record_many(actor=user, action="read", objs=rows, interface="api", request=request)
    return rows


def upload_list(*, user: User, state: str = "") -> QuerySet[Upload]:
    """The caller's own uploads, newest first (uploads are never shown to anyone else)."""
    rows = Upload.objects.filter(owner=user)
    if state:
        rows = rows.filter(state=state)
    return rows.order_by("-created_at")


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def ecg_get(*, user: User, ecg_id, request=None, interface: str = "api") -> EcgRecord:
    return _get(user, EcgRecord.objects.select_related("patient"), ecg_id, "ECG", request, interface)


def ecg_signal(record: EcgRecord):
    """The normalised ECG of a record the caller already got through ecg_get."""
    return ecg_from_npz(media_path(record.samples_file).read_bytes(), lead_names=record.lead_names,
                        source_format=record.source_format, device_measurements=record.device_measurements,
                        device_statements=record.device_statements)


def photo_get(*, user: User, photo_id, request=None) -> Photo:
    return _get(user, Photo.objects.all(), photo_id, "photo", request, "api")


def imaging_study_get(*, user: User, study_id, request=None) -> ImagingStudy:
    return _get(user, ImagingStudy.objects.select_related("patient"), study_id, "study", request, "api")


def instance_get(*, user: User, instance_id, request=None, interface: str = "api") -> Instance:
    return _get(user, Instance.objects.select_related("series__study"), instance_id, "instance", request, interface)


def unmatched_studies_read(*, user: User, request, limit: int = 200) -> list[ImagingStudy]:
    """The unmatched studies the caller may file (studies.scopes.unmatched_q), oldest first so that none
    waits forever; with their series and counts, each read audited (they show what the file says
    about a patient)."""
    from django.db.models import Count

    from directory.access import CHANGE

    from .scopes import unmatched_q

    rows = list(ImagingStudy.objects.filter(unmatched_q(user, CHANGE)).select_related("organisation")
                .annotate(n_instances=Count("series__instances")).prefetch_related("series")
                .order_by("created_at", "id")[:limit])
    audit_record_many(actor=user, action="read", objs=rows, interface="api", request=request)
    return rows


def study_list(*, user: User) -> QuerySet[ImagingStudy]:
    return scoped(user, ImagingStudy.objects.select_related("patient"), VIEW)


def series_list(*, user: User) -> QuerySet[Series]:
    return scoped(user, Series.objects.select_related("study__patient"), VIEW)


def instance_list(*, user: User) -> QuerySet[Instance]:
    return scoped(user, Instance.objects.select_related("series__study__patient"), VIEW)


def audit_listed(*, user: User, rows, request, interface: str) -> None:
    audit_record_many(actor=user, action="read", objs=rows, interface=interface, request=request)


def instance_bytes(instance: Instance) -> bytes:
    return media_path(instance.file).read_bytes()


def consultation_study_q(consultation_id: int, prefix: str = "") -> Q:
    """Imaging studies (or rows under one, through `prefix`) of a consultation: filed under it or linked to it."""
    return Q(**{f"{prefix}consultation_id": consultation_id}) | Q(**{f"{prefix}links__consultation_id": consultation_id})


def studies_by_consultation(consultation_ids: list[int]) -> dict[int, list[dict]]:
    """The studies filed under each consultation: ECGs {"type": "ecg", "id", "critical": [finding codes]} and DICOM studies
    {"type": "imaging", "id", "modalities", "description"}, oldest first within each type, as the
    reading page lists them (consultation_studies: an imaging study holding only ECG waveforms is
    its ECG). For the expert's worklist (scheduling), whose rows are in the caller's reach already.
    Two queries, whatever the count."""
    out: dict[int, list[dict]] = {}
    for consultation_id, ecg_id, critical in (EcgRecord.objects.filter(consultation_id__in=consultation_ids)
                                              .order_by("created_at", "id")
                                              .values_list("consultation_id", "id", "critical_findings")):
        out.setdefault(consultation_id, []).append({"type": "ecg", "id": ecg_id,
                                                    "critical": [f.get("code", "") for f in critical or []]})
    imaging: dict[int, dict] = {}
    for consultation_id, study_id, description, modality in (
            Series.objects.filter(study__consultation_id__in=consultation_ids, instances__ecg__isnull=True)
            .order_by("study__created_at", "study_id", "series_number", "id")
            .values_list("study__consultation_id", "study_id", "study__description", "modality").distinct()):
        if study_id not in imaging:
            imaging[study_id] = {"type": "imaging", "id": study_id, "modalities": [], "description": description}
            out.setdefault(consultation_id, []).append(imaging[study_id])
        if modality and modality not in imaging[study_id]["modalities"]:
            imaging[study_id]["modalities"].append(modality)
    for consultation_id, study_id in (StudyLink.objects.filter(consultation_id__in=consultation_ids)
                                      .values_list("consultation_id", "study_id")):  # the same images sent again
        row = _imaging_row(study_id)
        if row is not None:
            out.setdefault(consultation_id, []).append(row)
    return out


def _imaging_row(study_id: int) -> dict | None:
    rows = (Series.objects.filter(study_id=study_id, instances__ecg__isnull=True).order_by("series_number", "id")
            .values_list("study__description", "modality").distinct())
    if not rows:
        return None
    return {"type": "imaging", "id": study_id, "modalities": list(dict.fromkeys(m for _, m in rows if m)),
            "description": rows[0][0]}


def consultation_studies(*, user: User, consultation_id, request=None) -> list[dict]:
    """What was uploaded for reading in one consultation, newest first: its ECGs and imaging studies.

    An imaging study that holds only ECG waveforms is listed once, as its ECG. 404 unless the caller
    may see the consultation; every listed row is written to the audit log.
    """
    consultation = access_get(user, Consultation.objects.all(), pk=consultation_id,
                              not_found="No such consultation in your reach.")
    ecgs = list(scoped(user, EcgRecord.objects.filter(consultation=consultation), VIEW))
    studies = list(scoped(user, ImagingStudy.objects.filter(consultation_study_q(consultation.pk)), VIEW)
                   .filter(series__instances__ecg__isnull=True).distinct())
    audit_record_many(actor=user, action="read", objs=[*ecgs, *studies], interface="api", request=request)
    rows = [{"type": "ecg", "id": e.pk, "created_at": e.created_at} for e in ecgs]
    rows += [{"type": "imaging", "id": s.pk, "created_at": s.created_at,
              "study_instance_uid": s.study_instance_uid} for s in studies]
    return sorted(rows, key=lambda row: row["created_at"], reverse=True)


def report_key_images_read(*, user: User, report_id, request=None) -> list[ReportKeyImage]:
    """The key images picked for a report in the caller's reach, in the PDF's order (a read of the report)."""
    report = _get(user, Report.objects.all(), report_id, "report", request, "api")
    return list(ReportKeyImage.objects.filter(report=report).select_related("instance__series"))
