"""Quality control (second reads of a sample of signed reports) and turnaround figures for coordinators."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from teleclinic.api import StrictSerializer, validated
from teleclinic.errors import InvalidInput

from .. import selectors
from .. import statistics as report_statistics
from ..models import QualitySample
from ..services import quality


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
