"""Real Celery workers for the reliability tests: our own processes, on a private queue, killable.

A private queue keeps the session's shared worker (tests/conftest.py), if another test
started it, from taking these tasks with its own settings.
"""
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from teleclinic.celery import app

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def reports_tasks_routed_to(queue: str, patterns: tuple[str, ...] = ("reports.*",)):
    """Route the tasks (by name pattern) this process sends to `queue` (Celery caches its router: reset it)."""
    previous = app.conf.task_routes
    app.conf.task_routes = {pattern: {"queue": queue} for pattern in patterns}
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)
    try:
        yield
    finally:
        app.conf.task_routes = previous
        app.amqp.flush_routes()
        app.amqp.__dict__.pop("router", None)


def start_worker(*, database_url: str, queue: str, log: Path, env: dict | None = None,
                 concurrency: int = 1) -> subprocess.Popen:
    """A prefork worker with `concurrency` children, in its own process group, logging to its own file; returns when ready."""
    environment = dict(os.environ, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="teleclinic.test_settings",
                       PYTHONUNBUFFERED="1", CELERY_QUEUE=queue, **(env or {}))
    command = [sys.executable, "-m", "celery", "-A", "teleclinic", "worker", "-l", "info", "-c", str(concurrency), "-Q", queue,
               "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"rep-{uuid.uuid4().hex[:6]}@%h"]
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            kill_group(proc)
            raise RuntimeError(f"Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return proc


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the worker and its pool children (its own process group) and reap it."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        kill_group(proc, signal.SIGTERM)


def wait_for_other_sessions_to_end(deadline_s: float = 15) -> None:
    """A killed worker's database session ends a moment after it; the test database is dropped after us."""
    from django.db import connection

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid()")
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)
