"""OAuth2 client credentials for hospital systems (django-oauth-toolkit), FHIR only.

A client is registered with `manage.py fhir_client` (fhirapi/services.py): a DOT Application of
the client-credentials grant whose `user` is a user of role SYSTEM bound to the client's
organisation. A token of the grant carries no user (DOT); this authentication reads it as the
client's system user, so directory.access (the SYSTEM row: the organisation's subtree, view only)
and the audit log (actor = that user, detail = client id and organisation) treat it as any reader.
Only the FHIR views accept these tokens, and only with the read scope.
"""
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import exceptions

from directory.access import is_system_client

READ_SCOPE = "system/*.read"


class SystemClientAuthentication(OAuth2Authentication):
    """`Authorization: Bearer <token>` of a registered system client with the read scope."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        client_user = user or token.application.user
        if client_user is None or not is_system_client(client_user) or not client_user.is_active:
            raise exceptions.AuthenticationFailed("This token is not a registered FHIR system client's.")
        if not token.allow_scopes([READ_SCOPE]):
            raise exceptions.PermissionDenied(f"The token lacks the {READ_SCOPE} scope.")
        request.fhir_client = token.application
        return client_user, token
