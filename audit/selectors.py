"""Reads of the audit log: administrators search it by actor, record, action and time."""
import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from teleclinic.errors import InvalidInput, NotPermitted

from .models import AuditEvent

FILTERS = {"actor": "actor_username", "patient": "patient_id", "consultation": "consultation_id",
           "action": "action", "object_type": "object_type", "interface": "interface"}


def audit_search(*, user, params) -> QuerySet[AuditEvent]:
    """The rows matching the query parameters (FILTERS, since, until); administrators only.

    `user` is the project's user model (directory.User): `is_administrator` is asked of it by name,
    so that the audit log, below the directory, does not import it."""
    if not getattr(user, "is_administrator", False):
        raise NotPermitted("Only administrators search the audit log.")
    rows = AuditEvent.objects.all()
    for param, field in FILTERS.items():
        value = params.get(param)
        if value:
            if field.endswith("_id") and not value.isdigit():
                raise InvalidInput(f"'{param}' must be a number.")
            rows = rows.filter(**{field: value})
    for param, lookup in (("since", "at__gte"), ("until", "at__lt")):
        value = params.get(param)
        if value:
            moment = _moment(value)
            if moment is None:
                raise InvalidInput(f"'{param}' must be an ISO date or date-time.")
            rows = rows.filter(**{lookup: moment})
    return rows


def _moment(value: str) -> dt.datetime | None:
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)):
            moment = dt.datetime.combine(day, dt.time())
    except ValueError:  # well-formed but impossible, such as month 13
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment
