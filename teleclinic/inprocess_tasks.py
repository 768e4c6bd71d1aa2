"""The embedded default's stand-in for a Celery worker: one thread that runs the tasks services enqueue.

Without it, Celery's eager mode runs a task inside the request whose commit enqueued it: an upload's
PATCH was answered only after its whole ingest (seconds for a CT, on the village doctor's link), and
the ingest's events reached the page before the upload's own answer. `manage.py rundemo` starts this
worker beside the in-process beat; code and tests that do not start it keep eager mode's inline run.

One thread, so tasks run one at a time, in order, as on a single-process worker (SQLite's one writer
is not fought over). A task due later (`eta`) waits on a timer. A failed task is logged; its sweep in
beat starts it again, as on the scaled stack.
"""
import datetime as dt
import logging
import queue
import threading

from django.db import close_old_connections, connections
from django.utils import timezone

log = logging.getLogger(__name__)

_STOP = object()
_queue: queue.Queue | None = None


def running() -> bool:
    return _queue is not None


def submit(task, args: tuple, *, eta: dt.datetime | None = None) -> None:
    """Run `task(*args)` on the worker thread, at `eta` if it is later than now."""
    jobs = _queue
    if jobs is None:
        raise RuntimeError("the in-process worker is not running")
    delay = (eta - timezone.now()).total_seconds() if eta is not None else 0.0
    if delay > 0:
        timer = threading.Timer(delay, jobs.put, args=[(task, tuple(args))])
        timer.daemon = True
        timer.start()
    else:
        jobs.put((task, tuple(args)))


def _run(task, args: tuple) -> None:
    close_old_connections()
    try:
        task.apply(args=args, throw=True)
    except Exception:  # noqa: BLE001 - a failing task must not stop the worker
        log.exception("task %s%r failed; beat's sweep will start it again", task.name, args)
    finally:
        connections.close_all()


def start() -> threading.Thread:
    """Start the worker thread (a daemon: it ends with the process)."""
    global _queue
    jobs: queue.Queue = queue.Queue()

    def loop():
        while (job := jobs.get()) is not _STOP:
            _run(*job)

    thread = threading.Thread(target=loop, name="inprocess-tasks", daemon=True)
    thread.start()
    _queue = jobs
    log.info("in-process worker: tasks run in their own thread, after the request that enqueued them")
    return thread


def stop(thread: threading.Thread, timeout: float = 30) -> None:
    """Stop taking tasks, let the queued ones finish, and end the thread (tests)."""
    global _queue
    jobs, _queue = _queue, None
    if jobs is not None:
        jobs.put(_STOP)
    thread.join(timeout)
