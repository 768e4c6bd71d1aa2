"""The Celery application. With no REDIS_URL, tasks run in-process (eager); see settings.

Periodic schedules live in code: each app may have a `schedules.py` with a BEAT_SCHEDULE dict
(entries with "task" and "schedule" in seconds, each with a comment saying why that interval).
"""
import importlib
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleclinic.settings")

SCHEDULED_APPS = ("scheduling", "studies", "live", "reports")

app = Celery("teleclinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["teleclinic"])  # shared tasks live in the project package


def beat_schedule() -> dict:
    schedule: dict = {}
    for name in SCHEDULED_APPS:
        try:
            module = importlib.import_module(f"{name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{name}.schedules":
                raise
            continue
        schedule.update(module.BEAT_SCHEDULE)
    return schedule


@app.on_after_finalize.connect
def _install_beat_schedule(sender, **kwargs):
    sender.conf.beat_schedule = beat_schedule()
