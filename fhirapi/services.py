"""Registering and retiring FHIR system clients (OAuth2 client credentials; see auth.py)."""
from django.db import transaction
from oauth2_provider.generators import generate_client_id, generate_client_secret
from oauth2_provider.models import Application

from directory.models import Organisation, User



@transaction.atomic
def client_register(*, name: str, organisation: Organisation) -> tuple[Application, str]:
    """A new client bound to `organisation`; returns it and its secret (shown once: stored hashed)."""
    user = User(username=f"fhir-client-{generate_client_id()[:12].lower()}", role=User.Role.SYSTEM,
                organisation=organisation, display_name=f"FHIR client {name}"[:60])
    user.set_unusable_password()  # a system client never logs in to the pages or the token API
    user.save()
    secret = generate_client_secret()
    application = Application.objects.create(
        name=name, user=user, client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS, client_secret=secret,
        allowed_origins="", redirect_uris="")
    return application, secret


def client_detail(application: Application) -> dict:
    """What the audit rows of a client's reads say of it (no query: the user came with the token)."""
    return {"client": application.client_id, "client_name": application.name,
            "organisation_id": application.user.organisation_id if application.user else None}
