"""Exceptions raised by the medical file formats library.

Every failure to read an upload is a FormatError: ``code`` is stable and meant for
machines (API error bodies, metrics), ``message`` is for the person who uploaded
the file and says what to do about it. The Django side maps FormatError to its
InvalidStudy / HTTP 4xx in one place.
"""


class FormatError(Exception):
    """Base class: the upload cannot be used as it is."""

    code = "invalid_file"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"


class UnsupportedFormat(FormatError):
    code = "unsupported_format"


class FileTooLarge(FormatError):
    code = "file_too_large"


class DecompressionBomb(FormatError):
    code = "decompression_bomb"


class InvalidDicom(FormatError):
    code = "invalid_dicom"


class TruncatedFile(FormatError):
    code = "truncated_file"


class InvalidEcg(FormatError):
    code = "invalid_ecg"


class UnsafeXml(FormatError):
    code = "unsafe_xml"


class RenderError(FormatError):
    code = "cannot_render"


class MeasurementError(FormatError):
    code = "cannot_measure"
