"""Serving studies to the viewers: ECG samples and measurements, DICOM frames, photos. Thin views."""
import math

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .errors import InvalidInput, InvalidStudy
from .formats import render_frame
from .formats.ecg.serve import ecg_samples_json
from .formats.errors import FormatError
from .selectors import (consultation_studies, ecg_get, ecg_signal, imaging_study_get, instance_bytes, instance_get,
                        photo_get, report_key_images_read, unmatched_studies_read)
from .serializers import (EcgOut, EcgSamplesOut, EcgSamplesQuery, ImagingStudyOut, KeyImageOut, KeyImagesIn,
                          RenderQuery, StudyMatchIn, UnmatchedStudyOut, ecg_out, images, imaging_study_out,
                          key_image_out, unmatched_study_out)
from .services.key_images import KeyImagePick, key_images_set
from .services.reconcile import study_match
from .services.storage import media_path


class ConsultationStudyOut(serializers.Serializer):
    type = serializers.ChoiceField(choices=["ecg", "imaging"])
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    study_instance_uid = serializers.CharField(required=False)


class ConsultationStudiesView(APIView):
    """The ECGs and imaging studies of one consultation, newest first (the reading page's tabs)."""

    @extend_schema(responses=ConsultationStudyOut(many=True))
    def get(self, request, consultation_id):
        return Response(consultation_studies(user=request.user, consultation_id=consultation_id, request=request))


class EcgView(APIView):
    @extend_schema(responses=EcgOut)
    def get(self, request, ecg_id):
        return Response(ecg_out(ecg_get(user=request.user, ecg_id=ecg_id, request=request)))


class EcgSamplesView(APIView):
    """?overview=1 for the whole record downsampled; else full resolution for ?leads=&start=&end= (seconds)."""

    @extend_schema(parameters=[EcgSamplesQuery], responses=EcgSamplesOut)
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
        return Response(EcgSamplesOut(body).data)


class ImagingStudyView(APIView):
    @extend_schema(responses=ImagingStudyOut)
    def get(self, request, study_id):
        return Response(imaging_study_out(imaging_study_get(user=request.user, study_id=study_id, request=request)))


class UnmatchedStudiesView(APIView):
    """Studies sent for patients nobody here knows, waiting for the sender's staff to match them."""

    @extend_schema(responses=UnmatchedStudyOut(many=True))
    def get(self, request):
        return Response([unmatched_study_out(s) for s in unmatched_studies_read(user=request.user, request=request)])


class StudyMatchView(APIView):
    """File an unmatched study under a patient (and one of their consultations, to have it read)."""

    @extend_schema(request=StudyMatchIn, responses=ImagingStudyOut)
    def post(self, request, study_id):
        body = StudyMatchIn(data=request.data)
        body.is_valid(raise_exception=True)
        study = study_match(by=request.user, study_id=study_id, patient_id=body.validated_data["patient"],
                            consultation_id=body.validated_data.get("consultation"), request=request)
        return Response(imaging_study_out(study))


class ReportKeyImagesView(APIView):
    """The key images the expert picked for an imaging report (drawn on its PDF); PUT replaces the whole choice."""

    @extend_schema(responses=KeyImageOut(many=True))
    def get(self, request, report_id):
        return Response([key_image_out(r) for r in report_key_images_read(user=request.user, report_id=report_id,
                                                                            request=request)])

    @extend_schema(request=KeyImagesIn, responses=KeyImageOut(many=True))
    def put(self, request, report_id):
        body = KeyImagesIn(data=request.data)
        body.is_valid(raise_exception=True)
        picks = [KeyImagePick(instance_id=p["instance"], frame=p["frame"], window_center=p["window_center"],
                              window_width=p["window_width"]) for p in body.validated_data["key_images"]]
        key_images_set(report_id=report_id, by=request.user, picks=picks, request=request)
        return Response([key_image_out(r) for r in report_key_images_read(user=request.user, report_id=report_id)])


class FrameRenderedView(APIView):
    """One frame (1-based, as in DICOMweb) rendered with window/level to PNG or JPEG."""

    @extend_schema(parameters=[RenderQuery],
                   responses=images("image/png", "image/jpeg", description="the frame, windowed (see X-Window)"))
    def get(self, request, instance_id, frame):
        query = RenderQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        instance = instance_get(user=request.user, instance_id=instance_id, request=request)
        rendered = render_instance_frame(instance, frame=frame, **query.validated_data)
        return HttpResponse(rendered.content, content_type=rendered.media_type,
                            headers={"Cache-Control": "private, max-age=3600",
                                     "X-Window": f"{rendered.window_center},{rendered.window_width},"
                                                 f"{rendered.window_source}"})


def render_instance_frame(instance, *, frame: int, window_center=None, window_width=None, image_format="png",
                          max_size: tuple[int, int] | None = None):
    """The frame as an image; a window the caller asked for is checked here, so that the renderer's
    refusals (422) are about the stored file only, never about the request."""
    _check_window(window_center, window_width)
    if frame < 1 or (instance.number_of_frames and frame > instance.number_of_frames):
        raise InvalidInput(f"Frame {frame} is outside 1-{max(instance.number_of_frames, 1)}.", code="bad_frame")
    try:
        return render_frame(instance_bytes(instance), frame=frame - 1, window_center=window_center,
                            window_width=window_width, image_format=image_format, max_size=max_size)
    except FormatError as exc:
        raise InvalidStudy(exc.message, code=exc.code)


def _check_window(center: float | None, width: float | None) -> None:
    if (center is None) != (width is None):
        raise InvalidInput("Give both window centre and width, or neither.", code="bad_window")
    if width is not None and not (math.isfinite(center) and math.isfinite(width) and width > 0):
        raise InvalidInput("The window centre must be a number and its width a positive number.", code="bad_window")


class PhotoView(APIView):
    @extend_schema(responses=images("image/jpeg", "image/png", description="the photo, re-encoded without metadata"))
    def get(self, request, photo_id):
        photo = photo_get(user=request.user, photo_id=photo_id, request=request)
        return HttpResponse(media_path(photo.file).read_bytes(), content_type=photo.media_type,
                            headers={"Cache-Control": "private, max-age=3600"})

