"""The Celery application. With no REDIS_URL, tasks run in-process (eager); see settings."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleclinic.settings")

app = Celery("teleclinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["teleclinic"])  # shared tasks live in the project package
