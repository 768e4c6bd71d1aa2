"""What every app's API shares: strict input serializers, the schema of paginated lists."""
from functools import cache

import datetime as dt

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination

from .errors import InvalidInput

# The query parameters of DRF's LimitOffsetPagination (settings.REST_FRAMEWORK), for list views'
# schemas: an APIView does not get them from drf-spectacular by itself.
PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="rows per page (default 50)"),
    OpenApiParameter("offset", int, description="rows to skip"),
]


MAX_PAGE_LIMIT = 1000
MAX_OFFSET = 2**63 - 1  # PostgreSQL's OFFSET is a bigint


class Pagination(LimitOffsetPagination):
    """DRF's limit/offset pages, with a 400 and the reason for a limit or offset that is not a
    plain number in range (a huge one overflowed the database: a 500)."""

    max_limit = MAX_PAGE_LIMIT

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param)
        if raw is None or raw == "":
            return self.default_limit
        return min(_count_param(raw, self.limit_query_param), MAX_PAGE_LIMIT) or self.default_limit

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param)
        return 0 if raw in (None, "") else _count_param(raw, self.offset_query_param)


def _count_param(raw: str, name: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > MAX_OFFSET:
        raise InvalidInput(f"{name}: a whole number from 0 to {MAX_OFFSET}.", code="bad_page")
    return int(raw)


# Dates a filter may name: beyond these a time zone shift leaves the calendar (year 1 in UTC+8 is
# year 0 in UTC) and the database or Python overflowed: a 500.
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(9998, 12, 31)


def date_in_range(value, name: str):
    """`value` (a date or datetime, or None), or a 400 if it is outside EARLIEST..LATEST."""
    if value is None:
        return None
    day = value.date() if isinstance(value, dt.datetime) else value
    if not EARLIEST <= day <= LATEST:
        raise InvalidInput(f"{name}: a date from {EARLIEST.isoformat()} to {LATEST.isoformat()}.", code="bad_date")
    return value


class StrictSerializer(serializers.Serializer):
    """Input serializer that refuses unknown fields and non-object bodies, with a reason."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({"non_field_errors": [f"Unknown field(s): {', '.join(unknown)}."]})
        return super().to_internal_value(data)


def validated(serializer_class, data) -> dict:
    """Validate a request body with an input serializer; a 400 with the reason otherwise."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


@cache
def paginated(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of one LimitOffsetPagination page of `serializer_class`, for `extend_schema(responses=...)`.

    An APIView that paginates by hand is otherwise documented as a bare array (schemathesis found it).
    """
    fields = {
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": serializer_class(many=True),
    }
    name = f"Paginated{serializer_class.__name__.removesuffix('Out')}List"
    return type(name, (serializers.Serializer,), fields)

