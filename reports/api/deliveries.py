"""Deliveries of signed reports to the requesting clinic: pending, received (searchable) and acknowledged."""
from django.utils.dateparse import parse_date
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from teleclinic.api import PAGE_PARAMETERS, Pagination, date_in_range, paginated
from teleclinic.errors import InvalidInput

from .. import selectors
from ..events import report_event
from ..fhir import CONCLUSION_FIELD
from ..models import Delivery
from ..services import delivery as delivery_services


class DeliveryOut(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "state", "critical", "created_at", "delivered_at", "acknowledged_at", "acknowledged_by",
                  "escalated_at"]


class PendingDeliveriesView(APIView):
    @extend_schema(responses=paginated(DeliveryOut), parameters=PAGE_PARAMETERS,
                   operation_id="reports_deliveries_pending_list")
    def get(self, request):
        rows = selectors.deliveries_pending(user=request.user)
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        selectors.audit_deliveries_listed(user=request.user, deliveries=page, request=request)
        body = [dict(DeliveryOut(d).data, **report_event(d, d.version, "report.pending"))
                for d in page]
        return paginator.get_paginated_response(body)


class ReceivedReportOut(DeliveryOut):
    """A delivered report as the clinic's list shows it: the delivery, its report and version, the patient."""

    delivery = serializers.IntegerField(source="pk")
    report = serializers.IntegerField(source="version.report_id")
    version = serializers.IntegerField(source="version.number")
    current = serializers.SerializerMethodField(help_text="false once an amendment superseded this version")
    consultation = serializers.IntegerField(source="version.report.consultation_id")
    kind = serializers.CharField(source="version.report.kind")
    patient = serializers.IntegerField(source="version.report.consultation.patient_id")
    patient_name = serializers.CharField(source="version.report.consultation.patient.name")
    health_record_no = serializers.CharField(source="version.report.consultation.patient.health_record_no")
    specialty = serializers.CharField(source="version.report.consultation.specialty.code")
    signed_at = serializers.DateTimeField(source="version.signed_at")
    amended = serializers.SerializerMethodField()
    amendment_reason = serializers.CharField(source="version.amendment_reason")
    pdf = serializers.SerializerMethodField(help_text="the PDF's URL, null while it is being rendered")
    conclusion = serializers.SerializerMethodField(
        help_text="the signed version's conclusion (ECG), impression (imaging) or assessment (consultation)")

    class Meta(DeliveryOut.Meta):
        fields = [*DeliveryOut.Meta.fields, "delivery", "report", "version", "current", "consultation", "kind",
                  "patient", "patient_name", "health_record_no", "specialty", "signed_at", "amended",
                  "amendment_reason", "pdf", "conclusion"]

    def get_conclusion(self, delivery) -> str:
        return str((delivery.version.content or {}).get(CONCLUSION_FIELD.get(delivery.version.report.kind, ""), "") or "")

    def get_current(self, delivery) -> bool:
        return delivery.version.number == delivery.version.report.latest_version

    def get_amended(self, delivery) -> bool:
        return delivery.version.number > 1

    def get_pdf(self, delivery) -> str | None:
        return report_event(delivery, delivery.version, "report.listed")["pdf"]


RECEIVED_STATES = {"unacknowledged": True, "acknowledged": False}


class ReceivedReportsView(APIView):
    """Every report the user's clinic received, acknowledged or not: found again by patient, consultation, date."""

    @extend_schema(parameters=[
        OpenApiParameter("q", str, description="patient's name (a part), health-record number or resident ID number"),
        OpenApiParameter("patient", int), OpenApiParameter("consultation", int),
        OpenApiParameter("from", str, description="first day of signature, YYYY-MM-DD"),
        OpenApiParameter("to", str, description="last day of signature, YYYY-MM-DD"),
        OpenApiParameter("state", str, enum=list(RECEIVED_STATES)), *PAGE_PARAMETERS],
        responses=paginated(ReceivedReportOut), operation_id="reports_deliveries_list")
    def get(self, request):
        q = request.query_params
        state = q.get("state", "")
        if state and state not in RECEIVED_STATES:
            raise InvalidInput(f"state: one of {', '.join(RECEIVED_STATES)}.", code="bad_filter")
        rows = selectors.deliveries_received(
            user=request.user, query=q.get("q", "").strip()[:60], patient_id=_id(q, "patient"),
            consultation_id=_id(q, "consultation"), since=_day(q, "from"), until=_day(q, "to"),
            unacknowledged=RECEIVED_STATES.get(state))
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        selectors.audit_deliveries_listed(user=request.user, deliveries=page, request=request)
        return paginator.get_paginated_response(ReceivedReportOut(page, many=True).data)


def _id(params, name: str) -> int | None:
    raw = params.get(name, "").strip().lstrip("#")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > 2**63 - 1:
        raise InvalidInput(f"{name}: a number.", code="bad_filter")
    return int(raw)


def _day(params, name: str):
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        day = parse_date(raw)
    except ValueError:
        day = None
    if day is None:
        raise InvalidInput(f"{name}: a date, YYYY-MM-DD.", code="bad_date")
    return date_in_range(day, name)


class AcknowledgeView(APIView):
    @extend_schema(request=None, responses=DeliveryOut)
    def post(self, request, delivery_id: int):
        delivery = delivery_services.delivery_acknowledge(delivery_id=delivery_id, by=request.user, request=request)
        return Response(DeliveryOut(delivery).data)
