"""Medical file formats for Teleclinic: detection, safe DICOM reading and indexing,
frame rendering, ECG reading/measurement/serving and photo sanitising.

Imports neither Django nor the ORM. Every failure is a studies.formats.errors.FormatError.
"""
from .detect import Format, detect
from .dicom import DicomIndex, index_dataset, index_dicom, read_dicom, sanitized_bytes
from .errors import FormatError
from .limits import DEFAULT_LIMITS, Limits
from .photos import sanitize_photo
from .render import RenderedFrame, frame_count, render_frame

__all__ = [
    "DEFAULT_LIMITS", "DicomIndex", "Format", "FormatError", "Limits", "RenderedFrame", "detect",
    "frame_count", "index_dataset", "index_dicom", "read_dicom", "render_frame", "sanitize_photo",
    "sanitized_bytes",
]
