"""The embedded default's worker thread (teleclinic/inprocess_tasks.py): a task enqueued by a request runs
after that request's commit on its own thread, not inside the request (eager mode's inline run made an
upload's PATCH wait for its whole ingest). The task here blocks on an event: the one edge a real task
cannot hold open on demand."""
import datetime as dt
import threading

import pytest
from django.db import transaction
from django.utils import timezone

from teleclinic import inprocess_tasks
from teleclinic.celery import app
from teleclinic.events import enqueue_on_commit

pytestmark = pytest.mark.django_db(transaction=True)

release, ran = threading.Event(), []


@app.task(name="tests.teleclinic.blocking")
def blocking(n: int) -> None:
    release.wait(30)
    ran.append((n, threading.current_thread().name))


@pytest.fixture
def worker():
    release.clear()
    ran.clear()
    thread = inprocess_tasks.start()
    yield thread
    release.set()
    inprocess_tasks.stop(thread)


def test_an_enqueued_task_runs_after_the_commit_on_the_worker_thread_not_inside_the_request(worker):
    # when a service enqueues a task and its transaction commits
    with transaction.atomic():
        enqueue_on_commit("tests.teleclinic.blocking", 1)
        enqueue_on_commit("tests.teleclinic.blocking", 2)
    # then the caller goes on at once although the task cannot finish yet
    assert ran == []
    # and once it may, the tasks run in order, on the worker's thread
    release.set()
    inprocess_tasks.stop(worker)
    assert ran == [(1, "inprocess-tasks"), (2, "inprocess-tasks")]


def test_a_task_enqueued_in_a_rolled_back_transaction_never_runs(worker):
    release.set()
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit("tests.teleclinic.blocking", 3)
        raise RuntimeError("rolled back")
    inprocess_tasks.stop(worker)
    assert ran == []


def test_a_task_due_later_waits_for_its_time(worker):
    release.set()
    inprocess_tasks.submit(blocking, (4,), eta=timezone.now() + dt.timedelta(seconds=1))
    inprocess_tasks.submit(blocking, (5,))
    # the one due now ran; the one due in a second had not when the worker was asked to stop
    inprocess_tasks.stop(worker)
    assert ran == [(5, "inprocess-tasks")]



attempts: list[tuple[int, int]] = []
retried = threading.Event()


def _dead_mail_server() -> int:
    """A port on 127.0.0.1 that refuses connections, as a mail server that is down does."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _mail_once(task, n: int, port: int) -> None:
    import smtplib

    attempts.append((n, task.request.retries))
    ran.append((f"mail {n}", task.request.retries))
    if task.request.retries:
        retried.set()
        return
    smtplib.SMTP("127.0.0.1", port, timeout=5)  # refused: the task asks to be retried


RETRY = dict(bind=True, autoretry_for=(OSError,), retry_jitter=False, max_retries=3)


@app.task(name="tests.teleclinic.mail", retry_backoff=1, **RETRY)
def mail(self, n: int, port: int) -> None:
    _mail_once(self, n, port)


@app.task(name="tests.teleclinic.mail_later", retry_backoff=600, **RETRY)
def mail_later(self, n: int, port: int) -> None:
    """The backoff a real delivery reaches after a few failures."""
    _mail_once(self, n, port)


@pytest.fixture
def mail_attempts():
    attempts.clear()
    retried.clear()
    return attempts


def test_a_retried_task_waits_for_its_countdown_and_frees_the_worker_meanwhile(worker, mail_attempts):
    # Celery's Task.apply(throw=True) turned the retry into a failure: the task was never retried
    release.set()
    inprocess_tasks.submit(mail, (1, _dead_mail_server()))
    inprocess_tasks.submit(blocking, (6,))
    assert retried.wait(30), "the retry never ran"
    inprocess_tasks.stop(worker)
    # the refused attempt, then the next task in the queue, then the retry, told it is the first
    assert mail_attempts == [(1, 0), (1, 1)]
    assert ran == [("mail 1", 0), (6, "inprocess-tasks"), ("mail 1", 1)]


def test_a_retry_due_later_than_the_worker_lives_is_not_run_early(worker, mail_attempts):
    # Task.apply without throw runs the retries at once, back to back, whatever their countdown
    release.set()
    inprocess_tasks.submit(mail_later, (2, _dead_mail_server()))
    inprocess_tasks.submit(blocking, (7,))
    inprocess_tasks.stop(worker)
    assert mail_attempts == [(2, 0)]
    assert ran == [("mail 2", 0), (7, "inprocess-tasks")]
