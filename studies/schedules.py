"""Periodic tasks of the studies app (gathered by teleclinic.celery)."""
BEAT_SCHEDULE = {
    # Expired tus uploads hold disk space until purged; uploads expire after a day, so a
    # ten-minute sweep frees space promptly without costing anything noticeable.
    "studies-purge-expired-uploads": {"task": "studies.tasks.purge_expired_uploads", "schedule": 600.0},
}
