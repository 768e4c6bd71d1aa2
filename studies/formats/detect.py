"""Tell what kind of medical file an upload is, by its content only (never its name)."""
import enum
import io
import zipfile

from .errors import FileTooLarge, UnsafeXml, UnsupportedFormat
from .limits import DEFAULT_LIMITS, Limits, check_size

HL7_V3 = "urn:hl7-org:v3"


class Format(str, enum.Enum):
    DICOM = "dicom"
    AECG = "aecg"  # HL7 annotated ECG XML
    WFDB = "wfdb"  # a zip holding one .hea header and its signal file(s)
    CSV = "csv"  # see README.md for the columns
    JPEG = "jpeg"
    PNG = "png"


def detect(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Format:
    """Return the format of ``data`` or raise UnsupportedFormat with what we accept."""
    check_size(data, limits)
    if len(data) >= 132 and data[128:132] == b"DICM":
        return Format.DICOM
    if data.startswith(b"\xff\xd8\xff"):
        return Format.JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Format.PNG
    if data.startswith(b"PK\x03\x04") and _zip_has_wfdb_header(data):
        return Format.WFDB
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        if _xml_root(data) == f"{{{HL7_V3}}}AnnotatedECG":
            return Format.AECG
    elif _looks_like_ecg_csv(data):
        return Format.CSV
    raise UnsupportedFormat(
        "This file is not a format we can read. Send a DICOM file (with its 128-byte "
        "preamble and 'DICM' header), an HL7 aECG XML, a WFDB record zipped with its "
        ".hea and .dat files, an ECG CSV (see the upload help), or a JPEG/PNG photo."
    )


def _zip_has_wfdb_header(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return any(n.lower().endswith(".hea") for n in zf.namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return False


def _xml_root(data: bytes) -> str | None:
    """The qualified tag of the root element, without reading the whole document."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse
    from xml.etree.ElementTree import ParseError

    try:
        for _event, elem in iterparse(io.BytesIO(data), events=("start",), forbid_dtd=True):
            return elem.tag
    except DefusedXmlException as exc:
        raise UnsafeXml(
            "The XML file declares a DTD or entities, which we refuse for safety. "
            "Export the aECG again without a DOCTYPE."
        ) from exc
    except (ParseError, ValueError):
        return None
    return None


def _looks_like_ecg_csv(data: bytes) -> bool:
    from .ecg.csv import header_lead_names

    try:
        text = data[:8192].decode("utf-8")
    except UnicodeDecodeError as exc:
        # The 8 KiB cut can split a multi-byte character: accept that one case only.
        if exc.start < len(data[:8192]) - 4:
            return False
        text = data[: exc.start].decode("utf-8")
    return header_lead_names(text) is not None


__all__ = ["Format", "detect", "FileTooLarge"]
