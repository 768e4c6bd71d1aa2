"""Periodic tasks of the studies app (gathered by teleclinic.celery)."""
BEAT_SCHEDULE = {
    # Expired tus uploads hold disk space until purged; uploads expire after a day, so a
    # ten-minute sweep frees space promptly without costing anything noticeable.
    "studies-purge-expired-uploads": {"task": "studies.tasks.purge_expired_uploads", "schedule": 600.0},
    # An upload received but not ingested past STUDIES_INGEST_STALE_SECONDS lost its task (a
    # killed worker's task returns from Redis only after the hour-long visibility timeout; a
    # Redis restart loses queued ones): every minute bounds that delay to about three minutes.
    "studies-sweep-stalled-ingests": {"task": "studies.tasks.sweep_stalled_ingests", "schedule": 60.0},
}
