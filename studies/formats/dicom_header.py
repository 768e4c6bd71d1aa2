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
import struct

from pydicom.filewriter import _AMBIGUOUS_US_SS_TAGS as _AMBIGUOUS_US_SS
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, VR
from pydicom.values import converters

from .dicom_tags import DicomIndex
from .dicom_values import (CHARSET, DOUBLE_PIXEL_DATA, FLOAT_PIXEL_DATA, PIXEL_DATA, TAG, HeaderValues, NotSure,
                           dictionary_vr, plain, private_vr)
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
_TRANSFER_SYNTAX, _WAVEFORM_SEQUENCE = 0x00020010, 0x54000100
_MAX_DEPTH = 32
# The elements the index and the pixel checks read; everything else is only checked structurally.
_NEEDED = {*TAG.values(), CHARSET, PIXEL_DATA, FLOAT_PIXEL_DATA, DOUBLE_PIXEL_DATA, _WAVEFORM_SEQUENCE}
_SYNTAX_IS_IMPLICIT = {ImplicitVRLittleEndian: True, ExplicitVRLittleEndian: False}


def index_dicom_header(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> DicomIndex | None:
    """The index `index_dicom` would give, from one pass; None where `read_dicom` must decide.

    None is returned for every file `read_dicom` refuses (and for some it accepts: unusual
    encodings), never an index `index_dicom` would not give.
    """
    if len(data) > limits.max_file_bytes or len(data) < 132 or data[128:132] != b"DICM":
        return None
    try:
        return _index(data, limits)
    except NotSure:
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
            raise NotSure("deflated, big endian or unknown transfer syntax")
        implicit = False  # every other registered syntax (JPEG, JPEG 2000, RLE, ...) is explicit VR little endian
    raw = _Pass(data, implicit).top_level(body_start)
    return HeaderValues(raw, implicit).index(syntax, limits)


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
        raise NotSure("no transfer syntax")
    return values[0x0010], pos


def _file_meta_values(data: bytes) -> tuple[dict[int, str], int]:
    """The UI values of group 0002 by element number, and where the body starts."""
    walk = _Pass(data, False)
    if len(data) - 132 < 8 or walk._switches(132, False):
        raise NotSure("file meta not explicit VR")
    values, pos = {}, 132
    while len(data) - pos >= 8 and _UNPACK_U16(data, pos)[0] == 2:
        element = _UNPACK_U16(data, pos + 2)[0]
        vr, length, vpos = walk._header(pos, False, len(data))
        if length == 0xFFFFFFFF or vpos + length > len(data) or vr == "UN":
            raise NotSure("unusual file meta element")
        walk._check_value(0x00020000 | element, vr, vpos, length, False, 0)
        if vr == "UI":
            values[element] = plain(data[vpos:vpos + length], "UI")
        pos = vpos + length
    return values, pos


class _Pass:
    """One walk over the element tree of a little-endian body; raises NotSure at anything unusual."""

    def __init__(self, data: bytes, implicit: bool):
        self.data, self.implicit = data, implicit
        self.needs_pixel_representation = False

    def top_level(self, start: int) -> dict:
        """The needed top-level elements as {tag: (vr, length, value)} after checking the whole tree."""
        data = self.data
        if len(data) - start < 8 or self._switches(start, self.implicit):
            raise NotSure("empty body, or a VR other than the transfer syntax says")
        needed: dict = {}
        self._dataset(start, len(data), self.implicit, 0, needed, len(data))
        if _WAVEFORM_SEQUENCE in needed:
            raise NotSure("a waveform: the ECG reader needs the full dataset")
        if self.needs_pixel_representation and PIXEL_DATA in needed and TAG["PixelRepresentation"] not in needed:
            raise NotSure("US or SS values with pixel data but no Pixel Representation (pydicom refuses)")
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
        raise NotSure("unknown VR, or a header cut")

    def _dataset(self, pos: int, end: int | None, implicit: bool, depth: int, needed: dict | None,
                 limit: int) -> int:
        """Elements from pos to end (None: to an item delimiter before limit); returns the position after them."""
        data, limit = self.data, limit if end is None else end
        creators: dict[int, bytes] = {}
        private: list[tuple[int, int, int]] = []
        while end is None or pos != end:  # the hot loop of ingest: kept flat on purpose
            if limit - pos < 8:
                raise NotSure("element header cut")
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
                            raise NotSure("unknown VR, or a header cut")
                    else:
                        length, vpos = _UNPACK_U32(data, pos + 8)[0], pos + 12
            if group == 0xFFFE:
                if element == 0xE00D and end is None and _UNPACK_U32(data, pos + 4)[0] == 0:
                    return pos + 8
                raise NotSure("item tag among elements")
            tag = group << 16 | element
            if length == 0xFFFFFFFF:
                if group == 0 and depth == 0:
                    raise NotSure("command group in a file")
                pos = self._undefined_length(tag, vr and vr.decode(), vpos, limit, implicit, depth, needed)
                continue
            pos = vpos + length
            if pos > limit:
                raise NotSure("value longer than its container (truncated)")
            if group & 1:
                if 0x10 <= element <= 0xFF:
                    creators[tag] = data[vpos:pos]
                if implicit or vr == b"UN":
                    private.append((tag, vpos, length))  # its VR depends on its creator: checked at the end
                    continue
            elif group == 0 and depth == 0:
                raise NotSure("command group in a file")
            if implicit or vr in _CHECKED_VRS:
                self._check_value(tag, self._read_vr(tag, vr and vr.decode(), length, implicit), vpos, length,
                                  implicit, depth)
            if needed is not None and tag in _NEEDED:
                needed[tag] = (vr and vr.decode(), length, data[vpos:pos])
        for tag, vpos, length in private:  # pydicom: implicit VR looks in the public dictionary first
            known = dictionary_vr(tag) if implicit else None
            self._check_value(tag, known or private_vr(tag, creators), vpos, length, implicit, depth)
        return pos

    @staticmethod
    def _read_vr(tag: int, vr: str | None, length: int, implicit: bool) -> str:
        """The VR pydicom converts a public element with (hooks.raw_element_vr)."""
        if not implicit and vr != "UN":
            return vr
        known = dictionary_vr(tag)
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
                raise NotSure("binary value of the wrong length")
        elif vr not in converters:
            raise NotSure("unknown VR")
        elif " or " in vr:
            self._check_ambiguous(tag, vr, length, implicit, depth)

    def _check_ambiguous(self, tag: int, vr: str, length: int, implicit: bool, depth: int) -> None:
        """pydicom resolves an ambiguous VR when the element is read (filewriter.correct_ambiguous_vr_element)."""
        if not implicit or vr == "US or OW":  # a UN made ambiguous, LUT Data: they need other elements
            raise NotSure("an ambiguous VR that depends on other elements")
        if vr == "OB or OW" or tag not in _AMBIGUOUS_US_SS:
            return  # implicit VR: OW, or left as bytes
        if depth or length % 2:
            raise NotSure("US or SS inside a sequence, or of the wrong length")
        self.needs_pixel_representation = True  # US or SS: read with the dataset's Pixel Representation

    def _undefined_length(self, tag, vr, vpos, limit, implicit, depth, needed) -> int:
        """pydicom: an undefined-length UN is a sequence; implicit VR looks the tag up, else peeks for an item."""
        data = self.data
        if vr == "UN" or vr is None:
            known = dictionary_vr(tag) if vr is None else "SQ"
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
        raise NotSure("undefined length on a value that is neither a sequence nor encapsulated")

    def _sequence(self, pos: int, end: int | None, implicit: bool, depth: int, limit: int) -> int:
        """Items from pos to end (None: to a sequence delimiter before limit); returns the position after them."""
        if depth > _MAX_DEPTH:
            raise NotSure("sequences nested too deep")
        data = self.data
        while end is None or pos != end:
            if limit - pos < 8:
                raise NotSure("item header cut")
            group, element = _UNPACK_TAG(data, pos)
            length = _UNPACK_U32(data, pos + 4)[0]
            tag = group << 16 | element
            if tag == _SEQUENCE_END and end is None:
                if length != 0:
                    raise NotSure("sequence delimiter with a length")
                return pos + 8
            if tag != _ITEM:
                raise NotSure("not an item")
            pos += 8
            item_end = None if length == 0xFFFFFFFF else pos + length
            if item_end is not None and (item_end > limit or 0 < length < 8):
                raise NotSure("item longer than its sequence, or too short for an element")
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
                raise NotSure("fragment header cut")
            marker = data[pos:pos + 4]
            if marker == _SEQUENCE_END_BYTES:
                if data[pos + 4:pos + 8] != b"\x00\x00\x00\x00":
                    raise NotSure("sequence delimiter with a length")
                return pos, pos + 8
            if marker != _ITEM_BYTES:
                raise NotSure("not a fragment")
            pos += 8 + _UNPACK_U32(data, pos + 4)[0]
            if pos > limit:
                raise NotSure("fragment longer than the file (truncated)")
