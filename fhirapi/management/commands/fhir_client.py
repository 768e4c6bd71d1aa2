"""manage.py fhir_client <organisation code> <name>: register a hospital system as a FHIR client.

Prints the client id and secret (the secret only now: it is stored hashed), the token endpoint and
the scope. The client reaches the organisation's records and those below it, read only.
"""
from django.core.management.base import BaseCommand, CommandError

from directory.models import Organisation
from fhirapi.auth import READ_SCOPE
from fhirapi.services import client_register


class Command(BaseCommand):
    help = "Register an OAuth2 client-credentials client (read-only FHIR) bound to an organisation."

    def add_arguments(self, parser):
        parser.add_argument("organisation", help="the organisation's code (e.g. the lead hospital's)")
        parser.add_argument("name", help="what the client is, e.g. 'HIS of the county hospital'")

    def handle(self, *args, organisation, name, **options):
        try:
            org = Organisation.objects.get(code=organisation)
        except Organisation.DoesNotExist:
            raise CommandError(f"No organisation with code {organisation!r}.")
        application, secret = client_register(name=name, organisation=org)
        self.stdout.write(f"client_id={application.client_id}\n")
        self.stdout.write(f"client_secret={secret}\n")
        self.stdout.write(f"token_url=/fhir/auth/token (grant_type=client_credentials, scope={READ_SCOPE})\n")
        self.stdout.write(f"reach={org.code} and the organisations below it, read only\n")
