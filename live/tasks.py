"""Celery tasks of live rooms: thin, ids in, one service call, safe to run twice."""
import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import OperationalError

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=3, soft_time_limit=settings.STUDIES_INGEST_SOFT_TIME_LIMIT,
             time_limit=settings.STUDIES_INGEST_SOFT_TIME_LIMIT + 30)
def ecg_stream_save_task(self, stream_id: int) -> None:
    """An ended live ECG -> an ECG study (measured like an upload), within the ingest's time budget."""
    from .services.ecg import ecg_stream_save, ecg_stream_save_failed

    try:
        ecg_stream_save(stream_id=stream_id)
    except OperationalError as exc:  # database restarting: try again shortly
        raise self.retry(exc=exc, countdown=5)
    except SoftTimeLimitExceeded:
        ecg_stream_save_failed(stream_id=stream_id, code="too_slow",
                               message="Measuring this ECG took too long; its samples are kept but no study was made.")
    except Exception:  # a bug must still leave the room a clear state, and the worker carries on
        log.exception("saving live ECG stream %s failed", stream_id)
        ecg_stream_save_failed(stream_id=stream_id, code="save_failed",
                               message="This ECG could not be saved because of an error on our side; it has been logged.")


@shared_task
def sweep_ecg_streams() -> int:
    from .services.ecg import ecg_streams_sweep

    return ecg_streams_sweep()


@shared_task
def open_rooms_of_booked_slots() -> int:
    from .services.slot_rooms import rooms_open_for_booked_slots

    return len(rooms_open_for_booked_slots())
