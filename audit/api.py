"""Audit log search for admins (read-only; the log has no write interface)."""
import datetime as dt

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.views import APIView

from directory.access import is_admin
from teleclinic.api import PAGE_PARAMETERS, paginated
from teleclinic.errors import InvalidInput, NotPermitted

from .models import AuditEvent


class AuditEventOut(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "actor_username", "action", "object_type", "object_id", "patient_id",
                  "consultation_id", "ip", "interface", "detail"]


FILTERS = {"actor": "actor_username", "patient": "patient_id", "consultation": "consultation_id",
           "action": "action", "object_type": "object_type", "interface": "interface"}


class AuditSearchView(APIView):
    @extend_schema(parameters=[OpenApiParameter(name, str) for name in FILTERS] + [
        OpenApiParameter("since", str), OpenApiParameter("until", str), *PAGE_PARAMETERS],
        responses=paginated(AuditEventOut), operation_id="audit_list")
    def get(self, request):
        if not is_admin(request.user):
            raise NotPermitted("Only administrators search the audit log.")
        rows = AuditEvent.objects.all()
        for param, field in FILTERS.items():
            value = request.query_params.get(param)
            if value:
                if field.endswith("_id") and not value.isdigit():
                    raise InvalidInput(f"'{param}' must be a number.")
                rows = rows.filter(**{field: value})
        for param, lookup in (("since", "at__gte"), ("until", "at__lt")):
            value = request.query_params.get(param)
            if value:
                moment = _moment(value)
                if moment is None:
                    raise InvalidInput(f"'{param}' must be an ISO date or date-time.")
                rows = rows.filter(**{lookup: moment})
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(AuditEventOut(page, many=True).data)


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
