"""The tus 1.0.0 endpoints under /api/uploads/: protocol in, one service call, protocol out.

Auth is the API's (session or token); every response carries the tus headers, errors
included, so unmodified tus clients (tuspy, tus-js-client) read them.
"""
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.views import APIView

from . import tus
from .selectors import upload_get, upload_list
from .services.uploads import check_open, max_upload_bytes, upload_append, upload_create, upload_terminate


# The tus resumable-upload protocol (tus.io, v1.0.0) is its own specification, spoken by unmodified
# tus clients; it is left out of the OpenAPI schema rather than described there wrongly.
@extend_schema(exclude=True)
class TusView(APIView):
    """Shared tus behaviour: version check, method override, CORS and tus headers on every response."""

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "OPTIONS" else [IsAuthenticated()]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in ("OPTIONS", "GET") and request.headers.get("Tus-Resumable") != tus.VERSION:
            raise _Precondition()

    def handle_exception(self, exc):
        if isinstance(exc, _Precondition):
            return HttpResponse(status=412, headers={"Tus-Version": tus.VERSION})
        if isinstance(exc, tus.TusError):
            return JsonResponse({"code": exc.code, "detail": exc.message}, status=exc.status)
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = tus.VERSION
        response["Access-Control-Expose-Headers"] = tus.EXPOSE_HEADERS
        origin = request.headers.get("Origin")
        if origin and origin in settings.STUDIES_CORS_ORIGINS:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Credentials"] = "true"
            response["Vary"] = "Origin"
        return response

    def options(self, request, *args, **kwargs):
        return HttpResponse(status=204, headers={
            "Tus-Version": tus.VERSION, "Tus-Extension": tus.EXTENSIONS, "Tus-Max-Size": str(max_upload_bytes()),
            "Tus-Checksum-Algorithm": tus.CHECKSUM_ALGORITHMS, "Access-Control-Allow-Methods": tus.ALLOW_METHODS,
            "Access-Control-Allow-Headers": tus.ALLOW_HEADERS, "Access-Control-Max-Age": "86400"})


class _Precondition(Exception):
    pass


def upload_json(upload) -> dict:
    return {
        "id": str(upload.pk), "filename": upload.filename, "kind": upload.kind, "state": upload.state,
        "offset": upload.offset, "length": upload.length, "sha256": upload.sha256,
        "consultation": upload.consultation_id, "patient": upload.patient_id,
        "error": {"code": upload.error_code, "detail": upload.error_message} if upload.error_code else None,
        "result": upload.result or None, "created_at": upload.created_at.isoformat(),
        "expires_at": upload.expires_at.isoformat()}


class UploadCreateView(TusView):
    def get(self, request):
        """Not tus: the caller's recent uploads with their states and errors (?state=failed to filter)."""
        rows = upload_list(user=request.user, state=request.query_params.get("state", ""))[:100]
        return JsonResponse({"results": [upload_json(u) for u in rows]})

    def post(self, request):
        if request.headers.get("Upload-Defer-Length"):
            raise tus.TusError(400, "defer_length_unsupported", "Declare Upload-Length at creation.")
        length = tus.parse_length(request.headers.get("Upload-Length"), "Upload-Length")
        metadata = tus.parse_metadata(request.headers.get("Upload-Metadata"))
        upload = upload_create(by=request.user, length=length, metadata=metadata, request=request)
        return HttpResponse(status=201, headers={
            "Location": request.build_absolute_uri(f"{upload.pk}/"),
            "Upload-Expires": tus.http_date(upload.expires_at), "Upload-Offset": str(upload.offset)})


class UploadView(TusView):
    def head(self, request, upload_id):
        upload = upload_get(user=request.user, upload_id=upload_id)
        check_open(upload)
        return HttpResponse(status=200, headers={
            "Upload-Offset": str(upload.offset), "Upload-Length": str(upload.length), "Cache-Control": "no-store",
            "Upload-Expires": tus.http_date(upload.expires_at),
            "Upload-Metadata": tus.encode_metadata({"filename": upload.filename, "kind": upload.kind})})

    def get(self, request, upload_id):
        """Not tus: the upload's status for the uploader, with the ingest's error or result."""
        return JsonResponse(upload_json(upload_get(user=request.user, upload_id=upload_id)))

    def patch(self, request, upload_id):
        if request.content_type != tus.OFFSET_CONTENT_TYPE:
            raise tus.TusError(415, "bad_content_type", f"PATCH bodies must be {tus.OFFSET_CONTENT_TYPE}.")
        offset = tus.parse_length(request.headers.get("Upload-Offset"), "Upload-Offset")
        checksum = tus.parse_checksum(request.headers.get("Upload-Checksum"))
        upload = upload_append(upload_id=upload_get(user=request.user, upload_id=upload_id).pk, by=request.user,
                               offset=offset, body=request._request, checksum=checksum)
        return HttpResponse(status=204, headers={"Upload-Offset": str(upload.offset),
                                                 "Upload-Expires": tus.http_date(upload.expires_at)})

    def delete(self, request, upload_id):
        upload_terminate(upload_id=upload_get(user=request.user, upload_id=upload_id).pk, by=request.user)
        return HttpResponse(status=204)

    def post(self, request, upload_id):
        """X-HTTP-Method-Override (tus-js-client's overridePatchMethod) for proxies that drop PATCH."""
        override = request.headers.get("X-HTTP-Method-Override", "").upper()
        handler = {"PATCH": self.patch, "DELETE": self.delete, "HEAD": self.head}.get(override)
        if handler is None:
            raise tus.TusError(405, "method_not_allowed", "POST an upload only with X-HTTP-Method-Override.")
        return handler(request, upload_id)
