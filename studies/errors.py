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


class StudyOutOfReach(InvalidStudy):
    """An instance names a study (or repeats an instance) of another patient, or one out of the
    sender's reach: refused, never filed into it. Carries the study, so the refusal is audited under
    that study's patient."""

    code = "study_out_of_reach"

    def __init__(self, study, message: str = "This Study Instance UID is already in use for another patient or "
                 "organisation; give the images a new Study Instance UID, or send them within that study's "
                 "consultation.", code: str | None = None):
        super().__init__(message, code=code)
        self.study = study
