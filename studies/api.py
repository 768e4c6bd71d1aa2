"""Serving studies to the viewers: ECG samples and measurements, DICOM frames, photos. Thin views."""
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .errors import InvalidInput, InvalidStudy
from .formats import render_frame
from .formats.ecg.serve import ecg_samples_json
from .formats.errors import FormatError
from .selectors import ecg_get, ecg_signal, imaging_study_get, instance_bytes, instance_get, photo_get
from .services.storage import media_path


# These views build their replies by hand (no serializer), so drf-spectacular could only guess
# them; they stay out of the OpenAPI schema until they are described (they were skipped already).
NOT_IN_SCHEMA = extend_schema(exclude=True)


@NOT_IN_SCHEMA
class EcgView(APIView):
    def get(self, request, ecg_id):
        ecg = ecg_get(user=request.user, ecg_id=ecg_id, request=request)
        return Response({
            "id": ecg.pk, "patient": ecg.patient_id, "consultation": ecg.consultation_id,
            "source_format": ecg.source_format, "sampling_rate": ecg.sampling_rate, "leads": ecg.lead_names,
            "derived_leads": ecg.derived_leads, "duration_s": round(ecg.duration_s, 3),
            "device_measurements": {"source": "device", "values": ecg.device_measurements,
                                    "statements": ecg.device_statements},
            "computed_measurements": {"source": "computed", "values": ecg.computed_measurements,
                                      "error": ecg.measurement_error or None},
            "critical_findings": ecg.critical_findings, "created_at": ecg.created_at,
            "samples_url": f"/api/ecgs/{ecg.pk}/samples/?overview=1"})


class EcgSamplesQuery(serializers.Serializer):
    overview = serializers.BooleanField(default=False)
    leads = serializers.CharField(required=False, allow_blank=True, max_length=200)
    start = serializers.FloatField(default=0.0, min_value=0.0)
    end = serializers.FloatField(required=False, min_value=0.0)
    encoding = serializers.ChoiceField(choices=["int-list", "int16-le-base64"], default="int16-le-base64")


@NOT_IN_SCHEMA
class EcgSamplesView(APIView):
    """?overview=1 for the whole record downsampled; else full resolution for ?leads=&start=&end= (seconds)."""

    def get(self, request, ecg_id):
        query = EcgSamplesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        ecg = ecg_get(user=request.user, ecg_id=ecg_id, request=request)
        leads = [n for n in q.get("leads", "").split(",") if n] or None
        try:
            body = ecg_samples_json(ecg_signal(ecg), leads=leads, start_s=q["start"], end_s=q.get("end"),
                                    overview=q["overview"], encoding=q["encoding"])
        except FormatError as exc:
            raise InvalidInput(exc.message, code=exc.code)
        return Response(body)


@NOT_IN_SCHEMA
class ImagingStudyView(APIView):
    def get(self, request, study_id):
        study = imaging_study_get(user=request.user, study_id=study_id, request=request)
        series = study.series.prefetch_related("instances")
        return Response({
            "id": study.pk, "study_instance_uid": study.study_instance_uid, "patient": study.patient_id,
            "consultation": study.consultation_id, "study_date": study.study_date, "description": study.description,
            "series": [{"series_instance_uid": s.series_instance_uid, "modality": s.modality,
                        "number": s.series_number, "description": s.description,
                        "instances": [{"id": i.pk, "sop_instance_uid": i.sop_instance_uid, "frames": i.number_of_frames,
                                       "rows": i.rows, "columns": i.columns,
                                       "rendered_url": f"/api/instances/{i.pk}/frames/1/rendered/"}
                                      for i in s.instances.all()]} for s in series]})


class RenderQuery(serializers.Serializer):
    window_center = serializers.FloatField(required=False)
    window_width = serializers.FloatField(required=False)
    image_format = serializers.ChoiceField(choices=["png", "jpeg"], default="png")  # not "format": DRF owns it


@NOT_IN_SCHEMA
class FrameRenderedView(APIView):
    """One frame (1-based, as in DICOMweb) rendered with window/level to PNG or JPEG."""

    def get(self, request, instance_id, frame):
        query = RenderQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        instance = instance_get(user=request.user, instance_id=instance_id, request=request)
        rendered = render_instance_frame(instance, frame=frame, **query.validated_data)
        return HttpResponse(rendered.content, content_type=rendered.media_type,
                            headers={"Cache-Control": "private, max-age=3600",
                                     "X-Window": f"{rendered.window_center},{rendered.window_width},"
                                                 f"{rendered.window_source}"})


def render_instance_frame(instance, *, frame: int, window_center=None, window_width=None, image_format="png"):
    if frame < 1 or (instance.number_of_frames and frame > instance.number_of_frames):
        raise InvalidInput(f"Frame {frame} is outside 1-{max(instance.number_of_frames, 1)}.", code="bad_frame")
    try:
        return render_frame(instance_bytes(instance), frame=frame - 1, window_center=window_center,
                            window_width=window_width, image_format=image_format)
    except FormatError as exc:
        raise InvalidStudy(exc.message, code=exc.code)


@NOT_IN_SCHEMA
class PhotoView(APIView):
    def get(self, request, photo_id):
        photo = photo_get(user=request.user, photo_id=photo_id, request=request)
        return HttpResponse(media_path(photo.file).read_bytes(), content_type=photo.media_type,
                            headers={"Cache-Control": "private, max-age=3600"})
