"""How the DICOMweb endpoints appear in the OpenAPI schema: their Bearer scheme, query keys and media types.

STOW-RS (a multipart/related request of DICOM parts) is not in the schema: OpenAPI cannot state
a multipart/related request body; tests/studies/test_dicomweb.py stores with the unmodified
dicomweb-client instead. The WADO-RS replies are documented as multipart/related binaries.
"""
import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

DICOM_JSON = "application/dicom+json"


class BearerScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <API token>` (OHIF, dicomweb-client); distinct from DRF's `Token` scheme."""

    target_class = "studies.dicomweb.views.BearerAuthentication"
    name = "dicomwebBearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "the user's API token, as `Bearer <token>`"}


class DicomWebSchema(AutoSchema):
    """One view answers at several depths (study, series, instance): name operations by their whole path."""

    def get_operation_id(self):
        words = re.sub(r"[{}]", "", self.path).strip("/").replace("/", "_")
        return f"{words}_{self.method.lower()}"


def _param(name: str, description: str, type_=str) -> OpenApiParameter:
    return OpenApiParameter(name, type_, description=description)


PAGE = [_param("limit", "rows per page (default 100, at most 1000)", int), _param("offset", "rows to skip", int)]
STUDY_KEYS = [_param("PatientID", "health-record number or DICOM PatientID; * and ? wildcards"),
              _param("PatientName", "* and ? wildcards"), _param("StudyDate", "YYYYMMDD or YYYYMMDD-YYYYMMDD"),
              _param("StudyInstanceUID", "one or more UIDs, comma-separated"), _param("AccessionNumber", ""),
              _param("ModalitiesInStudy", "one or more modalities, comma-separated")]
SERIES_KEYS = [_param("SeriesInstanceUID", "one or more UIDs, comma-separated"), _param("Modality", ""),
               _param("SeriesNumber", "", int)]
INSTANCE_KEYS = [_param("SOPInstanceUID", "one or more UIDs, comma-separated"), _param("SOPClassUID", ""),
                 _param("InstanceNumber", "", int)]

DICOM_JSON_LIST = {(200, DICOM_JSON): OpenApiResponse(
    {"type": "array", "items": {"type": "object", "additionalProperties": True}},
    description="DICOM JSON (PS3.18 F.2): one object per match, keyed by tag")}


def multipart_related(description: str) -> dict:
    return {(200, "multipart/related"): OpenApiResponse(OpenApiTypes.BINARY, description=description)}


RENDERED = {(200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description="the frame, windowed")
            for media_type in ("image/jpeg", "image/png")}
WINDOW = [_param("window", "center,width[,function]")]
