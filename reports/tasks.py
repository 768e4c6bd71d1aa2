"""Celery tasks of the reports app: ids in, one service call, retried on transient errors, safe twice."""
from celery import shared_task
from django.db import OperationalError
from smtplib import SMTPException

TRANSIENT = (OperationalError, ConnectionError, TimeoutError, SMTPException)
RETRY = dict(autoretry_for=TRANSIENT, retry_backoff=2, retry_backoff_max=60, max_retries=8)


@shared_task(name="reports.render_pdf", **RETRY)
def render_pdf(version_id: int) -> bool:
    from .services.delivery import version_render_pdf

    return version_render_pdf(version_id=version_id)


@shared_task(name="reports.deliver", **RETRY)
def deliver(delivery_id: int) -> bool:
    from .services.delivery import delivery_deliver

    return delivery_deliver(delivery_id=delivery_id)


@shared_task(name="reports.sweep_outbox")
def sweep_outbox() -> int:
    from .services.delivery import deliveries_sweep

    return deliveries_sweep()


@shared_task(name="reports.escalate_critical")
def escalate_critical() -> int:
    from .services.delivery import critical_escalate_overdue

    return critical_escalate_overdue()
