"""Periodic tasks of the reports app (gathered by teleclinic/celery.py; schedule in seconds)."""
BEAT_SCHEDULE = {
    # The outbox sweeper: a row pending past REPORTS_DELIVERY_STALE_SECONDS (30 s) had its task
    # lost (a killed worker's task returns from Redis only after the visibility timeout), so
    # every 15 s bounds a signed report's extra delay to under a minute.
    "reports-sweep-outbox": {"task": "reports.sweep_outbox", "schedule": 15.0},
    # 危急值: the acknowledgement limit is minutes (REPORTS_CRITICAL_ACK_MINUTES); checking every
    # 30 s escalates within half a minute of it. Idempotent: escalated_at is set once.
    "reports-escalate-critical": {"task": "reports.escalate_critical", "schedule": 30.0},
}
