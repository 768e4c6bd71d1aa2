"""Audit log search for admins (read-only; the log has no write interface)."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.views import APIView

from teleclinic.api import PAGE_PARAMETERS, paginated

from .models import AuditEvent
from .selectors import FILTERS, audit_search


class AuditEventOut(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "actor_username", "action", "object_type", "object_id", "patient_id",
                  "consultation_id", "ip", "interface", "detail"]


class AuditSearchView(APIView):
    @extend_schema(parameters=[OpenApiParameter(name, str) for name in FILTERS] + [
        OpenApiParameter("since", str), OpenApiParameter("until", str), *PAGE_PARAMETERS],
        responses=paginated(AuditEventOut), operation_id="audit_list")
    def get(self, request):
        rows = audit_search(user=request.user, params=request.query_params)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(AuditEventOut(page, many=True).data)

