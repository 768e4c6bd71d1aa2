"""Periodic tasks of live rooms (gathered by teleclinic.celery)."""
BEAT_SCHEDULE = {
    # A live ECG whose sender vanished (page closed, the process replaying it killed) stays "live"
    # until someone notices: every 30 s ends those silent for LIVE_ECG_IDLE_SECONDS (60) and saves
    # them, and re-queues a save lost with a worker. One indexed query when there is nothing to do.
    "live-sweep-ecg-streams": {"task": "live.tasks.sweep_ecg_streams", "schedule": 30.0},
    # A booked live consultation's room opens LIVE_ROOM_OPEN_BEFORE_SECONDS (300) before its slot:
    # a run every 30 s opens it 4.5 to 5 minutes ahead; one query when nothing is due.
    "live-open-rooms-of-booked-slots": {"task": "live.tasks.open_rooms_of_booked_slots", "schedule": 30.0},
}
