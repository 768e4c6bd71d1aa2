"""Safe DICOM reading, indexing and storage bytes."""
import io
import struct
import tracemalloc
import zlib

import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from studies.formats import index_dicom, read_dicom, sanitized_bytes
from studies.formats.errors import DecompressionBomb, FileTooLarge, FormatError, InvalidDicom, TruncatedFile
from studies.formats.limits import Limits

from tests.formats.formats_samples import PYDICOM_FILES, data_bytes


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "waveform_ecg.dcm", "US1_UNCR.dcm",
                                  "emri_small.dcm", "image_dfl.dcm"])
def test_index_matches_what_pydicom_reads_from_the_same_file(name):
    # given a real instance, when indexed, then the values equal pydicom's own reading of the file
    data = data_bytes(name)
    expected = pydicom.dcmread(io.BytesIO(data))
    index = index_dicom(data)
    assert index.patient_id == str(expected.get("PatientID", ""))
    assert index.patient_name == str(expected.get("PatientName", ""))
    assert index.study_instance_uid == expected.StudyInstanceUID
    assert index.series_instance_uid == expected.SeriesInstanceUID
    assert index.sop_instance_uid == expected.SOPInstanceUID
    assert index.modality == expected.Modality
    assert index.transfer_syntax_uid == expected.file_meta.TransferSyntaxUID
    assert index.rows == expected.get("Rows")
    assert index.number_of_frames == int(expected.get("NumberOfFrames") or (1 if "PixelData" in expected else 0))


@pytest.mark.parametrize("name, expected", [
    ("chrX1.dcm", "Wang^XiaoDong=王^小東"),  # ISO_IR 192 (UTF-8)
    ("chrX2.dcm", "Wang^XiaoDong=王^小东"),  # GB18030
])
def test_chinese_patient_names_are_decoded(name, expected):
    data = (PYDICOM_FILES.parent / "charset_files" / name).read_bytes()
    assert index_dicom(data).patient_name == expected


def test_index_of_the_ecg_has_patient_and_dates():
    index = index_dicom(data_bytes("waveform_ecg.dcm"))
    assert (index.modality, index.patient_sex, index.has_waveform, index.has_pixel_data) == ("ECG", "F", True, False)
    assert index.patient_birth_date.isoformat() == "1971-01-23"
    assert index.study_date.isoformat() == "2013-01-25"


def test_truncated_file_is_refused():
    # MR_truncated.dcm is a real file cut inside its pixel data
    with pytest.raises(TruncatedFile) as caught:
        read_dicom(data_bytes("MR_truncated.dcm"))
    assert "send it again" in caught.value.message


@pytest.mark.parametrize("keep", [140, 300, 1000, 5000, 39000])
def test_a_file_cut_anywhere_is_refused_with_a_format_error(keep):
    data = data_bytes("CT_small.dcm")[:keep]
    with pytest.raises(FormatError):
        read_dicom(data)


def test_file_without_meta_header_is_refused():
    with pytest.raises(InvalidDicom) as caught:
        read_dicom(data_bytes("ExplVR_LitEndNoMeta.dcm"))
    assert caught.value.code == "dicom_missing_meta"


def test_meta_without_transfer_syntax_is_refused():
    with pytest.raises(InvalidDicom) as caught:
        read_dicom(data_bytes("meta_missing_tsyntax.dcm"))
    assert caught.value.code == "dicom_missing_meta"


def test_a_non_dicom_file_named_dcm_is_refused():
    with pytest.raises(InvalidDicom) as caught:
        read_dicom(b"\x89PNG\r\n\x1a\n" + bytes(300))
    assert caught.value.code == "not_dicom"


def test_bad_vr_value_is_refused():
    # badVR.dcm has Number of Frames (IS) = '1A'
    with pytest.raises(InvalidDicom) as caught:
        read_dicom(data_bytes("badVR.dcm"))
    assert caught.value.code == "dicom_bad_value"
    assert "NumberOfFrames" in caught.value.message


def test_file_size_cap():
    with pytest.raises(FileTooLarge):
        read_dicom(data_bytes("CT_small.dcm"), limits=Limits(max_file_bytes=10_000))


def _deflated_dicom(inflated_mb: int) -> bytes:
    """A Part 10 file whose deflated body inflates to inflated_mb megabytes of zeros."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buf = io.BytesIO()
    buf.write(bytes(128) + b"DICM")
    pydicom.filewriter.write_file_meta_info(pydicom.filebase.DicomFileLike(buf), meta)
    deflater = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    chunk = bytes(1024 * 1024)
    body = b"".join(deflater.compress(chunk) for _ in range(inflated_mb)) + deflater.flush()
    return buf.getvalue() + body


def test_deflate_bomb_is_refused_quickly_within_memory():
    # given a ~2 MB deflate bomb that inflates to 400 MB
    bomb = _deflated_dicom(400)
    assert len(bomb) < 4_000_000
    limit = 16 * 1024 * 1024
    tracemalloc.start()
    # when read with a 16 MB inflate limit
    with pytest.raises(DecompressionBomb):
        read_dicom(bomb, limits=Limits(max_inflated_bytes=limit))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # then it is refused having held about the limit in memory: it stopped inflating at the limit
    # (its speed is a figure for bench/, not a bound here)
    assert peak < 4 * limit


def test_a_real_deflated_file_still_reads():
    ds = read_dicom(data_bytes("image_dfl.dcm"))
    assert ds.Rows == 512


def test_executable_in_preamble_is_zeroed_for_storage():
    # given a real file whose preamble carries a PE header
    original = data_bytes("CT_small.dcm")
    polyglot = (b"MZ\x90\x00\x03" + b"This program cannot be run in DOS mode").ljust(128, b"\xcc") + original[128:]
    # when sanitised
    stored = sanitized_bytes(polyglot)
    # then the preamble is zero, the rest is untouched and it indexes the same
    assert stored[:128] == bytes(128)
    assert stored[128:] == polyglot[128:]
    assert index_dicom(stored) == index_dicom(polyglot)


def test_sanitized_bytes_refuses_non_dicom():
    with pytest.raises(InvalidDicom):
        sanitized_bytes(b"MZ" + bytes(400))


def test_pixel_budget_refuses_huge_declared_images():
    with pytest.raises(DecompressionBomb):
        read_dicom(data_bytes("CT_small.dcm"), limits=Limits(max_pixel_bytes=1000))


@pytest.mark.parametrize("tag, length_at, length", [
    (b"\x10\x00\x10\x00PN", 6, struct.pack("<H", 0xFFFF)),         # PatientName claims 64 KiB
    (b"\xe0\x7f\x10\x00OW", 8, struct.pack("<I", 0xFFFFFFF0)),     # PixelData claims 4 GiB
])
def test_implausible_element_length_is_refused_as_truncated_without_reading_or_allocating_it(tag, length_at, length):
    # a tag claiming a value longer than the whole (small) file
    data = bytearray(data_bytes("CT_small.dcm"))
    at = data.find(tag)
    data[at + length_at:at + length_at + len(length)] = length
    # is refused as truncated, with the element named, and costs no more memory than a few copies of
    # the file (no buffer of the claimed length is ever allocated: that would be the hang)
    tracemalloc.start()
    try:
        with pytest.raises(TruncatedFile) as refused:
            read_dicom(bytes(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.value.code == "truncated_file" and "element (" in str(refused.value)
    assert peak < 16 * len(data) + 1_000_000
