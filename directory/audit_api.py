"""The audit log search as the administrators' page uses it: audit's own search (audit/selectors.py)
plus what only the directory knows: each row's patient by name (ID number masked) and the actor's
display name, and a search by patient name, record number or resident ID number among the
patients in the searcher's reach. (The audit log sits below the directory and cannot name patients.)"""
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from audit.api import AuditEventOut
from audit.selectors import FILTERS, audit_search
from teleclinic.api import Pagination, PAGE_PARAMETERS, paginated

from . import resident_id
from .access import VIEW, scoped
from .models import Patient, User
from .selectors import audit_patients_listed


class AuditRowOut(AuditEventOut):
    patient_name = serializers.CharField(allow_null=True, help_text="the patient's name (null: none, or out of reach)")
    patient_id_number = serializers.CharField(allow_null=True, help_text="the patient's resident ID number, masked")
    actor_name = serializers.CharField(help_text="the actor's display name, else the username")

    class Meta(AuditEventOut.Meta):
        fields = [*AuditEventOut.Meta.fields, "patient_name", "patient_id_number", "actor_name"]


def patients_matching(user: User, query: str):
    """Ids of the patients in the user's reach a search names: a whole resident ID number exactly,
    else a part of the name, or the health record number."""
    patients = scoped(user, Patient.objects.all(), VIEW)
    if resident_id.looks_like(query):
        return patients.filter(id_number=resident_id.normalise(query)).values("pk")
    return patients.filter(Q(name__icontains=query) | Q(health_record_no__iexact=query)).values("pk")


class AuditSearchView(APIView):
    @extend_schema(parameters=[OpenApiParameter(name, str) for name in FILTERS] + [
        OpenApiParameter("since", str), OpenApiParameter("until", str),
        OpenApiParameter("q", str, description="patient: part of the name, record number or a whole resident ID number"),
        *PAGE_PARAMETERS], responses=paginated(AuditRowOut), operation_id="audit_list")
    def get(self, request):
        rows = audit_search(user=request.user, params=request.query_params)
        query = request.query_params.get("q", "").strip()
        if query:
            rows = rows.filter(patient_id__in=patients_matching(request.user, query))
        paginator = Pagination()
        page = list(paginator.paginate_queryset(rows, request, view=self) or [])
        ids = {row.patient_id for row in page if row.patient_id is not None}
        patients = {p.pk: p for p in scoped(request.user, Patient.objects.filter(pk__in=ids), VIEW)}
        actors = dict(User.objects.filter(pk__in={row.actor_id for row in page if row.actor_id})
                      .values_list("pk", "display_name"))
        for row in page:
            patient = patients.get(row.patient_id)
            row.patient_name = patient.name if patient else None
            row.patient_id_number = patient.id_number_masked if patient else None
            row.actor_name = actors.get(row.actor_id) or row.actor_username
        # naming the patients is a read of their records, audited as a patient listing is
        audit_patients_listed(user=request.user, patients=list(patients.values()), request=request)
        return paginator.get_paginated_response(AuditRowOut(page, many=True).data)
