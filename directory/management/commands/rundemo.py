"""manage.py rundemo: the whole system on its embedded default, demo seeded, in one process."""
import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate, seed the demo, print the address and logins, and serve HTTP + WebSockets with Daphne."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, host, port, **options):
        address = f"http://{host}:{port}"
        if not os.environ.get("SITE_URL"):
            # The address printed below is the site's address: the QR code on every PDF points there.
            settings.SITE_URL = address
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo")
        call_command("seed_record_demo")  # the records app's demo patient (by name: the directory imports no app above it)
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
        jobs = "in-process (a worker thread)" if settings.CELERY_TASK_ALWAYS_EAGER else settings.CELERY_BROKER_URL
        self.stdout.write(f"database={engine} channel_layer={layer} jobs={jobs}")
        if settings.CELERY_TASK_ALWAYS_EAGER:
            from teleclinic import inprocess_beat, inprocess_tasks

            inprocess_tasks.start()  # tasks run after the request that enqueued them, not inside it
            inprocess_beat.start()
        self.stdout.write(self.style.SUCCESS(f"Teleclinic is running: open {address}/"))
        sys.stdout.flush()
        from daphne.cli import CommandLineInterface

        CommandLineInterface().run(["-b", host, "-p", str(port), "teleclinic.asgi:application"])
