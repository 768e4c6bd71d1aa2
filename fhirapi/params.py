"""FHIR search parameter types (R4 §3.1.1.5 search): date, token, string, reference, each to a Django Q.

A search is a list of (name, modifier, value) from the query string; each type parses its value and
raises FhirError (a 400 OperationOutcome) for a value it cannot read, never lets it reach the database.
"""
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Callable

from django.db.models import Q
from django.utils import timezone

from .errors import FhirError

DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
_DATE = re.compile(r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<time>[0-9:.]+)(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$")


def _bad(name: str, value: str, why: str) -> FhirError:
    return FhirError(f"Search parameter {name}={value!r}: {why}", code="bad_search_parameter")


def date_range(name: str, text: str) -> tuple[dt.datetime, dt.datetime]:
    """The instant range [start, end) a FHIR date of any precision (year .. seconds) covers."""
    match = _DATE.match(text)
    if not match:
        raise _bad(name, text, "not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[+zz:zz])")
    year, month, day, time = match["y"], match["m"], match["d"], match["time"]
    if not 1900 <= int(year) <= 9998:  # the range every date of the service lies in; no overflow at the ends
        raise _bad(name, text, "a year from 1900 to 9998")
    try:
        if time is not None:
            parsed = dt.datetime.fromisoformat(f"{year}-{month}-{day}T{time}{(match['tz'] or '').replace('Z', '+00:00')}")
            if parsed.tzinfo is None:
                parsed = timezone.make_aware(parsed)
            step = dt.timedelta(seconds=1) if time.count(":") >= 2 else dt.timedelta(minutes=1)
            return parsed, parsed + step
        start = dt.datetime(int(year), int(month or 1), int(day or 1))
        if day is not None:
            end = start + dt.timedelta(days=1)
        elif month is not None:
            end = dt.datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
        else:
            end = dt.datetime(start.year + 1, 1, 1)
        return timezone.make_aware(start), timezone.make_aware(end)
    except (ValueError, OverflowError) as error:
        raise _bad(name, text, str(error))


def split_prefix(value: str) -> tuple[str, str]:
    if len(value) > 2 and value[:2] in DATE_PREFIXES and not value[:2].isdigit():
        return value[:2], value[2:]
    return "eq", value


@dataclass(frozen=True)
class Param:
    """One search parameter of a resource type: its FHIR type and how a value becomes a Q."""

    type: str  # date | token | string | reference
    to_q: Callable[[str, str, str], Q]  # (name, modifier, one value) -> Q
    doc: str = ""
    modifiers: tuple[str, ...] = field(default=())


def date_param(path: str, *, is_date: bool = False, doc: str = "") -> Param:
    """A date parameter over a DateTimeField (or a DateField with is_date)."""

    def to_q(name: str, modifier: str, value: str) -> Q:
        prefix, text = split_prefix(value)
        start, end = date_range(name, text)
        lo, hi = (start.date(), end.date()) if is_date else (start, end)
        if is_date and (hi - lo).days == 0:  # a time inside one day: that day
            hi = lo + dt.timedelta(days=1)
        return {
            "eq": Q(**{f"{path}__gte": lo, f"{path}__lt": hi}),
            "ne": ~Q(**{f"{path}__gte": lo, f"{path}__lt": hi}),
            "gt": Q(**{f"{path}__gte": hi}), "sa": Q(**{f"{path}__gte": hi}),
            "lt": Q(**{f"{path}__lt": lo}), "eb": Q(**{f"{path}__lt": lo}),
            "ge": Q(**{f"{path}__gte": lo}),
            "le": Q(**{f"{path}__lt": hi}),
        }[prefix]

    return Param("date", to_q, doc)


def token_param(codes: Callable[[str | None, str], Q | None], *, doc: str = "") -> Param:
    """A token parameter: `codes(system, code)` gives the Q for one system|code (system None: any),
    or None for a code that matches nothing here (an empty result, not an error)."""

    def to_q(name: str, modifier: str, value: str) -> Q:
        system, _, code = value.rpartition("|") if "|" in value else (None, "", value)
        if system == "":
            system = None
        if not code:
            raise _bad(name, value, "a token needs a code ([system]|code)")
        q = codes(system, code)
        return q if q is not None else Q(pk__in=[])

    return Param("token", to_q, doc, modifiers=("not",))


def string_param(*paths: str, doc: str = "") -> Param:
    """A string parameter: starts with (default), `:exact`, `:contains`, over any of `paths`."""

    def to_q(name: str, modifier: str, value: str) -> Q:
        lookup = {"": "istartswith", "exact": "exact", "contains": "icontains"}[modifier]
        q = Q(pk__in=[])
        for path in paths:
            q |= Q(**{f"{path}__{lookup}": value})
        return q

    return Param("string", to_q, doc, modifiers=("exact", "contains"))


def reference_param(path: str, target: str, *, doc: str = "") -> Param:
    """A reference parameter to `target` (e.g. Patient): `Patient/12`, `12`, or a full URL ending so."""

    def to_q(name: str, modifier: str, value: str) -> Q:
        if modifier and modifier != target:
            return Q(pk__in=[])  # patient:Group=... matches nothing here
        kind, _, ident = value.rstrip("/").rpartition("/")
        if kind and kind.rpartition("/")[2] != target:
            return Q(pk__in=[])
        if not (ident.isascii() and ident.isdigit()) or len(ident) > 18:
            raise _bad(name, value, f"a reference to a {target} is {target}/<id> with a numeric id")
        return Q(**{path: int(ident)})

    return Param("reference", to_q, doc, modifiers=(target,))


def id_param(to_pk: Callable[[str], dict | None]) -> Param:
    """`_id`: `to_pk(id)` gives the lookup of one resource id, or None for an id of no such form."""

    def to_q(name: str, modifier: str, value: str) -> Q:
        lookup = to_pk(value)
        return Q(**lookup) if lookup is not None else Q(pk__in=[])

    return Param("token", to_q, "the logical id")
