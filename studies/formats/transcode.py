"""Transcoding a stored instance to Explicit VR Little Endian for WADO-RS (PS3.18 8.7.3.5: the default
transfer syntax of a retrieve), with the pixel codecs installed for reading (pylibjpeg: JPEG,
JPEG-LS, JPEG 2000, RLE). No ORM; every failure is a FormatError."""
import io

from pydicom.uid import ExplicitVRLittleEndian

from .dicom import read_dicom
from .errors import FormatError
from .limits import DEFAULT_LIMITS, Limits

EXPLICIT_VR_LITTLE_ENDIAN = str(ExplicitVRLittleEndian)


def to_explicit_little_endian(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The instance's bytes in Explicit VR Little Endian (pixel data decoded if it was compressed)."""
    ds = read_dicom(data, limits=limits)
    syntax = ds.file_meta.TransferSyntaxUID
    if syntax == ExplicitVRLittleEndian:
        return data
    if not syntax.is_little_endian and "PixelData" in ds and int(ds.get("BitsAllocated") or 8) > 8:
        raise FormatError("This instance is stored big endian and cannot be sent otherwise.",
                          code="cannot_transcode")
    try:
        if syntax.is_compressed and "PixelData" in ds:
            ds.decompress()  # to Explicit VR LE; YBR JPEG becomes RGB, as pixel_array shows it
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        out = io.BytesIO()
        ds.save_as(out, implicit_vr=False, little_endian=True, enforce_file_format=True)
    except FormatError:
        raise
    except BaseException as exc:  # noqa: BLE001 - codecs raise many types (pylibjpeg-rle's panics too)
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        raise FormatError(f"This instance cannot be transcoded ({type(exc).__name__}: {str(exc)[:160]}).",
                          code="cannot_transcode") from exc
    return out.getvalue()
