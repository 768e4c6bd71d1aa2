"""Periodic tasks of live rooms (gathered by teleclinic.celery)."""
BEAT_SCHEDULE = {
    # A live ECG whose sender vanished (page closed, the process replaying it killed) stays "live"
    # until someone notices: every 30 s ends those silent for LIVE_ECG_IDLE_SECONDS (60) and saves
    # them, and re-queues a save lost with a worker. One indexed query when there is nothing to do.
    "live-sweep-ecg-streams": {"task": "live.tasks.sweep_ecg_streams", "schedule": 30.0},
}
