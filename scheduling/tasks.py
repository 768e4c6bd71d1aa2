"""Celery tasks of scheduling: ids in, one service call, retried on transient database errors, safe twice."""
from celery import shared_task
from django.db import OperationalError

from . import services

RETRY = dict(autoretry_for=(OperationalError,), retry_backoff=2, retry_backoff_max=60, max_retries=5)


@shared_task(name="scheduling.expire_assignment", **RETRY)
def expire_assignment(assignment_id: int) -> bool:
    """Due when an offer lapses; a no-op if the expert answered first (status guard in the service)."""
    return services.assignment_expire(assignment_id=assignment_id)


@shared_task(name="scheduling.sweep_expired_assignments", **RETRY)
def sweep_expired_assignments() -> int:
    return services.assignments_sweep()


@shared_task(name="scheduling.release_reserved_slots", **RETRY)
def release_reserved_slots() -> int:
    return services.reserved_slots_release()


@shared_task(name="scheduling.generate_sessions", **RETRY)
def generate_sessions() -> int:
    return services.rosters_generate_all()
