"""The expert's iCalendar feed secret: a fresh random token, of which only the hash is kept."""
import hashlib
import secrets

from django.db import transaction

from directory.models import User
from teleclinic.errors import NotPermitted

from ..models import CalendarFeed


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def calendar_feed_rotate(*, by: User) -> str:
    """Issue (or replace) the caller's feed token; the old URL stops working. Returns the token once."""
    if not hasattr(by, "expert"):
        raise NotPermitted("Only experts have a calendar feed.")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        CalendarFeed.objects.update_or_create(expert=by.expert, defaults={"token_sha256": token_hash(token)})
    return token
