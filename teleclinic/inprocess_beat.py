"""The embedded default's stand-in for celery beat: a thread that runs periodic tasks in-process.

Every BEAT_SCHEDULE entry that `celery beat` runs on the scaled stack (teleclinic/celery.py gathers
them) runs here on the same interval. BEAT_INTERVAL_SCALE (default 1) multiplies every interval, so a
test can start `manage.py rundemo` and see the timers fire in seconds instead of minutes.
"""
import logging
import os
import threading
import time

from django.db import close_old_connections, connections

log = logging.getLogger(__name__)


def entries() -> list[tuple[str, str, float, tuple]]:
    """(name, task, seconds, args) of every beat entry, its task registered, the interval scaled by env."""
    from teleclinic.celery import app, beat_schedule

    # Celery's autodiscovery is lazy: `app.tasks` alone does not import the apps' tasks modules
    # (a worker imports them when it starts). Without this every lookup raised NotRegistered.
    app.loader.import_default_modules()
    scale = float(os.environ.get("BEAT_INTERVAL_SCALE", "1") or 1)
    found = []
    for name, entry in sorted(beat_schedule().items()):
        if entry["task"] not in app.tasks:
            raise LookupError(f"beat entry {name}: task {entry['task']} is not registered")
        found.append((name, entry["task"], float(entry["schedule"]) * scale, tuple(entry.get("args", ()))))
    return found


def run_once(task: str, args: tuple = ()) -> None:
    """Run one periodic task eagerly in this thread, on a fresh database connection."""
    from teleclinic.celery import app

    close_old_connections()
    try:
        result = app.tasks[task].apply(args=args, throw=True)
        log.info("periodic task %s ran: %r", task, result.result)
    finally:
        connections.close_all()


def start(interval_floor: float = 1.0) -> threading.Thread:
    """Run every BEAT_SCHEDULE entry eagerly in a daemon thread, each every `schedule` seconds."""
    schedule = entries()
    tick = min([interval_floor] + [every for _, _, every, _ in schedule])
    due = {name: time.monotonic() + every for name, _, every, _ in schedule}

    def loop():
        while True:
            now = time.monotonic()
            for name, task, every, args in schedule:
                if now >= due[name]:
                    due[name] = now + every
                    try:
                        run_once(task, args)
                    except Exception:  # a failing timer must not stop the others
                        log.exception("periodic task %s failed", name)
            time.sleep(tick)

    thread = threading.Thread(target=loop, name="inprocess-beat", daemon=True)
    thread.start()
    log.info("in-process beat: %s", ", ".join(f"{task} every {every:g}s" for _, task, every, _ in schedule))
    return thread
