"""REST API of the directory: patients, organisations, specialties, the current user."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from teleclinic.api import Pagination, PAGE_PARAMETERS, StrictSerializer, paginated, validated

from . import selectors, services
from .models import Organisation, Patient, Specialty


class PatientOut(serializers.ModelSerializer):
    id_number = serializers.CharField(source="id_number_masked", read_only=True)
    home_clinic_name = serializers.CharField(source="home_clinic.name", read_only=True)

    class Meta:
        model = Patient
        fields = ["id", "name", "sex", "birth_date", "phone", "id_number", "home_clinic", "home_clinic_name",
                  "health_record_no", "created_at"]


class PatientIn(StrictSerializer):
    """Sex and birth date may be left out when the resident ID number is given: they are read from it."""

    name = serializers.CharField(max_length=60)
    sex = serializers.ChoiceField(choices=Patient.Sex.choices, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True)
    phone = serializers.RegexField(r"^\+?[0-9\- ]{5,20}$", required=False, allow_blank=True)
    id_number = serializers.RegexField(r"^[0-9]{17}[0-9Xx]$", required=False, allow_blank=True,
                                       error_messages={"invalid": "A resident ID has 17 digits and a digit or X."})
    home_clinic = serializers.IntegerField(required=False)
    health_record_no = serializers.CharField(max_length=32, required=False, allow_blank=True)


class PatientPatch(PatientIn):
    name = serializers.CharField(max_length=60, required=False)
    sex = serializers.ChoiceField(choices=Patient.Sex.choices, required=False)
    birth_date = serializers.DateField(required=False)
    home_clinic = None
    health_record_no = None


class PatientListView(APIView):
    @extend_schema(parameters=[OpenApiParameter("q", str, description="name, record number, phone, or a whole "
                                                                      "resident ID number"),
                               *PAGE_PARAMETERS], responses=paginated(PatientOut), operation_id="patients_list")
    def get(self, request):
        patients = selectors.patient_list(user=request.user, query=request.query_params.get("q", "").strip())
        paginator = Pagination()
        page = paginator.paginate_queryset(patients, request, view=self)
        selectors.audit_patients_listed(user=request.user, patients=page, request=request)
        return paginator.get_paginated_response(PatientOut(page, many=True).data)

    @extend_schema(request=PatientIn, responses={201: PatientOut})
    def post(self, request):
        data = validated(PatientIn, request.data)
        if "home_clinic" in data:
            data["home_clinic_id"] = data.pop("home_clinic")
        patient = services.patient_register(by=request.user, request=request, **data)
        return Response(PatientOut(patient).data, status=status.HTTP_201_CREATED)


class PatientDetailView(APIView):
    @extend_schema(responses=PatientOut)
    def get(self, request, patient_id: int):
        return Response(PatientOut(selectors.patient_get(user=request.user, patient_id=patient_id, request=request)).data)

    @extend_schema(request=PatientPatch, responses=PatientOut)
    def patch(self, request, patient_id: int):
        data = validated(PatientPatch, request.data)
        patient = services.patient_update(by=request.user, patient_id=patient_id, changes=data, request=request)
        return Response(PatientOut(patient).data)


class OrganisationOut(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "code", "name", "kind", "parent"]


class SpecialtyOut(serializers.ModelSerializer):
    class Meta:
        model = Specialty
        fields = ["id", "code", "name", "name_en"]


class OrganisationListView(APIView):
    @extend_schema(responses=OrganisationOut(many=True))
    def get(self, request):
        return Response(OrganisationOut(Organisation.objects.all(), many=True).data)


class SpecialtyListView(APIView):
    @extend_schema(responses=SpecialtyOut(many=True))
    def get(self, request):
        return Response(SpecialtyOut(Specialty.objects.all(), many=True).data)


class MeOut(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    role = serializers.CharField()
    organisation = serializers.IntegerField(source="organisation_id", allow_null=True)


class MeView(APIView):
    @extend_schema(responses=MeOut)
    def get(self, request):
        return Response(MeOut(request.user).data)


class TokenIn(StrictSerializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})


class TokenOut(serializers.Serializer):
    token = serializers.CharField()


class TokenView(APIView):
    """POST: exchange a username and password for an API token (header `Authorization: Token <key>`).
    DELETE: the API's logout; the caller's token (the one it authenticates with) stops working at once."""

    def _logging_out(self) -> bool:
        request = getattr(self, "request", None)  # None while the OpenAPI schema is generated
        return request is not None and request.method == "DELETE"

    def get_authenticators(self):
        if self._logging_out():
            return super().get_authenticators()
        return []  # a login needs no credentials but the password it sends

    def get_permissions(self):
        if self._logging_out():
            return super().get_permissions()
        return []

    @extend_schema(request=TokenIn, responses=TokenOut)
    def post(self, request):
        data = validated(TokenIn, request.data)
        token = services.api_token_issue(username=data["username"], password=data["password"], request=request)
        return Response({"token": token})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        services.api_tokens_revoke(user_id=request.user.pk)
        return Response(status=204)
