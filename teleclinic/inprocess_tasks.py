"""The embedded default's stand-in for a Celery worker: one thread that runs the tasks services enqueue.

Without it, Celery's eager mode runs a task inside the request whose commit enqueued it: an upload's
PATCH was answered only after its whole ingest (seconds for a CT, on the village doctor's link), and
the ingest's events reached the page before the upload's own answer. `manage.py rundemo` starts this
worker beside the in-process beat; code and tests that do not start it keep eager mode's inline run.

One thread, so tasks run one at a time, in order, as on a single-process worker (SQLite's one writer
is not fought over). A task due later (`eta`) waits on a timer. A task that asks to be retried
(`self.retry`, `autoretry_for`) is queued again after its countdown, as a worker would. Celery's own
`Task.apply` cannot do that: with `throw` it turns the retry into a failure (a mail server down for a
moment left the report to the outbox's next sweep), without it it runs every retry at once, back to
back, holding this one thread. A failed task is logged; its sweep in beat starts it again, as on the
scaled stack.
"""
import datetime as dt
import logging
import numbers
import queue
import threading

from billiard.einfo import ExceptionInfo, ExceptionWithTraceback
from celery.app.trace import build_tracer
from celery.exceptions import Retry
from celery.utils import uuid
from django.db import close_old_connections, connections
from django.utils import timezone

log = logging.getLogger(__name__)

_STOP = object()
_queue: queue.Queue | None = None


def running() -> bool:
    return _queue is not None


def submit(task, args: tuple, *, eta: dt.datetime | None = None, retries: int = 0) -> None:
    """Run `task(*args)` on the worker thread, at `eta` if it is later than now."""
    jobs = _queue
    if jobs is None:
        raise RuntimeError("the in-process worker is not running")
    job = (task, tuple(args), retries)
    delay = (eta - timezone.now()).total_seconds() if eta is not None else 0.0
    if delay > 0:
        timer = threading.Timer(delay, jobs.put, args=[job])
        timer.daemon = True
        timer.start()
    else:
        jobs.put(job)


def _run(task, args: tuple, retries: int) -> None:
    close_old_connections()
    try:
        outcome = _trace(task, args, retries)
    finally:
        connections.close_all()
    if not isinstance(outcome, ExceptionInfo):
        return
    exc = outcome.exception.exc if isinstance(outcome.exception, ExceptionWithTraceback) else outcome.exception
    if isinstance(exc, Retry):
        eta = _retry_eta(exc.when)
        if not running():  # stopping: the sweep in beat starts it again with the next process
            log.warning("task %s%r not retried: the worker is stopping", task.name, args)
            return
        log.info("task %s%r retries (%d) at %s: %s", task.name, args, retries + 1, eta, exc.exc)
        submit(task, args, eta=eta, retries=retries + 1)
    else:
        log.error("task %s%r failed; beat's sweep will start it again\n%s", task.name, args, outcome.traceback)


def _trace(task, args: tuple, retries: int):
    """Run the task once, as a worker would (its request says how often it was retried): what it
    returned, or an ExceptionInfo holding the Retry it asked for or the exception it ended with."""
    tracer = build_tracer(task.name, task, eager=True, propagate=False, app=task._get_app())
    task_id = uuid()
    request = {"id": task_id, "task": task.name, "root_id": task_id, "retries": retries, "is_eager": True,
               "delivery_info": {"is_eager": True}, "ignore_result": True}
    return tracer(task_id, args, {}, request).retval


def _retry_eta(when) -> dt.datetime:
    if isinstance(when, dt.datetime):
        return when
    return timezone.now() + dt.timedelta(seconds=float(when) if isinstance(when, numbers.Number) else 0.0)


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
