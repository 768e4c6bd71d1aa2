"""`manage.py dicom_scp --port 11112`: receive studies from modalities by DICOM C-STORE."""
from django.core.management.base import BaseCommand

from studies import dicom_scp


class Command(BaseCommand):
    help = "Run the DICOM C-STORE receiver; calling AE titles map to organisations (dicom_ae_title)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=11112)
        parser.add_argument("--host", default="0.0.0.0")
        parser.add_argument("--ae-title", default="TELECLINIC")

    def handle(self, *args, port, host, ae_title, **options):
        self.stdout.write(f"DICOM C-STORE receiver {ae_title} listening on {host}:{port}")
        dicom_scp.start(host=host, port=port, ae_title=ae_title, block=True)
