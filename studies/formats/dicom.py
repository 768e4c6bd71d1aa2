"""Read DICOM Part 10 uploads safely, extract the index the database stores, and
produce the bytes that may be stored (preamble zeroed).

Safety rules, in the order they are applied:
- a file-size cap (Limits.max_file_bytes);
- a Part 10 header is required: 128-byte preamble, "DICM", file meta with a
  transfer syntax (files without meta are refused: we would have to guess the encoding);
- a deflated body is inflated incrementally and refused past Limits.max_inflated_bytes,
  so a "zip bomb" costs at most that much memory and never hangs;
- elements whose value is shorter than their declared length mean a truncated file;
- the elements we index and the image pixel module are validated strictly (a bad VR
  there, e.g. Number of Frames "1A", is refused); other elements are read leniently,
  as real modalities write many small violations that do not matter to us;
- declared pixel data size is bounded before anything is decoded.
"""
import io
import struct
import zlib

import pydicom
from pydicom.dataset import Dataset, FileDataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import _read_file_meta_info, read_dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian
from pydicom.pixels.utils import get_expected_length

from .dicom_tags import INDEXED as _INDEXED
from .dicom_tags import DicomIndex
from .dicom_tags import PIXEL_MODULE as _PIXEL_MODULE
from .dicom_tags import as_date as _date
from .dicom_tags import as_int as _int
from .dicom_tags import as_text as _text
from .errors import DecompressionBomb, FormatError, InvalidDicom, TruncatedFile
from .limits import DEFAULT_LIMITS, Limits, check_size, inflated_cap

INFLATE_CHUNK = 1024 * 1024

def read_dicom(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> FileDataset:
    """Parse a Part 10 file held in memory; raise a FormatError for anything unsafe or broken.

    Pixel data stays encoded; use studies.formats.render to decode frames.
    """
    check_size(data, limits)
    _require_part10_header(data)
    fp = io.BytesIO(data)
    fp.seek(132)
    try:
        meta = _read_file_meta_info(fp)
        body_start = fp.tell()
        _convert_all(meta)
        ts = meta.get("TransferSyntaxUID")
    except FormatError:
        raise
    except Exception as exc:  # the meta group itself is corrupt
        raise InvalidDicom(f"The DICOM file meta header is damaged ({_short(exc)}).") from exc
    if not ts:
        raise InvalidDicom(
            "The DICOM file meta header has no Transfer Syntax UID, so the file cannot be "
            "decoded. Export it again from the modality or PACS.",
            code="dicom_missing_meta",
        )
    if ts == DeflatedExplicitVRLittleEndian:
        body = _inflate(memoryview(data)[body_start:], inflated_cap(len(data) - body_start, limits))
        ds = _parse(lambda: _dataset_from_body(body, data[:128], meta))
    else:
        ds = _parse(lambda: pydicom.dcmread(io.BytesIO(data), force=False))
    _parse(lambda: _check_dataset(ds, limits))
    return ds


def index_dicom(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> DicomIndex:
    """Read and index one instance. Raises InvalidDicom when an identifying UID is missing.

    One structural pass (dicom_header) where it vouches for the file, else the full read:
    the same index and the same refusals either way.
    """
    from .dicom_header import index_dicom_header

    return index_dicom_header(data, limits=limits) or index_dataset(read_dicom(data, limits=limits))


def index_dataset(ds: Dataset) -> DicomIndex:
    values = {name: ds.get(keyword) for name, keyword in _INDEXED.items()}
    for name in ("study_instance_uid", "series_instance_uid", "sop_instance_uid"):
        if not values[name]:
            raise InvalidDicom(
                f"The DICOM file has no {_INDEXED[name]}; it cannot be filed into a study.",
                code="dicom_missing_uid",
            )
    return DicomIndex(
        patient_id=_text(values["patient_id"]),
        patient_name=_text(values["patient_name"]),
        patient_sex=_text(values["patient_sex"]),
        patient_birth_date=_date(values["patient_birth_date"]),
        study_instance_uid=str(values["study_instance_uid"]),
        series_instance_uid=str(values["series_instance_uid"]),
        sop_instance_uid=str(values["sop_instance_uid"]),
        sop_class_uid=_text(values["sop_class_uid"]),
        modality=_text(values["modality"]),
        accession_number=_text(values["accession_number"]),
        study_date=_date(values["study_date"]),
        study_time=_text(values["study_time"]),
        series_date=_date(values["series_date"]),
        study_description=_text(values["study_description"]),
        series_description=_text(values["series_description"]),
        series_number=_int(values["series_number"]),
        instance_number=_int(values["instance_number"]),
        number_of_frames=_int(values["number_of_frames"]) or (1 if "PixelData" in ds else 0),
        rows=_int(values["rows"]),
        columns=_int(values["columns"]),
        transfer_syntax_uid=str(ds.file_meta.get("TransferSyntaxUID", "")),
        has_pixel_data="PixelData" in ds,
        has_waveform="WaveformSequence" in ds,
    )


def sanitized_bytes(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The bytes to store: the same file with its 128-byte preamble zeroed.

    The preamble is free-form and can carry an executable header (a PE/ELF
    "polyglot"); DICOM readers ignore it, so zeroing it loses nothing.
    """
    check_size(data, limits)
    _require_part10_header(data)
    return b"".join((bytes(128), memoryview(data)[128:]))  # one copy of the file, not two


def _require_part10_header(data: bytes) -> None:
    if len(data) >= 132 and data[128:132] == b"DICM":
        return
    if data[:2] in (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08"):
        raise InvalidDicom(
            "This DICOM file has no Part 10 header (128-byte preamble, 'DICM' and file meta "
            "information). Export it from the PACS or modality as a DICOM Part 10 file.",
            code="dicom_missing_meta",
        )
    raise InvalidDicom(
        "This file is not DICOM: it lacks the 'DICM' marker after the 128-byte preamble, "
        "whatever its name says.",
        code="not_dicom",
    )


def _inflate(raw: bytes, max_bytes: int) -> bytes:
    """Inflate a raw-deflate DICOM body chunk by chunk, refusing past max_bytes."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out = bytearray()
    pending = raw
    try:
        while pending:
            out += inflater.decompress(pending, INFLATE_CHUNK)
            if len(out) > max_bytes:
                del out  # given back before the refusal travels up
                raise DecompressionBomb(
                    f"The deflated DICOM file expands to more than {max_bytes // (1024 * 1024)} MB; "
                    "we refuse it. Send it uncompressed or with an image compression syntax."
                )
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
        out += inflater.flush()
    except zlib.error as exc:
        raise InvalidDicom(f"The deflated DICOM body is corrupt ({exc}).") from exc
    if len(out) > max_bytes:
        raise DecompressionBomb("The deflated DICOM file expands beyond the size limit.")
    return bytes(out)


def _dataset_from_body(body: bytes, preamble: bytes, meta) -> FileDataset:
    ds = read_dataset(io.BytesIO(body), is_implicit_VR=False, is_little_endian=True)
    fds = FileDataset("", ds, preamble=preamble, file_meta=meta)
    fds.set_original_encoding(False, True, ds._character_set)
    return fds


def _parse(read):
    try:
        return read()
    except FormatError:
        raise
    except (InvalidDicomError, EOFError) as exc:
        raise InvalidDicom(f"The DICOM file could not be read ({_short(exc)}).") from exc
    except Exception as exc:  # pydicom raises many types on corrupt input
        raise InvalidDicom(f"The DICOM file is damaged and could not be read ({_short(exc)}).") from exc


def _check_dataset(ds: Dataset, limits: Limits) -> None:
    _check_not_truncated(ds)  # first: it needs the raw, unconverted elements
    _convert_all(ds)
    _validate_strictly(ds)
    _check_pixel_length(ds)
    _check_pixel_budget(ds, limits)


def _convert_all(ds: Dataset) -> Dataset:
    ds.walk(lambda _ds, _elem: None)  # converts every raw element now, inside our error mapping
    return ds


def _check_not_truncated(ds: Dataset) -> None:
    for elem in ds.elements():
        raw_len = getattr(elem, "length", None)
        value = getattr(elem, "value", None)
        if getattr(elem, "is_raw", False) and raw_len != 0xFFFFFFFF and value is not None:
            if len(value) < raw_len:
                raise TruncatedFile(
                    f"The DICOM file is truncated (element {elem.tag} has {len(value)} of "
                    f"{raw_len} bytes). The upload was probably interrupted: send it again."
                )


def _check_pixel_length(ds: Dataset) -> None:
    if not ds.get("SOPClassUID"):
        # Type 1 in every IOD; without it the file was cut inside its header
        raise InvalidDicom("The DICOM file has no SOP Class UID: it is incomplete or not a DICOM "
                           "object. Send it again or export it again.", code="dicom_incomplete")
    has_pixels = any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))
    sop_class = str(getattr(ds.get("SOPClassUID"), "name", ""))
    image_expected = sop_class.endswith("Image Storage") or ("Rows" in ds and "BitsAllocated" in ds)
    if "Waveform Storage" in sop_class and "WaveformSequence" not in ds:
        raise TruncatedFile("The DICOM waveform file has no waveform data. "
                            "The upload was probably interrupted: send it again.")
    if image_expected and not has_pixels:
        raise TruncatedFile(
            "The DICOM file describes an image but its pixel data is missing. "
            "The upload was probably interrupted: send it again."
        )
    pixel = ds.data_element("PixelData") if "PixelData" in ds else None
    if pixel is not None and pixel.is_undefined_length and isinstance(pixel.value, bytes):
        _check_fragments(pixel.value)
    if pixel is not None and pixel.value is not None and not pixel.is_undefined_length:
        if 0 < len(pixel.value) < _expected_native_length(ds):
            raise TruncatedFile(
                "The DICOM pixel data is shorter than its rows, columns and frames need. "
                "The upload was probably interrupted: send it again."
            )


def _validate_strictly(ds: Dataset) -> None:
    """Numbers we compute with must parse; UIDs must fit a UI column (64 chars)."""
    for keyword in (*_INDEXED.values(), *_PIXEL_MODULE):
        elem = ds.data_element(keyword) if keyword in ds else None
        if elem is None or elem.value is None or elem.value == "":
            continue
        values = elem.value if elem.VM > 1 else [elem.value]
        for value in values:
            if not _valid(elem.VR, value):
                raise InvalidDicom(
                    f"The DICOM element {keyword} {elem.tag} has an invalid value "
                    f"{str(value)[:40]!r} for its VR {elem.VR}. The exporting software wrote "
                    "a broken file; fix the export or send the images another way.",
                    code="dicom_bad_value",
                )


def _valid(vr: str, value) -> bool:
    if vr in ("IS", "DS"):
        try:
            float(str(value))
        except ValueError:
            return False
        return vr == "DS" or float(str(value)).is_integer()
    if vr == "UI":
        return 0 < len(str(value)) <= 64 and str(value).isprintable()
    if vr in ("US", "SS", "UL", "SL"):
        return isinstance(value, int)
    return True


def _expected_pixel_bytes(ds: Dataset) -> int:
    try:
        rows, cols = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
        frames = int(ds.get("NumberOfFrames") or 1)
        spp = int(ds.get("SamplesPerPixel") or 1)
        bits = int(ds.get("BitsAllocated") or 8)
    except (TypeError, ValueError) as exc:
        raise InvalidDicom("The DICOM image dimensions are not numbers.", code="dicom_bad_value") from exc
    if bits == 1:
        return (rows * cols * frames * spp + 7) // 8
    return rows * cols * frames * spp * ((bits + 7) // 8)


def _check_fragments(value: bytes) -> None:
    """Encapsulated pixel data: every item must fit; pydicom reads a cut one silently to EOF."""
    pos = 0
    while pos + 8 <= len(value):
        group, element, length = struct.unpack_from("<HHL", value, pos)
        if (group, element) != (0xFFFE, 0xE000):
            return
        pos += 8 + length
    if pos != len(value):
        raise TruncatedFile("The compressed image data ends in the middle of a frame. "
                            "The upload was probably interrupted: send it again.")


def _expected_native_length(ds: Dataset) -> int:
    try:
        return int(get_expected_length(ds))  # knows YBR_FULL_422 and 1-bit packing
    except Exception:  # incomplete pixel module: nothing to compare against
        return 0


def _check_pixel_budget(ds: Dataset, limits: Limits) -> None:
    if "PixelData" in ds and _expected_pixel_bytes(ds) > limits.max_pixel_bytes:
        raise DecompressionBomb(
            f"The image declares {_expected_pixel_bytes(ds) // (1024 * 1024)} MB of pixels once "
            f"decoded; the limit is {limits.max_pixel_bytes // (1024 * 1024)} MB."
        )


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:160]}"
