"""Request guards that hold for every view."""
from django.conf import settings
from django.http import JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class RejectNulBytesMiddleware:
    """A NUL byte in the path or a query parameter is refused with a 400 (PostgreSQL text cannot hold it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any("\x00" in key or any("\x00" in v for v in values)
                                         for key, values in request.GET.lists()):
            detail = "NUL bytes are not allowed in the URL."
            if request.path.startswith("/fhir/"):  # the FHIR base answers every error as an OperationOutcome
                return JsonResponse({"resourceType": "OperationOutcome", "issue": [{
                    "severity": "error", "code": "invalid", "diagnostics": detail,
                    "details": {"coding": [{"system": "urn:teleclinic:error-code", "code": "invalid"}], "text": detail}}]},
                    status=400, content_type="application/fhir+json")
            return JsonResponse({"code": "invalid", "detail": detail}, status=400)
        return self.get_response(request)


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    """Chinese unless the user chose another language with the switch (the language cookie).

    The browser's Accept-Language is not consulted: clinic machines are often set up in English
    while their users read Chinese, and DESIGN.md asks for Chinese first.
    """

    def process_request(self, request):
        code = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if code not in dict(settings.LANGUAGES):
            code = settings.LANGUAGE_CODE
        translation.activate(code)
        request.LANGUAGE_CODE = translation.get_language()


# What a page may load and run (issue 13): only this site's own scripts, styles and sockets; no
# inline script or style attribute, no plugin, not framed by another site. The camera's and the
# relay's streams are blob:/mediastream: URLs; the OHIF viewer (a vendored build) has its own policy
# (frontend.ohif.content_security_policy).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:", "font-src 'self' data:", "connect-src 'self'",
    "worker-src 'self' blob:", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
    "frame-ancestors 'self'",
])


class ContentSecurityPolicyMiddleware:
    """Sets CONTENT_SECURITY_POLICY on every response that has none (the OHIF viewer sets its own)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class SyncChainMiddleware:
    """Innermost and sync-only, so that the whole middleware chain runs in one thread per request.

    Under ASGI, Django gives a both-capable middleware (every `MiddlewareMixin`) async mode when the handler
    below it is async, and then runs each of its `process_request` / `process_response` through its own
    `sync_to_async` hop; WhiteNoise's and two of ours are sync-only, so a request went thread -> event loop ->
    thread several times. With a sync-only middleware innermost, every middleware above it takes sync mode:
    one hop into the request's thread at the top, one for the view. No view of the project is async.
    """

    sync_capable, async_capable = True, False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
