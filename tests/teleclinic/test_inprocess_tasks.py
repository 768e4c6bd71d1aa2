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

