"""Services start Celery tasks by name through teleclinic.events.enqueue_on_commit, after commit."""
import json
import os
import subprocess
import sys
from pathlib import Path

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


RACE = """
import json, os, threading
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleclinic.settings")
import django
django.setup()
from teleclinic.events import _task
names = ["live.tasks.ecg_stream_save_task", "studies.tasks.ingest_upload_task", "reports.render_pdf"] * 4
barrier, errors = threading.Barrier(len(names)), []
def look_up(name):
    barrier.wait()
    try:
        _task(name)
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=look_up, args=(name,)) for name in names]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(errors))
"""


def test_socket_threads_enqueueing_at_once_in_a_fresh_process_all_find_their_tasks():
    # given a fresh process (no tasks module imported yet), as a Daphne just started: its socket threads
    # stop ECG streams, finish uploads and sign reports side by side
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=120, env=env,
                          cwd=Path(__file__).resolve().parents[2])
    # then every thread finds its task (before the fix 4-7 of 12 raised NotRegistered)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
