"""Index a DICOM instance in one structural pass, with the same outcome as `read_dicom`.

`read_dicom` converts every element of the file (pydicom walk) so that anything corrupt is
refused at ingest; that costs several times a plain pydicom read. Here one pass over the
bytes checks the same things structurally: every element, item and fragment fits its
container; every sequence is made of items; every value whose conversion could fail
(binary numbers of the wrong length, an unknown VR, a UN or implicit-VR value pydicom would
re-read with a known VR) is checked. Only the elements the index and the pixel checks need
are handed to pydicom, which converts and checks them exactly as `read_dicom` does.

Whenever the pass meets something it does not vouch for (a problem, or just an unusual
encoding: deflated or big endian syntax, a waveform, VR switching, odd private creators),
it gives up and `read_dicom` runs instead, so errors, codes and messages are exactly those
of `read_dicom`, and a file is never accepted here that `read_dicom` would refuse
(tests/formats/test_dicom_header.py checks both on mutated files).
"""
import re
import struct

from pydicom.charset import convert_encodings, default_encoding
from pydicom.datadict import dictionary_VR, private_dictionary_VR, tag_for_keyword
from pydicom.filewriter import _AMBIGUOUS_US_SS_TAGS as _AMBIGUOUS_US_SS
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.tag import BaseTag
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, VR
from pydicom.values import converters

from .dicom_tags import INDEXED, PIXEL_MODULE, DicomIndex, as_date, as_int, as_text
from .limits import DEFAULT_LIMITS, Limits

_UNPACK_TAG = struct.Struct("<HH").unpack_from
_UNPACK_EXPLICIT = struct.Struct("<HH2sH").unpack_from
_UNPACK_IMPLICIT = struct.Struct("<HHL").unpack_from
_UNPACK_U16 = struct.Struct("<H").unpack_from
_UNPACK_U32 = struct.Struct("<L").unpack_from
_LONG_VRS = {vr.encode() for vr in EXPLICIT_VR_LENGTH_32}
_SHORT_VRS = {vr.value.encode() for vr in VR if len(vr.value) == 2} - _LONG_VRS
_FIXED_WIDTH = {"US": 2, "SS": 2, "UL": 4, "SL": 4, "FL": 4, "FD": 8, "SV": 8, "UV": 8}
_CHECKED_VRS = {vr.encode() for vr in (*_FIXED_WIDTH, "SQ", "UN")}  # explicit VRs whose value pydicom may refuse
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_ITEM_BYTES, _SEQUENCE_END_BYTES = b"\xfe\xff\x00\xe0", b"\xfe\xff\xdd\xe0"
_TRANSFER_SYNTAX, _CHARSET, _WAVEFORM_SEQUENCE = 0x00020010, 0x00080005, 0x54000100
_PIXEL_DATA, _FLOAT_PIXEL_DATA, _DOUBLE_PIXEL_DATA = 0x7FE00010, 0x7FE00008, 0x7FE00009
_MAX_DEPTH = 32
_TAG = {keyword: tag_for_keyword(keyword) for keyword in (*INDEXED.values(), *PIXEL_MODULE)}
# The elements the index and the pixel checks read; everything else is only checked structurally.
_NEEDED = {*_TAG.values(), _CHARSET, _PIXEL_DATA, _FLOAT_PIXEL_DATA, _DOUBLE_PIXEL_DATA, _WAVEFORM_SEQUENCE}
_SYNTAX_IS_IMPLICIT = {ImplicitVRLittleEndian: True, ExplicitVRLittleEndian: False}
_PLAIN = re.compile(rb"[\x20-\x5b\x5d-\x7e]*")  # printable ASCII but the backslash: decodes the same in any charset
_IS = re.compile(r" *[+-]?[0-9]+ *")
_DS = re.compile(r" *[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)? *")
_TEXT_VRS = ("LO", "SH", "PN")
# Character sets whose printable ASCII decodes as ASCII (others, e.g. with escapes: pydicom decodes the text)
_ASCII_CHARSETS = {b"", b"ISO_IR 6", b"ISO_IR 100", b"ISO_IR 192", b"GB18030", b"GBK"}
_DICTIONARY_VR: dict[int, str | None] = {}


class _NotSure(Exception):
    """The single pass does not vouch for this file: read_dicom decides."""


def index_dicom_header(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> DicomIndex | None:
    """The index `index_dicom` would give, from one pass; None where `read_dicom` must decide.

    None is returned for every file `read_dicom` refuses (and for some it accepts: unusual
    encodings), never an index `index_dicom` would not give.
    """
    if len(data) > limits.max_file_bytes or len(data) < 132 or data[128:132] != b"DICM":
        return None
    try:
        return _index(data, limits)
    except _NotSure:
        return None
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - anything unforeseen: read_dicom decides, with its own errors
        return None


def _index(data: bytes, limits: Limits) -> DicomIndex:
    syntax, body_start = _file_meta(data)
    implicit = _SYNTAX_IS_IMPLICIT.get(syntax)
    if implicit is None:
        uid = UID(syntax)
        if uid == DeflatedExplicitVRLittleEndian or not uid.is_transfer_syntax or uid.is_implicit_VR \
                or not uid.is_little_endian:
            raise _NotSure("deflated, big endian or unknown transfer syntax")
        implicit = False  # every other registered syntax (JPEG, JPEG 2000, RLE, ...) is explicit VR little endian
    raw = _Pass(data, implicit).top_level(body_start)
    return _Values(raw, implicit).index(syntax, limits)


def file_meta_uids(data: bytes) -> dict[str, str]:
    """The SOP class and instance UIDs of a Part 10 file's meta group ({"class", "instance"}), or {} where
    the meta cannot be read: for reports about a file that may be broken anywhere after it (its body is
    never read, so a deflated body is never inflated)."""
    if len(data) < 132 or data[128:132] != b"DICM":
        return {}
    try:
        values, _ = _file_meta_values(data)
    except Exception:  # noqa: BLE001 - a broken meta group: nothing to report
        return {}
    return {"class": values.get(0x0002, ""), "instance": values.get(0x0003, "")}


def _file_meta(data: bytes) -> tuple[str, int]:
    """The transfer syntax and where the body starts: group 0002, explicit VR little endian, as pydicom reads it."""
    values, pos = _file_meta_values(data)
    if not values.get(0x0010):
        raise _NotSure("no transfer syntax")
    return values[0x0010], pos


def _file_meta_values(data: bytes) -> tuple[dict[int, str], int]:
    """The UI values of group 0002 by element number, and where the body starts."""
    walk = _Pass(data, False)
    if len(data) - 132 < 8 or walk._switches(132, False):
        raise _NotSure("file meta not explicit VR")
    values, pos = {}, 132
    while len(data) - pos >= 8 and _UNPACK_U16(data, pos)[0] == 2:
        element = _UNPACK_U16(data, pos + 2)[0]
        vr, length, vpos = walk._header(pos, False, len(data))
        if length == 0xFFFFFFFF or vpos + length > len(data) or vr == "UN":
            raise _NotSure("unusual file meta element")
        walk._check_value(0x00020000 | element, vr, vpos, length, False, 0)
        if vr == "UI":
            values[element] = _plain(data[vpos:vpos + length], "UI")
        pos = vpos + length
    return values, pos


class _Pass:
    """One walk over the element tree of a little-endian body; raises _NotSure at anything unusual."""

    def __init__(self, data: bytes, implicit: bool):
        self.data, self.implicit = data, implicit
        self.needs_pixel_representation = False

    def top_level(self, start: int) -> dict:
        """The needed top-level elements as {tag: (vr, length, value)} after checking the whole tree."""
        data = self.data
        if len(data) - start < 8 or self._switches(start, self.implicit):
            raise _NotSure("empty body, or a VR other than the transfer syntax says")
        needed: dict = {}
        self._dataset(start, len(data), self.implicit, 0, needed, len(data))
        if _WAVEFORM_SEQUENCE in needed:
            raise _NotSure("a waveform: the ECG reader needs the full dataset")
        if self.needs_pixel_representation and _PIXEL_DATA in needed and _TAG["PixelRepresentation"] not in needed:
            raise _NotSure("US or SS values with pixel data but no Pixel Representation (pydicom refuses)")
        return needed

    def _switches(self, pos: int, implicit: bool) -> bool:
        """Whether the first element's VR bytes disagree with the assumed encoding (pydicom's _is_implicit_vr)."""
        vr = self.data[pos + 4:pos + 6]
        found_implicit = not (len(vr) == 2 and 0x40 < vr[0] < 0x5B and 0x40 < vr[1] < 0x5B)
        return found_implicit != implicit

    def _header(self, pos: int, implicit: bool, limit: int) -> tuple[str | None, int, int]:
        """(VR or None when implicit, length, where the value starts) of the element at pos."""
        if implicit:
            return None, _UNPACK_U32(self.data, pos + 4)[0], pos + 8
        _, _, code, length = _UNPACK_EXPLICIT(self.data, pos)
        if code in _SHORT_VRS:
            return code.decode(), length, pos + 8
        if code in _LONG_VRS and limit - pos >= 12:
            return code.decode(), _UNPACK_U32(self.data, pos + 8)[0], pos + 12
        raise _NotSure("unknown VR, or a header cut")

    def _dataset(self, pos: int, end: int | None, implicit: bool, depth: int, needed: dict | None,
                 limit: int) -> int:
        """Elements from pos to end (None: to an item delimiter before limit); returns the position after them."""
        data, limit = self.data, limit if end is None else end
        creators: dict[int, bytes] = {}
        private: list[tuple[int, int, int]] = []
        while end is None or pos != end:  # the hot loop of ingest: kept flat on purpose
            if limit - pos < 8:
                raise _NotSure("element header cut")
            if implicit:
                group, element, length = _UNPACK_IMPLICIT(data, pos)
                vr, vpos = None, pos + 8
            else:
                group, element, vr, length = _UNPACK_EXPLICIT(data, pos)
                vpos = pos + 8
                if vr not in _SHORT_VRS:
                    if vr not in _LONG_VRS or limit - pos < 12 or group == 0xFFFE:
                        if group == 0xFFFE:  # an item tag has no VR: checked below
                            vr = None
                        else:
                            raise _NotSure("unknown VR, or a header cut")
                    else:
                        length, vpos = _UNPACK_U32(data, pos + 8)[0], pos + 12
            if group == 0xFFFE:
                if element == 0xE00D and end is None and _UNPACK_U32(data, pos + 4)[0] == 0:
                    return pos + 8
                raise _NotSure("item tag among elements")
            tag = group << 16 | element
            if length == 0xFFFFFFFF:
                if group == 0 and depth == 0:
                    raise _NotSure("command group in a file")
                pos = self._undefined_length(tag, vr and vr.decode(), vpos, limit, implicit, depth, needed)
                continue
            pos = vpos + length
            if pos > limit:
                raise _NotSure("value longer than its container (truncated)")
            if group & 1:
                if 0x10 <= element <= 0xFF:
                    creators[tag] = data[vpos:pos]
                if implicit or vr == b"UN":
                    private.append((tag, vpos, length))  # its VR depends on its creator: checked at the end
                    continue
            elif group == 0 and depth == 0:
                raise _NotSure("command group in a file")
            if implicit or vr in _CHECKED_VRS:
                self._check_value(tag, self._read_vr(tag, vr and vr.decode(), length, implicit), vpos, length,
                                  implicit, depth)
            if needed is not None and tag in _NEEDED:
                needed[tag] = (vr and vr.decode(), length, data[vpos:pos])
        for tag, vpos, length in private:  # pydicom: implicit VR looks in the public dictionary first
            known = _dictionary_vr(tag) if implicit else None
            self._check_value(tag, known or _private_vr(tag, creators), vpos, length, implicit, depth)
        return pos

    @staticmethod
    def _read_vr(tag: int, vr: str | None, length: int, implicit: bool) -> str:
        """The VR pydicom converts a public element with (hooks.raw_element_vr)."""
        if not implicit and vr != "UN":
            return vr
        known = _dictionary_vr(tag)
        if implicit:
            return known if known is not None else ("UL" if tag & 0xFFFF == 0 else "UN")
        return known if known is not None and length < 0xFFFF else "UN"

    def _check_value(self, tag: int, vr: str, vpos: int, length: int, implicit: bool, depth: int) -> None:
        """Refuse what pydicom's conversion of this value could raise on."""
        if length == 0:
            return
        if vr == "SQ":
            self._sequence(vpos, vpos + length, implicit, depth + 1, vpos + length)
        elif vr in _FIXED_WIDTH:
            if length % _FIXED_WIDTH[vr]:
                raise _NotSure("binary value of the wrong length")
        elif vr not in converters:
            raise _NotSure("unknown VR")
        elif " or " in vr:
            self._check_ambiguous(tag, vr, length, implicit, depth)

    def _check_ambiguous(self, tag: int, vr: str, length: int, implicit: bool, depth: int) -> None:
        """pydicom resolves an ambiguous VR when the element is read (filewriter.correct_ambiguous_vr_element)."""
        if not implicit or vr == "US or OW":  # a UN made ambiguous, LUT Data: they need other elements
            raise _NotSure("an ambiguous VR that depends on other elements")
        if vr == "OB or OW" or tag not in _AMBIGUOUS_US_SS:
            return  # implicit VR: OW, or left as bytes
        if depth or length % 2:
            raise _NotSure("US or SS inside a sequence, or of the wrong length")
        self.needs_pixel_representation = True  # US or SS: read with the dataset's Pixel Representation

    def _undefined_length(self, tag, vr, vpos, limit, implicit, depth, needed) -> int:
        """pydicom: an undefined-length UN is a sequence; implicit VR looks the tag up, else peeks for an item."""
        data = self.data
        if vr == "UN" or vr is None:
            known = _dictionary_vr(tag) if vr is None else "SQ"
            if known is None and data[vpos:vpos + 4] == _ITEM_BYTES:
                known = "SQ"
            vr = known
        if vr == "SQ":
            if needed is not None and tag in _NEEDED:
                needed[tag] = None
            return self._sequence(vpos, None, implicit, depth + 1, limit)
        if vr in ("OB", "OW", "OB or OW"):
            value_end, after = self._fragments(vpos, limit)
            if needed is not None and tag in _NEEDED:
                needed[tag] = (None if implicit else vr, 0xFFFFFFFF, data[vpos:value_end])
            return after
        raise _NotSure("undefined length on a value that is neither a sequence nor encapsulated")

    def _sequence(self, pos: int, end: int | None, implicit: bool, depth: int, limit: int) -> int:
        """Items from pos to end (None: to a sequence delimiter before limit); returns the position after them."""
        if depth > _MAX_DEPTH:
            raise _NotSure("sequences nested too deep")
        data = self.data
        while end is None or pos != end:
            if limit - pos < 8:
                raise _NotSure("item header cut")
            group, element = _UNPACK_TAG(data, pos)
            length = _UNPACK_U32(data, pos + 4)[0]
            tag = group << 16 | element
            if tag == _SEQUENCE_END and end is None:
                if length != 0:
                    raise _NotSure("sequence delimiter with a length")
                return pos + 8
            if tag != _ITEM:
                raise _NotSure("not an item")
            pos += 8
            item_end = None if length == 0xFFFFFFFF else pos + length
            if item_end is not None and (item_end > limit or 0 < length < 8):
                raise _NotSure("item longer than its sequence, or too short for an element")
            if item_end == pos:
                continue
            # pydicom: items may be implicit VR inside an explicit VR dataset, never the other way round
            pos = self._dataset(pos, item_end, implicit or self._switches(pos, False), depth, None, limit)
        return pos

    def _fragments(self, pos: int, limit: int) -> tuple[int, int]:
        """Encapsulated pixel data as pydicom reads it: items up to the sequence delimiter."""
        data = self.data
        while True:
            if limit - pos < 8:
                raise _NotSure("fragment header cut")
            marker = data[pos:pos + 4]
            if marker == _SEQUENCE_END_BYTES:
                if data[pos + 4:pos + 8] != b"\x00\x00\x00\x00":
                    raise _NotSure("sequence delimiter with a length")
                return pos, pos + 8
            if marker != _ITEM_BYTES:
                raise _NotSure("not a fragment")
            pos += 8 + _UNPACK_U32(data, pos + 4)[0]
            if pos > limit:
                raise _NotSure("fragment longer than the file (truncated)")


class _Values:
    """The needed elements decoded as pydicom decodes them, and read_dicom's checks on them."""

    def __init__(self, raw: dict, implicit: bool):
        self.raw, self.implicit, self._encodings, self._ascii_charset = raw, implicit, None, None
        self.values = {keyword: self._value(tag) for keyword, tag in _TAG.items() if tag in raw}

    def _value(self, tag: int):
        vr, length, value = self.raw[tag]
        expected = _dictionary_vr(tag)
        if vr is not None and vr != expected:
            raise _NotSure("an indexed element with an unusual VR")
        if expected == "US":
            if length == 0:
                return None
            if length != 2:
                raise _NotSure("several values where one is expected")
            return _UNPACK_U16(value, 0)[0]
        if expected in _TEXT_VRS and not self._plain_text(value, expected):
            return self._convert(tag)  # non-ASCII, several values, name component groups: pydicom decodes it
        text = _plain(value, expected)
        if expected == "UI" and not (text == "" or (len(text) <= 64 and text.isprintable())):
            raise _NotSure("a UID that read_dicom refuses")
        if expected == "IS" and text:
            if not _IS.fullmatch(text):
                raise _NotSure("not an integer")
            return int(text)
        if expected == "DS" and not all(_DS.fullmatch(number) for number in text.split("\\")) and text:
            raise _NotSure("not a decimal")
        return text

    def _plain_text(self, value: bytes, vr: str) -> bool:
        if self._ascii_charset is None:
            charset = self.raw.get(_CHARSET)
            self._ascii_charset = charset is None or charset[2].strip(b" \x00") in _ASCII_CHARSETS
        value = value.rstrip(b" \x00")
        return self._ascii_charset and bool(_PLAIN.fullmatch(value)) and not (vr == "PN" and b"=" in value)

    def _convert(self, tag: int):
        if self._encodings is None:
            self._encodings = default_encoding
            if _CHARSET in self.raw:
                charset = self.raw[_CHARSET]
                self._encodings = convert_encodings(convert_raw_data_element(self._element(_CHARSET, charset)).value)
        return convert_raw_data_element(self._element(tag, self.raw[tag]), encoding=self._encodings).value

    def _element(self, tag: int, raw) -> RawDataElement:
        vr, length, value = raw
        return RawDataElement(BaseTag(tag), vr, length, value, 0, self.implicit, True)

    def index(self, syntax: str, limits: Limits) -> DicomIndex:
        v = self.values
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"):
            if not v.get(keyword):
                raise _NotSure("a UID is missing")
        if "Waveform" in str(UID(v["SOPClassUID"]).name):
            raise _NotSure("a waveform SOP class: the ECG reader needs the full dataset")
        self._check_pixels(limits)
        text, number, date = as_text, as_int, as_date
        has_pixel_data = _PIXEL_DATA in self.raw
        return DicomIndex(
            patient_id=text(v.get("PatientID")), patient_name=text(v.get("PatientName")),
            patient_sex=text(v.get("PatientSex")), patient_birth_date=date(v.get("PatientBirthDate")),
            study_instance_uid=v["StudyInstanceUID"], series_instance_uid=v["SeriesInstanceUID"],
            sop_instance_uid=v["SOPInstanceUID"], sop_class_uid=text(v["SOPClassUID"]),
            modality=text(v.get("Modality")), accession_number=text(v.get("AccessionNumber")),
            study_date=date(v.get("StudyDate")), study_time=text(v.get("StudyTime")),
            series_date=date(v.get("SeriesDate")), study_description=text(v.get("StudyDescription")),
            series_description=text(v.get("SeriesDescription")), series_number=number(v.get("SeriesNumber")),
            instance_number=number(v.get("InstanceNumber")),
            number_of_frames=number(v.get("NumberOfFrames")) or (1 if has_pixel_data else 0),
            rows=number(v.get("Rows")), columns=number(v.get("Columns")), transfer_syntax_uid=syntax,
            has_pixel_data=has_pixel_data, has_waveform=False)

    def _check_pixels(self, limits: Limits) -> None:
        """read_dicom's _check_pixel_length and _check_pixel_budget on the decoded values."""
        v, raw = self.values, self.raw
        has_pixels = any(t in raw for t in (_PIXEL_DATA, _FLOAT_PIXEL_DATA, _DOUBLE_PIXEL_DATA))
        image_expected = str(UID(v["SOPClassUID"]).name).endswith("Image Storage") or (
            "Rows" in v and "BitsAllocated" in v)
        if image_expected and not has_pixels:
            raise _NotSure("an image without pixel data")
        if _PIXEL_DATA not in raw:
            return
        _, length, value = raw[_PIXEL_DATA]
        if length != 0xFFFFFFFF and 0 < len(value) < self._expected_native_length():
            raise _NotSure("pixel data shorter than the image")
        rows, columns = v.get("Rows") or 0, v.get("Columns") or 0
        frames, samples, bits = v.get("NumberOfFrames") or 1, v.get("SamplesPerPixel") or 1, v.get("BitsAllocated") or 8
        pixels = rows * columns * frames * samples
        size = (pixels + 7) // 8 if bits == 1 else pixels * ((bits + 7) // 8)
        if size > limits.max_pixel_bytes:
            raise _NotSure("pixel budget exceeded")

    def _expected_native_length(self) -> int:
        """pydicom.pixels.utils.get_expected_length(ds) in bytes; 0 where it would raise."""
        v = self.values
        rows, columns, samples, bits = (v.get(k) for k in ("Rows", "Columns", "SamplesPerPixel", "BitsAllocated"))
        if None in (rows, columns, samples, bits):
            return 0
        length = rows * columns * samples * (v.get("NumberOfFrames", 1) or 1)
        length = length // 8 + (length % 8 > 0) if bits == 1 else length * (bits // 8)
        if v.get("PhotometricInterpretation") == "YBR_FULL_422":
            length = length // 3 * 2
        return length


def _plain(value: bytes, vr: str) -> str:
    """An ASCII value decoded as pydicom does (trailing spaces and NULs dropped); backslashes only for DS."""
    value = value.rstrip(b" \x00")
    if not _PLAIN.fullmatch(value.replace(b"\\", b"") if vr == "DS" else value):
        raise _NotSure("not plain ASCII, or several values")
    return value.decode("ascii")


def _dictionary_vr(tag: int) -> str | None:
    try:
        return _DICTIONARY_VR[tag]
    except KeyError:
        pass
    try:
        vr = str(dictionary_VR(tag))
    except KeyError:
        vr = None
    _DICTIONARY_VR[tag] = vr
    return vr


def _private_vr(tag: int, creators: dict[int, bytes]) -> str:
    """pydicom's hooks._private_vr_for_tag, for a creator value that is plain ASCII."""
    element = tag & 0xFFFF
    if 0x10 <= element <= 0xFF:
        return "LO"
    if not element & 0xFF00:
        return "UN"
    creator = creators.get((tag & 0xFFFF0000) | (element >> 8))
    if creator is None:
        return "UN"
    if any(b >= 0x80 or b in (0x1B, 0x5C) for b in creator):  # charset escapes, multiple values: not sure
        raise _NotSure("private creator not plain ASCII")
    try:
        return str(private_dictionary_VR(BaseTag(tag), creator.decode("ascii").rstrip("\x00 ")))
    except KeyError:
        return "UN"
