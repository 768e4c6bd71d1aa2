"""API tokens that expire: DRF's token, refused (and deleted) once older than API_TOKEN_TTL_SECONDS.

Logout (directory.services.api_tokens_revoke) and a password change (directory.models.User.save) delete
the user's token; a
new login after expiry issues a new one (directory.services.api_token_issue)."""
import datetime as dt

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


def token_expired(token) -> bool:
    return token.created <= timezone.now() - dt.timedelta(seconds=settings.API_TOKEN_TTL_SECONDS)


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, valid for API_TOKEN_TTL_SECONDS after it was issued."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            token.delete()
            raise AuthenticationFailed("This API token has expired; ask for a new one (POST /api/auth/token/).")
        return user, token
