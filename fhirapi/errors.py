"""FHIR errors: every error of the FHIR base is an OperationOutcome (never Django's or DRF's bodies).

The machine code the rest of the API puts in {"code"} travels as `details.coding[0].code`
(system ISSUE_CODES) and the text a user can act on as `diagnostics`.
"""
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from teleclinic.errors import DomainError

ISSUE_CODES = "urn:teleclinic:error-code"
# HTTP status -> FHIR issue type (http://hl7.org/fhir/issue-type)
ISSUE_TYPE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
              406: "not-supported", 410: "deleted", 413: "too-costly", 415: "not-supported", 429: "throttled"}


class FhirError(DomainError):
    """An error of a FHIR request: status, machine code, diagnostics."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid"):
        super().__init__(message, code=code)
        self.status = status


def outcome(status: int, code: str, diagnostics: str, *, severity: str = "error") -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": ISSUE_TYPE.get(status, "processing" if status >= 500 else "invalid"),
                   "details": {"coding": [{"system": ISSUE_CODES, "code": code}], "text": diagnostics},
                   "diagnostics": diagnostics}],
    }


def fhir_exception_handler(exc, context):
    """The exception handler of every FHIR view (APIView.get_exception_handler)."""
    if isinstance(exc, DomainError):
        status, code, text = exc.status, exc.code, exc.message
    elif isinstance(exc, Http404):
        status, code, text = 404, "not_found", "No such resource in your reach."
    elif isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        status, code, text = 401, "not_authenticated", str(exc.detail)
    elif isinstance(exc, drf.APIException):
        status, code, text = exc.status_code, str(exc.default_code), str(exc.detail)
    else:
        return None  # a bug: the project's JSON 500 (teleclinic.errors.server_error)
    headers = {"WWW-Authenticate": 'Bearer realm="fhir"'} if status == 401 else None
    return Response(outcome(status, code, text), status=status, headers=headers)
