"""tus uploads: create, append a chunk under the row lock, terminate, purge expired ones."""
import datetime as dt
import hashlib
import os
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from consult.models import Consultation
from directory.access import CHANGE, scoped
from directory.models import Patient, User
from teleclinic.events import enqueue_on_commit, send_event_on_commit

from .. import tus
from ..errors import ChecksumMismatch, InvalidInput, NotFound, TooLarge, UploadConflict, UploadGone
from ..models import Upload
from .storage import partial_path, remove_quietly

READ_CHUNK = 1024 * 1024
PROGRESS_STEP_PERCENT = 5  # push progress at most every 5 % ...
PROGRESS_MIN_INTERVAL = dt.timedelta(seconds=1)  # ... or every second, whichever comes first
OPEN_STATES = (Upload.State.RECEIVING,)
INGEST_TASK = "studies.tasks.ingest_upload_task"


def max_upload_bytes() -> int:
    return settings.STUDIES_MAX_UPLOAD_BYTES


def upload_create(*, by: User, length: int, metadata: dict[str, str], request=None) -> Upload:
    """Creation extension: a declared size above the limit is refused (413) before any byte is sent."""
    if length > max_upload_bytes():
        raise TooLarge(f"The file is {length} bytes; uploads are limited to {max_upload_bytes()} bytes.")
    kind = metadata.get("kind", Upload.Kind.AUTO) or Upload.Kind.AUTO
    if kind not in Upload.Kind.values:
        raise InvalidInput(f"Unknown kind '{kind[:20]}'; use one of {', '.join(Upload.Kind.values)}.", code="bad_kind")
    expected = metadata.get("sha256", "").lower()
    if expected and (len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected)):
        raise InvalidInput("Metadata 'sha256' must be 64 hex digits.", code="bad_checksum")
    with transaction.atomic():
        consultation, patient = _targets(by, metadata, request)
        extra = {k: v[:200] for k, v in metadata.items() if k not in ("filename", "consultation", "patient", "kind")}
        upload = Upload.objects.create(
            owner=by, organisation_id=by.organisation_id, consultation=consultation,
            patient=patient or (consultation.patient if consultation else None), kind=kind,
            filename=tus.safe_filename(metadata.get("filename", "")), metadata=dict(list(extra.items())[:20]),
            length=length, expected_sha256=expected,
            expires_at=timezone.now() + dt.timedelta(seconds=settings.STUDIES_UPLOAD_EXPIRY_SECONDS),
        )
        partial_path(upload.pk).touch()
    if length == 0:
        upload_append(upload_id=upload.pk, by=by, offset=0, body=_Empty(), checksum=None)
        upload.refresh_from_db()
    return upload


def _targets(by: User, metadata: dict, request) -> tuple[Consultation | None, Patient | None]:
    consultation = patient = None
    if metadata.get("consultation"):
        consultation = _one_in_reach(by, Consultation.objects.select_related("patient"), metadata["consultation"],
                                     "consultation")
        audit_record(actor=by, action="read", obj=consultation, interface="api", request=request)
    if metadata.get("patient"):
        patient = _one_in_reach(by, Patient.objects.all(), metadata["patient"], "patient")
        if consultation is not None and consultation.patient_id != patient.pk:
            raise InvalidInput("The patient is not the consultation's patient.", code="patient_mismatch")
    return consultation, patient


def _one_in_reach(by, queryset, value: str, what: str):
    if not value.isdigit():
        raise InvalidInput(f"Metadata '{what}' must be a number.", code=f"bad_{what}")
    row = scoped(by, queryset, CHANGE).filter(pk=int(value)).first()
    if row is None:
        raise NotFound(f"No such {what} in your reach.")
    return row


def upload_get_locked(*, upload_id, by: User) -> Upload:
    """The caller's own upload, row-locked; 404 for anyone else's (ids do not leak). Call inside atomic."""
    upload = Upload.objects.select_for_update().filter(pk=upload_id, owner=by).first()
    if upload is None:
        raise NotFound("No such upload.")
    return upload


def check_open(upload: Upload) -> None:
    if upload.state in (Upload.State.EXPIRED, Upload.State.TERMINATED) or (
            upload.state == Upload.State.RECEIVING and upload.expires_at <= timezone.now()):
        raise UploadGone("This upload has expired or was terminated; start a new one.")


def upload_append(*, upload_id, by: User, offset: int, body: BinaryIO, checksum: tuple[str, bytes] | None) -> Upload:
    """Core PATCH: write the body at `offset` under the row lock, so two PATCHes at one offset cannot both write.

    A checksum mismatch (460) or any error truncates the file back: the offset stays unchanged.
    """
    with transaction.atomic():
        upload = upload_get_locked(upload_id=upload_id, by=by)
        check_open(upload)
        if upload.state != Upload.State.RECEIVING or offset != upload.offset:
            raise UploadConflict(f"Upload-Offset {offset} does not match the server's offset {upload.offset}.")
        written = _write_chunk(upload, body, checksum)
        upload.offset += written
        if upload.offset == upload.length:
            _complete(upload)
        _maybe_send_progress(upload)
        upload.save()
    return upload


def _write_chunk(upload: Upload, body: BinaryIO, checksum: tuple[str, bytes] | None) -> int:
    path = partial_path(upload.pk)
    digest = hashlib.new(checksum[0] if checksum else "sha256")
    written = 0
    with open(path, "r+b") as out:
        out.seek(upload.offset)
        try:
            while chunk := body.read(READ_CHUNK):
                written += len(chunk)
                if upload.offset + written > upload.length:
                    raise InvalidInput("The chunk goes past the declared Upload-Length.", code="past_length")
                digest.update(chunk)
                out.write(chunk)
            if checksum is not None and digest.digest() != checksum[1]:
                raise ChecksumMismatch(f"The chunk's {checksum[0]} does not match Upload-Checksum; send it again.")
        except BaseException:
            out.truncate(upload.offset)
            raise
        out.truncate(upload.offset + written)
        out.flush()
        os.fsync(out.fileno())
    return written


def _complete(upload: Upload) -> None:
    upload.sha256 = _file_sha256(partial_path(upload.pk))
    upload.completed_at = timezone.now()
    if upload.expected_sha256 and upload.expected_sha256 != upload.sha256:
        upload.state = Upload.State.FAILED
        upload.error_code = "sha256_mismatch"
        upload.error_message = ("The file that arrived does not match its sha256; it was damaged on the way. "
                                "Upload it again.")
        remove_quietly(partial_path(upload.pk))
        _send_result(upload)
        return
    upload.state = Upload.State.RECEIVED
    enqueue_on_commit(INGEST_TASK, str(upload.pk))


def _file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(4 * READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _maybe_send_progress(upload: Upload) -> None:
    percent = 100 if upload.length == 0 else int(upload.offset * 100 / upload.length)
    now = timezone.now()
    due = (percent - upload.progress_percent >= PROGRESS_STEP_PERCENT or percent == 100
           or upload.progress_sent_at is None or now - upload.progress_sent_at >= PROGRESS_MIN_INTERVAL)
    if not due or (percent == upload.progress_percent and upload.progress_sent_at is not None):
        return
    upload.progress_percent, upload.progress_sent_at = percent, now
    send_event_on_commit(user_ids=[upload.owner_id], payload={
        "type": "upload.progress", "upload": str(upload.pk), "offset": upload.offset, "length": upload.length,
        "percent": percent})


def _send_result(upload: Upload) -> None:
    send_event_on_commit(user_ids=[upload.owner_id], payload=upload_event(upload))


def upload_event(upload: Upload) -> dict:
    return {"type": f"upload.{upload.state}", "upload": str(upload.pk), "state": upload.state,
            "error": {"code": upload.error_code, "detail": upload.error_message} if upload.error_code else None,
            "result": upload.result or None}


def upload_terminate(*, upload_id, by: User) -> None:
    """Termination extension: the owner abandons an upload; its bytes are deleted."""
    with transaction.atomic():
        upload = upload_get_locked(upload_id=upload_id, by=by)
        if upload.state in (Upload.State.EXPIRED, Upload.State.TERMINATED):
            raise UploadGone("This upload has already ended.")
        if upload.state != Upload.State.RECEIVING:
            raise UploadConflict("This upload is complete; it can no longer be terminated.", code="complete")
        upload.state = Upload.State.TERMINATED
        upload.save(update_fields=["state"])
        transaction.on_commit(lambda: remove_quietly(partial_path(upload.pk)))


def uploads_purge_expired() -> int:
    """Expiration extension: unfinished uploads past their expiry lose their bytes (beat, see schedules.py)."""
    ids = list(Upload.objects.filter(state=Upload.State.RECEIVING, expires_at__lte=timezone.now())
               .order_by("pk").values_list("pk", flat=True)[:500])
    for upload_id in ids:
        with transaction.atomic():
            upload = Upload.objects.select_for_update().get(pk=upload_id)
            if upload.state != Upload.State.RECEIVING:
                continue
            upload.state = Upload.State.EXPIRED
            upload.save(update_fields=["state"])
            transaction.on_commit(lambda pk=upload.pk: remove_quietly(partial_path(pk)))
    return len(ids)


class _Empty:
    def read(self, n=-1):
        return b""
