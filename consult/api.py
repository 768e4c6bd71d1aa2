"""REST API of consultations."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from teleclinic.api import MAX_PAGE_LIMIT, Pagination, PAGE_PARAMETERS, StrictSerializer, paginated, validated

from . import selectors, services
from .models import Consultation, Urgency


class ConsultationOut(serializers.ModelSerializer):
    patient_name = serializers.CharField(source="patient.name", read_only=True)
    specialty = serializers.CharField(source="specialty.code", read_only=True)
    expert_name = serializers.CharField(source="assigned_expert.user", default=None, allow_null=True, read_only=True,
                                        help_text="the expert who holds the case")
    booked_at = serializers.DateTimeField(default=None, allow_null=True, read_only=True,
                                          help_text="start of its booked cloud-clinic slot")

    class Meta:
        model = Consultation
        fields = ["id", "patient", "patient_name", "requesting_org", "requested_by", "specialty", "urgency", "mode",
                  "reason", "state", "assigned_expert", "expert_name", "booked_at", "created_at", "assigned_at",
                  "due_at"]


class ConsultationIn(StrictSerializer):
    patient = serializers.IntegerField()
    specialty = serializers.SlugField()
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.ROUTINE)
    mode = serializers.ChoiceField(choices=Consultation.Mode.choices, default=Consultation.Mode.ASYNC)
    reason = serializers.CharField(max_length=4000)


class NewestFirst(CursorPagination):
    """Cursor pages of consultations, newest first: a page stays right while new ones arrive on top
    (the console's "load more"), where an offset would shift by the new rows."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = MAX_PAGE_LIMIT

    def paginate_queryset(self, queryset, request, view=None):
        self.count = queryset.count()  # the same body as the offset pages (one schema): count, next, previous
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data = {"count": self.count, **response.data}
        return response


class ConsultationListView(APIView):
    @extend_schema(parameters=[
        OpenApiParameter("state", str), OpenApiParameter("q", str, description="patient name, record or ID number, "
                                                         "or #consultation number"),
        OpenApiParameter("paging", str, enum=["cursor"], description="cursor pages (next/previous links) instead of "
                         "limit/offset"), OpenApiParameter("cursor", str), *PAGE_PARAMETERS],
        responses=paginated(ConsultationOut), operation_id="consultations_list")
    def get(self, request):
        rows = selectors.consultation_list(user=request.user, state=request.query_params.get("state", ""),
                                           query=request.query_params.get("q", "")[:100])
        cursor = request.query_params.get("paging") == "cursor" or "cursor" in request.query_params
        paginator = NewestFirst() if cursor else Pagination()
        if cursor:
            rows = rows.order_by()  # the paginator orders (by created_at, id)
        page = paginator.paginate_queryset(rows, request, view=self)
        selectors.audit_consultations_listed(user=request.user, consultations=page, request=request)
        return paginator.get_paginated_response(ConsultationOut(page, many=True).data)

    @extend_schema(request=ConsultationIn, responses={201: ConsultationOut})
    def post(self, request):
        data = validated(ConsultationIn, request.data)
        consultation = services.consultation_request(
            by=request.user, patient_id=data["patient"], specialty_code=data["specialty"], urgency=data["urgency"],
            mode=data["mode"], reason=data["reason"], request=request,
        )
        return Response(ConsultationOut(consultation).data, status=status.HTTP_201_CREATED)


class ConsultationDetailView(APIView):
    @extend_schema(responses=ConsultationOut)
    def get(self, request, consultation_id: int):
        consultation = selectors.consultation_get(user=request.user, consultation_id=consultation_id, request=request)
        return Response(ConsultationOut(consultation).data)
