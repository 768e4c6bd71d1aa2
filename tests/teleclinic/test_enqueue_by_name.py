"""Services start Celery tasks by name through teleclinic.events.enqueue_on_commit, after commit."""
import pytest
from celery import current_app

from teleclinic.events import enqueue_on_commit


def test_a_task_is_enqueued_by_name_only_when_the_transaction_commits(db, django_capture_on_commit_callbacks,
                                                                       monkeypatch):
    # given the registered task a service names (its module not imported by the service)
    sent = []
    # when a service enqueues it inside a transaction
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        enqueue_on_commit("reports.deliver", 42)
    # then nothing is sent before the commit, and the commit sends that task with the ids
    assert len(callbacks) == 1
    task = current_app.tasks["reports.deliver"]
    monkeypatch.setattr(task, "apply_async", lambda args, eta=None: sent.append((args, eta)))
    callbacks[0]()
    assert sent == [((42,), None)]


def test_an_unknown_task_name_is_refused_in_the_service_that_asked(db):
    with pytest.raises(KeyError):
        enqueue_on_commit("reports.no_such_task", 1)
