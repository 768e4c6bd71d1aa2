"""Tell what kind of medical file an upload is, by its content only (never its name)."""
import enum
import io
import zipfile

from .errors import FileTooLarge, UnsafeXml, UnsupportedFormat
from .limits import DEFAULT_LIMITS, Limits, check_size

HL7_V3 = "urn:hl7-org:v3"
EDF_VERSION = b"0       "  # the first 8 header bytes of every EDF/EDF+ file


class Format(str, enum.Enum):
    DICOM = "dicom"
    AECG = "aecg"  # HL7 annotated ECG XML
    WFDB = "wfdb"  # a zip holding one .hea header and its signal file(s)
    CSV = "csv"  # see README.md for the columns
    EDF = "edf"  # EDF / EDF+ (European Data Format)
    MUSE = "muse"  # GE MUSE XML (root RestingECG)
    SIERRA = "sierra"  # Philips Sierra XML (root restingecgdata)
    SCP = "scp"  # SCP-ECG (EN 1064): Section 0's header ends with "SCPECG"
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
    if looks_like_edf(data):
        return Format.EDF
    if data[16:22] == b"SCPECG":  # Section 0's header ends with the reserved "SCPECG" (EN 1064)
        return Format.SCP
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<") or data.startswith((b"\xff\xfe<", b"\xfe\xff\x00<")):  # UTF-8, or UTF-16 (Philips)
        root = _xml_root(data)
        if root == f"{{{HL7_V3}}}AnnotatedECG":
            return Format.AECG
        if root == "RestingECG":
            return Format.MUSE
        if root is not None and root.rsplit("}", 1)[-1] == "restingecgdata":
            return Format.SIERRA
        seen = _known_xml(root)
    elif _looks_like_ecg_csv(data):
        return Format.CSV
    else:
        seen = _known_binary(data)
    if seen:
        raise UnsupportedFormat(f"This file is {seen}, which we cannot read. {ACCEPTED}")
    raise UnsupportedFormat(f"This file is not a format we can read. {ACCEPTED}")


ACCEPTED = ("We accept a DICOM file (with its 128-byte preamble and 'DICM' header), an HL7 aECG XML, a GE MUSE XML, "
            "a Philips Sierra XML, an SCP-ECG file, "
            "a WFDB record zipped with its .hea and .dat files, an EDF/EDF+ file, an ECG CSV (see the "
            "upload help), or a JPEG/PNG photo.")
# Root elements of ECG XML formats that are recognised but not read (yet): named in the refusal.
KNOWN_XML = {"cardiologyxml": "a GE CardioSoft XML ECG (root <CardiologyXML>)",
             "ecg": "a Mortara/Welch Allyn XML ECG (root <ECG>)"}


def _known_xml(root: str | None) -> str:
    if root is None:
        return "XML that is not well-formed"
    local = root.rsplit("}", 1)[-1]
    return KNOWN_XML.get(local.lower(), f"an XML document with root <{local}>")


def _known_binary(data: bytes) -> str:
    if data.startswith(b"\xffBIOSEMI"):
        return "a BDF (BioSemi 24-bit) file"
    if data.startswith(b"%PDF"):
        return "a PDF document (send the machine's data file, or a photo of the trace)"
    return ""


def looks_like_edf(data: bytes) -> bool:
    """EDF's fixed 256-byte header: version "0", then ASCII numbers where the header length and the
    number of signals are."""
    if len(data) < 256 or not data.startswith(EDF_VERSION):
        return False
    try:
        header_bytes, signals = int(data[184:192].decode("ascii")), int(data[252:256].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return False
    return signals > 0 and header_bytes == 256 * (signals + 1)


def _zip_has_wfdb_header(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return any(n.lower().endswith(".hea") for n in zf.namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return False


def _xml_root(data: bytes) -> str | None:
    """The qualified tag of the root element, without reading the whole document. A DOCTYPE naming
    an external DTD (GE MUSE writes one) is allowed here, nothing is fetched; entities are refused."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse
    from xml.etree.ElementTree import ParseError

    try:
        for _event, elem in iterparse(io.BytesIO(data), events=("start",), forbid_dtd=False,
                                      forbid_entities=True, forbid_external=True):
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


__all__ = ["Format", "detect", "looks_like_edf", "FileTooLarge"]
