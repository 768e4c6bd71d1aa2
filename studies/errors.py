"""Errors of the studies app, mapped to HTTP by teleclinic.errors (one place)."""
from teleclinic.errors import Conflict, DomainError, Gone, InvalidInput, NotFound, TooLarge  # noqa: F401


class InvalidStudy(DomainError):
    """The uploaded file cannot be ingested; code is the formats library's (or ours), message for the uploader."""

    status, code = 422, "invalid_study"


class UploadConflict(Conflict):
    code = "offset_mismatch"


class UploadGone(Gone):
    code = "upload_gone"


class ChecksumMismatch(DomainError):
    """tus checksum extension: the chunk's digest differs; the offset is unchanged."""

    status, code = 460, "checksum_mismatch"


class NotAcceptable(DomainError):
    """DICOMweb: no representation the Accept header allows can be made (PS3.18 8.7.3)."""

    status, code = 406, "not_acceptable"
