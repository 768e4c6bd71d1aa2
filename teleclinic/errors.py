"""Domain errors and their one mapping to HTTP: a machine code and a message a user can act on."""
import sys

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """Base of every error a service raises for the user to read. Subclasses set status and code."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}  # more fields of the error body (e.g. the existing record a duplicate names)
        if code:
            self.code = code


class InvalidInput(DomainError):
    status, code = 400, "invalid"


class NotPermitted(DomainError):
    status, code = 403, "not_permitted"


class NotFound(DomainError):
    """Also raised for objects the user may not see, so that ids do not leak."""

    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class Gone(DomainError):
    status, code = 410, "gone"


class TooLarge(DomainError):
    status, code = 413, "too_large"


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            text = _first_message(value)
            return text if key in ("non_field_errors", "detail") else f"{key}: {text}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _codes(detail):
    if isinstance(detail, dict):
        return {k: _codes(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_codes(v) for v in detail]
    return str(detail)


def api_exception_handler(exc, context):
    """DRF's exception handler: every error body is {"code", "detail"} (+ "errors" per field)."""
    if isinstance(exc, DomainError):
        return Response({**exc.extra, "code": exc.code, "detail": exc.message}, status=exc.status)
    if isinstance(exc, drf.ValidationError):
        return Response(
            {"code": "invalid", "detail": _first_message(exc.detail), "errors": _codes(exc.detail)},
            status=400,
        )
    if isinstance(exc, drf.ParseError):
        return Response({"code": "malformed", "detail": str(exc.detail)}, status=400)
    if isinstance(exc, Http404):
        return Response({"code": "not_found", "detail": "Not found."}, status=404)
    if isinstance(exc, PermissionDenied):
        return Response({"code": "not_permitted", "detail": str(exc) or "Not permitted."}, status=403)
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, drf.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
        response.data = {"code": code, "detail": _first_message(exc.detail)}
    return response


def server_error(request, *args, **kwargs):
    """handler500: an error no view handled answers in JSON like every other error, never Django's HTML page.

    A database that is busy or unreachable (SQLite's "database is locked" past its timeout, PostgreSQL
    restarting) is a 503 the client may retry; anything else is a 500 with no internals in it.
    """
    from django.db import OperationalError
    from django.http import JsonResponse

    exc = sys.exc_info()[1]
    if isinstance(exc, OperationalError):
        response = JsonResponse({"code": "database_busy", "detail": "The database is busy; try again in a moment."},
                                status=503)
        response["Retry-After"] = "2"
        return response
    return JsonResponse({"code": "server_error", "detail": "Something went wrong on the server; it has been logged."},
                        status=500)
