"""Format detection is by content only."""
import io

import pytest
from PIL import Image

from studies.formats import Format, detect
from studies.formats.errors import FileTooLarge, UnsafeXml, UnsupportedFormat
from studies.formats.limits import Limits

from formats_samples import data_bytes


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="PNG")
    return buf.getvalue()


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="JPEG")
    return buf.getvalue()


def test_each_supported_format_is_recognised_by_its_content(ecg_dicom_bytes, aecg_bytes, wfdb_zip_bytes, csv_bytes):
    # given one real or real-derived file of each kind, when detected, then each gets its format
    assert detect(ecg_dicom_bytes) is Format.DICOM
    assert detect(data_bytes("CT_small.dcm")) is Format.DICOM
    assert detect(aecg_bytes) is Format.AECG
    assert detect(wfdb_zip_bytes) is Format.WFDB
    assert detect(csv_bytes) is Format.CSV
    assert detect(_png()) is Format.PNG
    assert detect(_jpeg()) is Format.JPEG


@pytest.mark.parametrize("payload", [
    b"%PDF-1.7\n...", b"MZ\x90\x00" + bytes(200), b"", b"hello,world\n1,2\n",
    b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"/>',
    b'<AnnotatedECG xmlns="urn:other"/>',
])
def test_anything_else_is_refused_with_an_actionable_message(payload):
    with pytest.raises(UnsupportedFormat) as caught:
        detect(payload)
    assert caught.value.code == "unsupported_format"
    assert "DICOM" in caught.value.message


def test_dicom_without_part10_header_is_not_taken_for_dicom():
    # ExplVR_LitEndNoMeta.dcm is named .dcm but has no preamble/DICM: detection must not trust the name
    with pytest.raises(UnsupportedFormat):
        detect(data_bytes("ExplVR_LitEndNoMeta.dcm"))


def test_xml_with_entity_declarations_is_refused_as_unsafe(reference_ecg):
    from formats_samples import make_aecg

    xxe = make_aecg(reference_ecg, leads=["I"], doctype='<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>')
    with pytest.raises(UnsafeXml):
        detect(xxe)


def test_files_over_the_size_cap_are_refused_before_parsing():
    with pytest.raises(FileTooLarge):
        detect(b"\0" * 2048, limits=Limits(max_file_bytes=1024))
