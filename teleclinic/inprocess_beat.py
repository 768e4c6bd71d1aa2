"""The embedded default's stand-in for celery beat: a thread that runs periodic tasks in-process."""
import logging
import threading
import time

log = logging.getLogger(__name__)


def start(interval_floor: float = 1.0) -> threading.Thread:
    """Run every BEAT_SCHEDULE entry (schedule in seconds) eagerly in a daemon thread."""
    from teleclinic.celery import app, beat_schedule

    entries = [(name, entry["task"], float(entry["schedule"]), entry.get("args", ()))
               for name, entry in beat_schedule().items()]
    due = {name: time.monotonic() + every for name, _, every, _ in entries}

    def loop():
        while True:
            now = time.monotonic()
            for name, task, every, args in entries:
                if now >= due[name]:
                    due[name] = now + every
                    try:
                        app.tasks[task].apply(args=args)
                    except Exception:  # a failing timer must not stop the others
                        log.exception("periodic task %s failed", name)
            time.sleep(interval_floor)

    thread = threading.Thread(target=loop, name="inprocess-beat", daemon=True)
    thread.start()
    return thread
