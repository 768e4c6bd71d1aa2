"""Celery tasks of the studies app: thin, ids in, one service call, safe to run twice."""
import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import OperationalError

from .limits import address_space_budget

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=3, soft_time_limit=settings.STUDIES_INGEST_SOFT_TIME_LIMIT,
             time_limit=settings.STUDIES_INGEST_SOFT_TIME_LIMIT + 30)
def ingest_upload_task(self, upload_id: str) -> None:
    from .services.ingest import ingest_upload, upload_fail

    budget = None if self.request.is_eager else settings.STUDIES_INGEST_MEMORY_MB * 1024 * 1024
    try:
        with address_space_budget(budget):
            ingest_upload(upload_id=upload_id)
    except OperationalError as exc:  # database restarting: try again shortly
        raise self.retry(exc=exc, countdown=5)
    except MemoryError:
        upload_fail(upload_id=upload_id, code="too_much_memory",
                    message="Reading this file needed more memory than allowed; it is refused. "
                            "Send it uncompressed or split it.")
    except SoftTimeLimitExceeded:
        upload_fail(upload_id=upload_id, code="too_slow",
                    message="Reading this file took too long; it is refused. Check that it is a normal export.")
    except Exception:  # a bug must still leave the uploader a clear state, and the worker carries on
        log.exception("ingest of upload %s failed", upload_id)
        upload_fail(upload_id=upload_id, code="ingest_failed",
                    message="This file could not be processed because of an error on our side; it has been "
                            "logged. Try again later or send it another way.")


@shared_task
def sweep_stalled_ingests() -> int:
    from .services.ingest import uploads_ingest_stalled

    return uploads_ingest_stalled()


@shared_task
def purge_expired_uploads() -> int:
    from .services.uploads import uploads_purge_expired

    return uploads_purge_expired()
