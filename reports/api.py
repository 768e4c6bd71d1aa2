"""REST API of reports: drafting and signing, versions and PDFs, delivery and acknowledgement, FHIR views."""
from django.http import FileResponse
from django.utils.dateparse import parse_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from consult.selectors import consultation_get
from teleclinic.api import Pagination, date_in_range, PAGE_PARAMETERS, StrictSerializer, paginated, validated
from teleclinic.errors import InvalidInput, NotFound

from . import selectors
from .events import report_event
from .fhir import CONCLUSION_FIELD
from . import statistics as report_statistics
from .kinds import templates_description
from .models import Delivery, Phrase, QualitySample, Report, ReportVersion
from .services import delivery as delivery_services
from .services import drafting, phrases, quality, sharing


class DeliveryOut(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "state", "critical", "created_at", "delivered_at", "acknowledged_at", "acknowledged_by",
                  "escalated_at"]


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


class PhraseOut(serializers.ModelSerializer):
    specialty = serializers.CharField(source="specialty.code", default=None, allow_null=True)
    mine = serializers.SerializerMethodField(help_text="the expert's own (changeable); else their specialty's")

    class Meta:
        model = Phrase
        fields = ["id", "kind", "field", "code", "label", "text", "specialty", "mine", "updated_at"]

    def get_mine(self, phrase) -> bool:
        return phrase.owner_id is not None


class PhraseIn(StrictSerializer):
    kind = serializers.ChoiceField(choices=Report.Kind.choices)
    field = serializers.CharField(max_length=40)
    code = serializers.RegexField(r"^[a-z0-9][a-z0-9_-]*$", max_length=20,
                                  help_text='typed after "/": lower-case letters, digits, - and _')
    label = serializers.CharField(max_length=60)
    text = serializers.CharField(max_length=2000)


class PhrasePatch(PhraseIn):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class PhrasesView(APIView):
    """The expert's phrase library: their own phrases and their specialties' (GET), a new own phrase (POST)."""

    @extend_schema(parameters=[OpenApiParameter("kind", str, enum=Report.Kind.values)], responses=PhraseOut(many=True))
    def get(self, request):
        kind = request.query_params.get("kind", "")
        if kind and kind not in Report.Kind.values:
            raise InvalidInput(f"kind: one of {', '.join(Report.Kind.values)}.", code="bad_filter")
        return Response(PhraseOut(phrases.phrase_list(user=request.user, kind=kind), many=True).data)

    @extend_schema(request=PhraseIn, responses={201: PhraseOut})
    def post(self, request):
        data = validated(PhraseIn, request.data)
        phrase = phrases.phrase_create(user=request.user, **data)
        return Response(PhraseOut(phrase).data, status=status.HTTP_201_CREATED)


class PhraseView(APIView):
    """One of the expert's own phrases: change (PATCH) or delete it; anyone else's is a 404."""

    @extend_schema(request=PhrasePatch, responses=PhraseOut)
    def patch(self, request, phrase_id: int):
        data = validated(PhrasePatch, request.data)
        phrase = phrases.phrase_update(user=request.user, phrase_id=phrase_id, changes=data)
        return Response(PhraseOut(phrase).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, phrase_id: int):
        phrases.phrase_delete(user=request.user, phrase_id=phrase_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplatesView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(templates_description())


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



class QualitySampleIn(StrictSerializer):
    share = serializers.FloatField(min_value=0.001, max_value=1)
    seed = serializers.IntegerField(required=False, allow_null=True, default=None)


class QualityRecordIn(StrictSerializer):
    agreement = serializers.ChoiceField(choices=QualitySample.Agreement.choices)
    comment = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class QualitySampleOut(serializers.ModelSerializer):
    report = serializers.IntegerField(source="version.report_id", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    second_reader = serializers.IntegerField(source="second_reader.user_id", read_only=True)

    class Meta:
        model = QualitySample
        fields = ["id", "report", "version", "second_reader", "sampled_at", "agreement", "comment", "read_at"]


class QualitySamplesView(APIView):
    @extend_schema(request=QualitySampleIn, responses={201: QualitySampleOut(many=True)})
    def post(self, request):
        data = validated(QualitySampleIn, request.data)
        samples = quality.quality_sample(by=request.user, share=data["share"], seed=data["seed"])
        return Response(QualitySampleOut(samples, many=True).data, status=status.HTTP_201_CREATED)


class QualityReadOut(QualitySampleOut):
    kind = serializers.CharField()
    study_ref = serializers.CharField(allow_null=True)
    content = serializers.JSONField()

    class Meta(QualitySampleOut.Meta):
        fields = QualitySampleOut.Meta.fields + ["kind", "study_ref", "content"]


class QualityFigureOut(serializers.Serializer):
    expert_id = serializers.IntegerField(allow_null=True)
    expert = serializers.CharField()
    sampled = serializers.IntegerField()
    read = serializers.IntegerField()
    agree = serializers.IntegerField()
    minor = serializers.IntegerField()
    major = serializers.IntegerField()
    agreement_rate = serializers.FloatField(allow_null=True)


class QualityReadsView(APIView):
    """The second reader's list: each sampled version with the original reading to compare against."""

    @extend_schema(responses=QualityReadOut(many=True))
    def get(self, request):
        rows = selectors.quality_reads(user=request.user, request=request)
        return Response([dict(QualitySampleOut(s).data, kind=s.version.report.kind,
                              study_ref=s.version.report.study_ref, content=s.version.content) for s in rows])


class QualityRecordView(APIView):
    @extend_schema(request=QualityRecordIn, responses=QualitySampleOut, operation_id="reports_quality_record")
    def post(self, request, sample_id: int):
        data = validated(QualityRecordIn, request.data)
        sample = quality.quality_record(sample_id=sample_id, by=request.user, agreement=data["agreement"],
                                        comment=data["comment"], request=request)
        return Response(QualitySampleOut(sample).data)


class QualityFiguresView(APIView):
    @extend_schema(responses=QualityFigureOut(many=True))
    def get(self, request):
        return Response(report_statistics.quality_figures(user=request.user))


class TurnaroundView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(report_statistics.turnaround(user=request.user, days=_days(request)))


class TurnaroundPageView(APIView):
    """The coordinators' page: the same figures as the API, as HTML tables."""

    renderer_classes = [TemplateHTMLRenderer]

    @extend_schema(exclude=True)
    def get(self, request):
        figures = report_statistics.turnaround(user=request.user, days=_days(request))
        return Response({"figures": figures, "steps": report_statistics.STEPS,
                         "quality": report_statistics.quality_figures(user=request.user)},
                        template_name="reports/turnaround.html")


def _days(request) -> int:
    value = request.query_params.get("days", "30")
    if not (value.isascii() and value.isdigit()) or int(value) > 36600:  # a century: beyond it dates overflow
        raise InvalidInput("'days' must be a whole number up to 36600.")
    return int(value)
