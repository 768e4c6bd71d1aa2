"""DICOMweb endpoints: STOW-RS, QIDO-RS, WADO-RS. Token auth; every read permission-checked and audited.

Replies that carry DICOM JSON have exactly `application/dicom+json` as Content-Type: the
dicomweb-client ignores a STOW reply whose type carries parameters such as a charset.
"""
import json

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.views import APIView

from teleclinic.auth import ExpiringTokenAuthentication as TokenAuthentication

from ..errors import DomainError, InvalidInput, NotFound, TooLarge
from ..formats.dicom_header import file_meta_uids
from ..formats.errors import FormatError
from ..selectors import audit_listed, instance_list, series_list, study_list
from ..services.dicom_store import ingest_dicom_batch
from ..services.sources import Source
from . import qido, wado
from .multipart import build_related, parse_related
from .schema import (DICOM_JSON, DICOM_JSON_LIST, INSTANCE_KEYS, PAGE, RENDERED, SERIES_KEYS, STUDY_KEYS, WINDOW,
                     DicomWebSchema, multipart_related)


class BearerAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>` as OHIF and dicomweb-client send it; `Token <token>` works too."""

    keyword = "Bearer"


def dicom_json(payload, status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps(payload), status=status)
    response["Content-Type"] = DICOM_JSON
    return response


class DicomWebView(APIView):
    authentication_classes = [BearerAuthentication, TokenAuthentication, SessionAuthentication]  # the in-browser viewer reads with its session
    schema = DicomWebSchema()

    def perform_content_negotiation(self, request, force=False):
        # Replies are built here per the DICOMweb Accept rules; DRF's renderers only write error bodies.
        return super().perform_content_negotiation(request, force=True)

    def base_url(self, request) -> str:
        return request.build_absolute_uri("/dicomweb")


class StudiesView(DicomWebView):
    @extend_schema(parameters=[*STUDY_KEYS, *PAGE], responses=DICOM_JSON_LIST)
    def get(self, request):
        rows = qido.filter_studies(study_list(user=request.user), request.query_params)
        page = qido.page(rows.annotate(n_series=Count("series", distinct=True),
                                       n_instances=Count("series__instances", distinct=True))
                         .prefetch_related("series", "patient"), request.query_params)
        audit_listed(user=request.user, rows=page, request=request, interface="dicomweb")
        return dicom_json([qido.study_json(s, self.base_url(request)) for s in page])

    @extend_schema(exclude=True)  # a multipart/related request: see .schema
    def post(self, request):
        return stow(request, self.base_url(request))


def stow(request, base: str, study: str | None = None) -> HttpResponse:
    """STOW-RS: each part an application/dicom instance, ingested like an upload, the request as one batch.

    To /studies/{study}: an instance of another study is refused in the reply (PS3.18 10.5.3)."""
    body = request._request.read(settings.STUDIES_MAX_UPLOAD_BYTES + 1)
    if len(body) > settings.STUDIES_MAX_UPLOAD_BYTES:
        raise TooLarge("The STOW-RS request is larger than the upload limit; send fewer instances per request.")
    source = Source(by=request.user, organisation=request.user.organisation, interface="dicomweb")
    stored, failed, instances = [], [], []
    for headers, content in parse_related(body, request.META.get("CONTENT_TYPE", "")):
        part_type = headers.get("content-type", "application/dicom").split(";")[0].strip().lower()
        if part_type != "application/dicom":
            failed.append(({}, 0xC000, f"part type {part_type} is not application/dicom"))
            continue
        instances.append(content)
    # one batch: files made durable together, one transaction; a bad part gets its error, the others are stored
    for content, result in zip(instances, ingest_dicom_batch(datas=instances, source=source, study=study)):
        if isinstance(result, (FormatError, DomainError)):
            reason = STUDY_MISMATCH if result.code == "study_mismatch" else 0xC000
            failed.append((_uids(content), reason, result.message))
        else:
            stored.append(result.instance)
    status = 200 if not failed else (202 if stored else 409)
    return dicom_json(wado.stow_reply(stored, failed, base), status=status)


STUDY_MISMATCH = 0xC409  # "Study Instance UID does not match the request's" (as dcm4chee reports it)


def _uids(content: bytes) -> dict:
    """Best effort for the failure list: the SOP class and instance UIDs from the file meta."""
    return file_meta_uids(content)


class SeriesSearchView(DicomWebView):
    @extend_schema(parameters=[*SERIES_KEYS, *PAGE], responses=DICOM_JSON_LIST)
    def get(self, request, study=None):
        rows = series_list(user=request.user)
        if study:
            rows = rows.filter(study__study_instance_uid=study)
        rows = qido.filter_series(rows, request.query_params)
        page = qido.page(rows.annotate(n_instances=Count("instances", distinct=True)), request.query_params)
        audit_listed(user=request.user, rows={s.study for s in page}, request=request, interface="dicomweb")
        return dicom_json([qido.series_json(s, self.base_url(request)) for s in page])


class InstancesSearchView(DicomWebView):
    @extend_schema(parameters=[*INSTANCE_KEYS, *PAGE], responses=DICOM_JSON_LIST)
    def get(self, request, study=None, series=None):
        rows = instance_list(user=request.user)
        if study:
            rows = rows.filter(series__study__study_instance_uid=study)
        if series:
            rows = rows.filter(series__series_instance_uid=series)
        page = qido.page(qido.filter_instances(rows, request.query_params), request.query_params)
        audit_listed(user=request.user, rows={i.series.study for i in page}, request=request, interface="dicomweb")
        return dicom_json([qido.instance_json(i, self.base_url(request)) for i in page])


def _instances(request, study, series=None, instance=None):
    rows = instance_list(user=request.user).filter(series__study__study_instance_uid=study)
    if series:
        rows = rows.filter(series__series_instance_uid=series)
    if instance:
        rows = rows.filter(sop_instance_uid=instance)
    rows = list(rows.order_by("series__series_number", "instance_number", "id"))
    if not rows:
        raise NotFound("No such study, series or instance in your reach.")
    audit_listed(user=request.user, rows={i.series.study for i in rows}, request=request, interface="dicomweb")
    return rows


class RetrieveView(DicomWebView):
    """WADO-RS: the instances (preamble zeroed) as multipart/related; type="application/dicom", in
    Explicit VR Little Endian unless the Accept header names the stored syntax or transfer-syntax=*."""

    @extend_schema(responses=multipart_related('application/dicom parts: the instances, preamble zeroed'))
    def get(self, request, study, series=None, instance=None):
        syntax = wado.retrieve_syntax(request.headers.get("Accept", ""))
        rows = _instances(request, study, series, instance)
        parts = [wado.instance_in_syntax(i, syntax) for i in rows]
        body, content_type = build_related([(f"application/dicom; transfer-syntax={ts}", data) for data, ts in parts],
                                           "application/dicom")
        return HttpResponse(body, content_type=content_type)


class StudyView(RetrieveView):
    """/studies/{study}: WADO-RS retrieve (GET) and STOW-RS into that study (POST)."""

    @extend_schema(exclude=True)  # a multipart/related request: see .schema
    def post(self, request, study):
        return stow(request, self.base_url(request), study=study)


class ThumbnailView(DicomWebView):
    """Thumbnail (PS3.18 9.5 / 10.4.1.1.3): a representative frame rendered small, JPEG unless PNG is asked
    for; ?viewport=width,height bounds it (default 128x128)."""

    @extend_schema(responses=RENDERED)
    def get(self, request, study, series=None, instance=None, frames=None):
        from ..api import render_instance_frame

        rows = [i for i in _instances(request, study, series, instance) if i.rows]
        if not rows:
            raise NotFound("Nothing here has an image to show.")
        row = rows[len(rows) // 2] if instance is None else rows[0]  # the middle slice of a series
        number = wado.frame_numbers(frames, row.number_of_frames)[0] if frames else 1
        rendered = render_instance_frame(row, frame=number, image_format=_image_format(request),
                                         max_size=_viewport(request.query_params.get("viewport", "")))
        return HttpResponse(rendered.content, content_type=rendered.media_type,
                            headers={"Cache-Control": "private, max-age=3600"})


def _image_format(request) -> str:
    """PNG if asked for (the `accept` query parameter, as OHIF sends it, or the Accept header), else JPEG."""
    accept = request.query_params.get("accept") or request.headers.get("Accept", "")
    return "png" if "image/png" in accept and "image/jpeg" not in accept else "jpeg"


def _viewport(text: str) -> tuple[int, int]:
    if not text:
        return (128, 128)
    try:
        width, height = [int(v) for v in text.split(",")[:2]]
    except ValueError:
        raise InvalidInput("viewport must be width,height in pixels.", code="bad_viewport")
    if not (0 < width <= 2048 and 0 < height <= 2048):
        raise InvalidInput("viewport must be width,height between 1 and 2048.", code="bad_viewport")
    return (width, height)


class MetadataView(DicomWebView):
    @extend_schema(responses=DICOM_JSON_LIST)
    def get(self, request, study, series=None, instance=None):
        rows = _instances(request, study, series, instance)
        base = self.base_url(request)
        response = HttpResponse("[" + ",".join(wado.metadata_json_text(i, base) for i in rows) + "]")
        response["Content-Type"] = DICOM_JSON
        return response


class FramesView(DicomWebView):
    @extend_schema(responses=multipart_related("application/octet-stream parts: the frames, uncompressed"))
    def get(self, request, study, series, instance, frames):
        row = _instances(request, study, series, instance)[0]
        numbers = wado.frame_numbers(frames, row.number_of_frames)
        body, content_type = build_related(
            [("application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", wado.native_frame(row, n))
             for n in numbers], "application/octet-stream")
        return HttpResponse(body, content_type=content_type)


class BulkdataView(DicomWebView):
    @extend_schema(responses=multipart_related("one application/octet-stream part: the value"))
    def get(self, request, study, series, instance, tag):
        row = _instances(request, study, series, instance)[0]
        body, content_type = build_related([("application/octet-stream", wado.bulk_value(row, tag))],
                                           "application/octet-stream")
        return HttpResponse(body, content_type=content_type)


class RenderedView(DicomWebView):
    """Rendered (PS3.18 9.5): ?window=center,width[,function]; Accept image/png or image/jpeg (default)."""

    @extend_schema(parameters=WINDOW, responses=RENDERED)
    def get(self, request, study, series, instance, frames="1"):
        from ..api import render_instance_frame

        row = _instances(request, study, series, instance)[0]
        number = wado.frame_numbers(frames, row.number_of_frames)[0]
        center = width = None
        if request.query_params.get("window"):
            try:
                center, width = [float(v) for v in request.query_params["window"].split(",")[:2]]
            except ValueError:
                raise InvalidInput("window must be center,width[,function].", code="bad_window")
        rendered = render_instance_frame(row, frame=number, window_center=center, window_width=width,
                                         image_format=_image_format(request))
        return HttpResponse(rendered.content, content_type=rendered.media_type)

