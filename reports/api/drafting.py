"""Reports of a consultation: start, draft, sign and amend; versions and their PDFs, the patient's link and
the public verification the printed QR code opens."""
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from consult.selectors import consultation_get
from teleclinic.api import StrictSerializer, validated
from teleclinic.errors import NotFound

from .. import selectors
from ..models import Report, ReportVersion
from ..services import drafting, sharing
from .deliveries import DeliveryOut


class VersionOut(serializers.ModelSerializer):
    delivery = DeliveryOut(read_only=True)
    pdf_ready = serializers.SerializerMethodField()

    class Meta:
        model = ReportVersion
        fields = ["number", "content", "critical", "amendment_reason", "signed_by", "signed_at",
                  "verification_code", "pdf_ready", "pdf_sha256", "delivery"]

    def get_pdf_ready(self, version) -> bool:
        return bool(version.pdf)


class ReportOut(serializers.ModelSerializer):
    class Meta:
        model = Report
        fields = ["id", "consultation", "kind", "study_ref", "state", "latest_version", "author", "created_at"]


def report_body(report: Report, user) -> dict:
    body = ReportOut(report).data
    body["versions"] = VersionOut(selectors.report_versions(report=report), many=True).data
    if selectors.report_draft_visible(user=user, report=report):
        body.update(draft=report.draft, draft_reason=report.draft_reason, draft_saved_at=report.draft_saved_at)
    return body


class ReportStartIn(StrictSerializer):
    kind = serializers.ChoiceField(choices=Report.Kind.choices)
    study_ref = serializers.CharField(max_length=100, required=False, allow_null=True, default=None)
    measurements = serializers.DictField(child=serializers.FloatField(allow_null=True), required=False, default=dict)
    statements = serializers.ListField(child=serializers.CharField(max_length=200), max_length=40, required=False,
                                       default=list, help_text="the ECG's computed preliminary statements, "
                                       "prefilled into an ECG draft for the expert to accept or edit")


class DraftIn(StrictSerializer):
    content = serializers.DictField()


class AmendIn(StrictSerializer):
    reason = serializers.CharField(max_length=2000)


class PatientLinkIn(StrictSerializer):
    hours = serializers.IntegerField(default=72)


class ConsultationReportsView(APIView):
    @extend_schema(responses=ReportOut(many=True))
    def get(self, request, consultation_id: int):
        consultation_get(user=request.user, consultation_id=consultation_id, request=request)
        rows = list(selectors.report_list(user=request.user, consultation_id=consultation_id))
        return Response([report_body(report, request.user) for report in rows])

    @extend_schema(request=ReportStartIn, responses={201: ReportOut})
    def post(self, request, consultation_id: int):
        data = validated(ReportStartIn, request.data)
        report = drafting.report_start(consultation_id=consultation_id, kind=data["kind"], by=request.user,
                                       study_ref=data["study_ref"], measurements=data["measurements"],
                                       statements=data["statements"], request=request)
        return Response(report_body(report, request.user), status=status.HTTP_201_CREATED)


class ReportDetailView(APIView):
    @extend_schema(responses=ReportOut)
    def get(self, request, report_id: int):
        report = selectors.report_get(user=request.user, report_id=report_id, request=request)
        return Response(report_body(report, request.user))


class DraftView(APIView):
    @extend_schema(request=DraftIn, responses=ReportOut)
    def put(self, request, report_id: int):
        data = validated(DraftIn, request.data)
        report = drafting.draft_save(report_id=report_id, by=request.user, content=data["content"], request=request)
        return Response(report_body(report, request.user))


class SignView(APIView):
    @extend_schema(request=None, responses={201: VersionOut})
    def post(self, request, report_id: int):
        version = drafting.report_sign(report_id=report_id, by=request.user, request=request)
        return Response(VersionOut(version).data, status=status.HTTP_201_CREATED)


class AmendView(APIView):
    @extend_schema(request=AmendIn, responses=ReportOut)
    def post(self, request, report_id: int):
        data = validated(AmendIn, request.data)
        report = drafting.amendment_start(report_id=report_id, by=request.user, reason=data["reason"], request=request)
        return Response(report_body(report, request.user))


class VersionView(APIView):
    @extend_schema(responses=VersionOut)
    def get(self, request, report_id: int, number: int):
        version = selectors.version_get(user=request.user, report_id=report_id, number=number, request=request)
        return Response(VersionOut(version).data)


class VersionPdfView(APIView):
    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request, report_id: int, number: int):
        version = selectors.version_get(user=request.user, report_id=report_id, number=number, request=request)
        return _pdf_response(version)


class PatientLinkView(APIView):
    @extend_schema(request=PatientLinkIn, responses={201: dict})
    def post(self, request, report_id: int, number: int):
        data = validated(PatientLinkIn, request.data)
        link = sharing.patient_link_create(report_id=report_id, number=number, by=request.user, hours=data["hours"],
                                           request=request)
        url = request.build_absolute_uri(f"/api/reports/shared/{link.token}/")
        return Response({"id": link.pk, "url": url, "expires_at": link.expires_at}, status=status.HTTP_201_CREATED)


class PatientLinkRevokeView(APIView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request, report_id: int, number: int, link_id: int):
        sharing.patient_link_revoke(report_id=report_id, number=number, link_id=link_id, by=request.user,
                                    request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SharedReportView(APIView):
    """The patient's link: no account; the token is the permission, checked and audited."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request, token: str):
        response = _pdf_response(selectors.patient_link_open(token=token, request=request))
        response["Cache-Control"] = "no-store"  # a phone's or proxy's cache must not keep it past revocation
        return response


class VerifyPageRenderer(TemplateHTMLRenderer):
    template_name = "reports/verify.html"


class VerifyView(APIView):
    """Public: what the QR code opens. Says whether a printed report is genuine and current, no patient data.

    A person's browser (Accept: text/html) gets a page in their language and the service's time zone;
    API clients get JSON (Accept: application/json, or ?format=json).
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, VerifyPageRenderer]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, code: str):
        page = isinstance(request.accepted_renderer, VerifyPageRenderer)
        try:
            version = selectors.version_verify(code=code)
        except NotFound:
            if not page:
                raise
            return Response({"genuine": False}, status=status.HTTP_404_NOT_FOUND)
        report = version.report
        body = {"genuine": True, "report": report.pk, "kind": report.kind, "version": version.number,
                "current": version.number == report.latest_version, "signed_by": str(version.signed_by),
                "signed_at": version.signed_at, "pdf_sha256": version.pdf_sha256,
                "online": f"/api/reports/{report.pk}/versions/{version.number}/"}
        if page:
            body.update(kind_label=report.get_kind_display(), latest=report.latest_version)
        return Response(body)


def _pdf_response(version: ReportVersion) -> FileResponse:
    if not version.pdf:
        raise NotFound("The PDF of this version is still being rendered; try again in a moment.", code="pdf_pending")
    return FileResponse(version.pdf.open("rb"), content_type="application/pdf",
                        filename=f"report-{version.report_id}-v{version.number}.pdf")
