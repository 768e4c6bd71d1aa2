"""Ingest of an upload (tus): parse it, store the original and index it (DICOM through dicom_store, ECGs
through ecg_store), and tell its uploader.

Order of work, so that nothing is ever half-stored:
1. parse in memory (formats library, no database);
2. one transaction under the upload's row lock: rows are created and files written last
   (each renamed into place); any error rolls the rows back and deletes the files;
3. on failure, a separate transaction records the error on the upload for the uploader.
Safe to run twice: the upload's state is the guard, SOP Instance UID the unique key.
"""
import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from teleclinic.events import enqueue_on_commit, send_event_on_commit

from ..errors import InvalidStudy
from ..formats.errors import FormatError
from ..models import Photo, Upload
from ..parsing import ParsedDicom, ParsedOther, parse_upload
from . import notify
from .dicom_store import ecg_of, ingest_dicom_batch, ingest_dicom_bytes, store_dicom
from .ecg_store import ecg_measure, ecg_signal_store, store_ecg
from .sources import Source, Stored, limits, once_more_on_race, patient_sex, refusal_audit, thresholds
from .storage import FileBatch, files_or_nothing, new_name, partial_path, remove_quietly
from .uploads import INGEST_TASK, upload_event


def ingest_upload(*, upload_id) -> Upload:
    """Ingest a completed upload (state RECEIVED); anything else is left alone (safe to run twice)."""
    upload = Upload.objects.select_related("owner", "consultation", "patient").get(pk=upload_id)
    if upload.state != Upload.State.RECEIVED:
        return upload
    try:
        data = partial_path(upload.pk).read_bytes()
    except FileNotFoundError:  # a concurrent run of this task finished first and removed the bytes
        return Upload.objects.get(pk=upload.pk)
    try:
        parsed = parse_upload(data, kind=upload.kind, limits=limits(), thresholds=thresholds(),
                              sex=patient_sex(upload.patient or (upload.consultation.patient if upload.consultation
                                                                  else None)))
        once_more_on_race(lambda: _store_upload(upload_id=upload.pk, parsed=parsed))
    except FormatError as exc:
        upload_fail(upload_id=upload.pk, code=exc.code, message=exc.message)
    except InvalidStudy as exc:
        upload_fail(upload_id=upload.pk, code=exc.code, message=exc.message)
        refusal_audit(source=Source(by=upload.owner, organisation=upload.owner.organisation), error=exc)
    return Upload.objects.get(pk=upload.pk)


def uploads_ingest_stalled(*, stale_after_s: float | None = None, limit: int = 500) -> int:
    """Re-start the ingest of uploads received but not ingested after a while; safe any time.

    A worker killed mid-ingest leaves its task in Redis's unacknowledged set until the broker's
    visibility timeout (an hour), and a task lost with the broker is never run: without this
    sweep an acknowledged upload would wait that long, or forever. A duplicate run is a no-op
    (the upload's state is the guard).
    """
    stale = settings.STUDIES_INGEST_STALE_SECONDS if stale_after_s is None else stale_after_s
    cutoff = timezone.now() - dt.timedelta(seconds=stale)
    ids = list(Upload.objects.filter(state=Upload.State.RECEIVED, completed_at__lte=cutoff)
               .order_by("completed_at").values_list("pk", flat=True)[:limit])
    for upload_id in ids:
        enqueue_on_commit(INGEST_TASK, str(upload_id))
    return len(ids)


def upload_fail(*, upload_id, code: str, message: str) -> None:
    """Record a clear error on the upload for its owner; its bytes are deleted, nothing else was stored."""
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload_id)
        if upload.state in (Upload.State.INGESTED, Upload.State.FAILED):
            return
        upload.state, upload.error_code, upload.error_message = Upload.State.FAILED, code[:40], message
        upload.ingested_at = timezone.now()
        upload.save(update_fields=["state", "error_code", "error_message", "ingested_at"])
        send_event_on_commit(user_ids=[upload.owner_id], payload=upload_event(upload))
        transaction.on_commit(lambda: remove_quietly(partial_path(upload_id)))


def _store_upload(*, upload_id, parsed: ParsedDicom | ParsedOther) -> None:
    with files_or_nothing() as files, transaction.atomic():
        upload = (Upload.objects.select_for_update(of=("self",)).select_related("owner__organisation", "consultation__patient", "patient").get(pk=upload_id))
        if upload.state != Upload.State.RECEIVED:
            return
        source = Source(by=upload.owner, organisation=upload.owner.organisation, consultation=upload.consultation,
                        patient=upload.patient)
        ready = None
        if isinstance(parsed, ParsedDicom):
            stored = store_dicom(parsed=parsed, source=source, files=files)
            instance, created = stored.instance, stored.created
            study = instance.series.study
            upload.result = {"type": "dicom", "study": study.study_instance_uid, "study_id": study.pk,
                             "series": instance.series.series_instance_uid, "instance": instance.sop_instance_uid,
                             "duplicate": not created, "unmatched": study.patient_id is None}
            ecg = stored.ecg if created or stored.linked else ecg_of(instance, upload.consultation_id)
            if ecg is not None:
                upload.result.update(type="ecg", id=ecg.pk)
            if stored.linked:
                upload.result["linked"] = True
            ready = (ecg or (study if stored.study_created or stored.linked else None)) if created or stored.linked \
                else None
        elif parsed.ecg is not None:
            ecg = store_ecg(parsed=parsed.ecg, original=parsed.stored_bytes, source=source, files=files, upload=upload)
            upload.result, ready = {"type": "ecg", "id": ecg.pk}, ecg
        else:
            photo = _store_photo(parsed=parsed, source=source, files=files, upload=upload)
            upload.result, ready = {"type": "photo", "id": photo.pk}, photo
        upload.state, upload.ingested_at = Upload.State.INGESTED, timezone.now()
        upload.save(update_fields=["state", "result", "ingested_at"])
        audit_record(actor=upload.owner, action="create", obj=upload, interface="api", detail=upload.result,
                     consultation_id=upload.consultation_id)
        send_event_on_commit(user_ids=[upload.owner_id], payload=upload_event(upload))
        if ready is not None and not isinstance(ready, Photo):
            notify.study_ready(ready, consultation=upload.consultation)
        transaction.on_commit(lambda: remove_quietly(partial_path(upload_id)))


def _store_photo(*, parsed: ParsedOther, source: Source, files: FileBatch, upload: Upload) -> Photo:
    patient = source.patient or (source.consultation.patient if source.consultation else None)
    if patient is None:
        raise InvalidStudy("A photo must be uploaded for a patient or within a consultation.", code="patient_unknown")
    name = new_name("photo", "jpg" if parsed.media_type == "image/jpeg" else "png")
    photo = Photo.objects.create(patient=patient, consultation=source.consultation, upload=upload, file=name,
                                 media_type=parsed.media_type, size=len(parsed.stored_bytes))
    files.write(name, parsed.stored_bytes)
    return photo



# The parts split out (dicom_store, ecg_store, sources), named here too: ingest is where callers look for them.
__all__ = ["Source", "Stored", "ecg_measure", "ecg_signal_store", "ingest_dicom_batch", "ingest_dicom_bytes",
           "ingest_upload", "limits", "once_more_on_race", "store_dicom", "store_ecg", "thresholds", "upload_fail",
           "uploads_ingest_stalled"]
