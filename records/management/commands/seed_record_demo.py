"""manage.py seed_record_demo: a demo patient whose record spans two clinics (records/demo.py). Safe to run again."""
from django.core.management.base import BaseCommand

from records.demo import PATIENT, seed_record


class Command(BaseCommand):
    help = "Give the demo patient DEMO-0001 a record across the community (run after seed_demo; idempotent)."

    def handle(self, *args, **options):
        patient = seed_record()
        if patient is not None:
            self.stdout.write(self.style.SUCCESS(f"Demo patient record: {patient.name} ({PATIENT}), "
                                                 f"/patients/{patient.pk}/record/"))
