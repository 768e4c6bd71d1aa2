"""manage.py seed_demo: the demo 医共体 (directory), its rosters (scheduling) and phrases (reports), printed logins. Safe to run again.

Here, in the highest app it seeds, so that the directory does not import scheduling."""
from django.core.management.base import BaseCommand

from directory import demo
from reports.demo import seed_phrases
from scheduling.demo import seed_rosters


class Command(BaseCommand):
    help = "Seed the demo county medical community and print its logins (idempotent)."

    def handle(self, *args, **options):
        logins = demo.seed()
        seed_rosters()
        seed_phrases()
        self.stdout.write(self.style.SUCCESS("Demo community ready. Password for every demo login: "
                                             f"{demo.DEMO_PASSWORD}"))
        for role, names in logins.items():
            self.stdout.write(f"  {role:16s} {', '.join(names)}")
