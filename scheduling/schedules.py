"""Periodic scheduling work for celery beat (schedule in seconds)."""
BEAT_SCHEDULE = {
    # The safety net behind each offer's own timer task: a timer lost with a dead worker (or
    # redelivered late) is caught within 30 s, well inside the 2-minute stat offer window.
    "scheduling-sweep-expired-assignments": {"task": "scheduling.sweep_expired_assignments", "schedule": 30.0},
    # Reserved numbers open "24 h before" the session: a minute late is invisible to a clinic,
    # and one indexed UPDATE a minute costs nothing.
    "scheduling-release-reserved-slots": {"task": "scheduling.release_reserved_slots", "schedule": 60.0},
    # The rolling window moves by a day; hourly keeps it full even after a missed run or a new roster.
    "scheduling-generate-sessions": {"task": "scheduling.generate_sessions", "schedule": 3600.0},
}
