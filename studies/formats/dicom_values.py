"""The few elements of a DICOM header that the index and the pixel checks need, decoded as pydicom decodes them
and checked as read_dicom checks them; and the VR lookups of the structural pass (dicom_header.py).

Anything this does not vouch for raises NotSure: read_dicom then reads the whole file instead.
"""
import re
import struct

from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.datadict import dictionary_VR, private_dictionary_VR, tag_for_keyword
from pydicom.tag import BaseTag
from pydicom.uid import UID

from .dicom_tags import INDEXED, PIXEL_MODULE, DicomIndex, as_date, as_int, as_text
from .limits import Limits

_UNPACK_U16 = struct.Struct("<H").unpack_from
CHARSET = 0x00080005
PIXEL_DATA, FLOAT_PIXEL_DATA, DOUBLE_PIXEL_DATA = 0x7FE00010, 0x7FE00008, 0x7FE00009
TAG = {keyword: tag_for_keyword(keyword) for keyword in (*INDEXED.values(), *PIXEL_MODULE)}
_PLAIN = re.compile(rb"[\x20-\x5b\x5d-\x7e]*")  # printable ASCII but the backslash: decodes the same in any charset
_IS = re.compile(r" *[+-]?[0-9]+ *")
_DS = re.compile(r" *[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)? *")
_TEXT_VRS = ("LO", "SH", "PN")
# Character sets whose printable ASCII decodes as ASCII (others, e.g. with escapes: pydicom decodes the text)
_ASCII_CHARSETS = {b"", b"ISO_IR 6", b"ISO_IR 100", b"ISO_IR 192", b"GB18030", b"GBK"}
_DICTIONARY_VR: dict[int, str | None] = {}


class NotSure(Exception):
    """The single pass does not vouch for this file: read_dicom decides."""


class HeaderValues:
    """The needed elements decoded as pydicom decodes them, and read_dicom's checks on them."""

    def __init__(self, raw: dict, implicit: bool):
        self.raw, self.implicit, self._encodings, self._ascii_charset = raw, implicit, None, None
        self.values = {keyword: self._value(tag) for keyword, tag in TAG.items() if tag in raw}

    def _value(self, tag: int):
        vr, length, value = self.raw[tag]
        expected = dictionary_vr(tag)
        if vr is not None and vr != expected:
            raise NotSure("an indexed element with an unusual VR")
        if expected == "US":
            if length == 0:
                return None
            if length != 2:
                raise NotSure("several values where one is expected")
            return _UNPACK_U16(value, 0)[0]
        if expected in _TEXT_VRS and not self._plain_text(value, expected):
            return self._convert(tag)  # non-ASCII, several values, name component groups: pydicom decodes it
        text = plain(value, expected)
        if expected == "UI" and not (text == "" or (len(text) <= 64 and text.isprintable())):
            raise NotSure("a UID that read_dicom refuses")
        if expected == "IS" and text:
            if not _IS.fullmatch(text):
                raise NotSure("not an integer")
            return int(text)
        if expected == "DS" and not all(_DS.fullmatch(number) for number in text.split("\\")) and text:
            raise NotSure("not a decimal")
        return text

    def _plain_text(self, value: bytes, vr: str) -> bool:
        if self._ascii_charset is None:
            charset = self.raw.get(CHARSET)
            self._ascii_charset = charset is None or charset[2].strip(b" \x00") in _ASCII_CHARSETS
        value = value.rstrip(b" \x00")
        return self._ascii_charset and bool(_PLAIN.fullmatch(value)) and not (vr == "PN" and b"=" in value)

    def _convert(self, tag: int):
        if self._encodings is None:
            self._encodings = default_encoding
            if CHARSET in self.raw:
                charset = self.raw[CHARSET]
                self._encodings = convert_encodings(convert_raw_data_element(self._element(CHARSET, charset)).value)
        return convert_raw_data_element(self._element(tag, self.raw[tag]), encoding=self._encodings).value

    def _element(self, tag: int, raw) -> RawDataElement:
        vr, length, value = raw
        return RawDataElement(BaseTag(tag), vr, length, value, 0, self.implicit, True)

    def index(self, syntax: str, limits: Limits) -> DicomIndex:
        v = self.values
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"):
            if not v.get(keyword):
                raise NotSure("a UID is missing")
        if "Waveform" in str(UID(v["SOPClassUID"]).name):
            raise NotSure("a waveform SOP class: the ECG reader needs the full dataset")
        self._check_pixels(limits)
        text, number, date = as_text, as_int, as_date
        has_pixel_data = PIXEL_DATA in self.raw
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
        has_pixels = any(t in raw for t in (PIXEL_DATA, FLOAT_PIXEL_DATA, DOUBLE_PIXEL_DATA))
        image_expected = str(UID(v["SOPClassUID"]).name).endswith("Image Storage") or (
            "Rows" in v and "BitsAllocated" in v)
        if image_expected and not has_pixels:
            raise NotSure("an image without pixel data")
        if PIXEL_DATA not in raw:
            return
        _, length, value = raw[PIXEL_DATA]
        if length != 0xFFFFFFFF and 0 < len(value) < self._expected_native_length():
            raise NotSure("pixel data shorter than the image")
        rows, columns = v.get("Rows") or 0, v.get("Columns") or 0
        frames, samples, bits = v.get("NumberOfFrames") or 1, v.get("SamplesPerPixel") or 1, v.get("BitsAllocated") or 8
        pixels = rows * columns * frames * samples
        size = (pixels + 7) // 8 if bits == 1 else pixels * ((bits + 7) // 8)
        if size > limits.max_pixel_bytes:
            raise NotSure("pixel budget exceeded")

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


def plain(value: bytes, vr: str) -> str:
    """An ASCII value decoded as pydicom does (trailing spaces and NULs dropped); backslashes only for DS."""
    value = value.rstrip(b" \x00")
    if not _PLAIN.fullmatch(value.replace(b"\\", b"") if vr == "DS" else value):
        raise NotSure("not plain ASCII, or several values")
    return value.decode("ascii")


def dictionary_vr(tag: int) -> str | None:
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


def private_vr(tag: int, creators: dict[int, bytes]) -> str:
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
        raise NotSure("private creator not plain ASCII")
    try:
        return str(private_dictionary_VR(BaseTag(tag), creator.decode("ascii").rstrip("\x00 ")))
    except KeyError:
        return "UN"
