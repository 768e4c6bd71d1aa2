"""The single-pass DICOM index gives exactly what the full safe read gives, or steps aside.

Property: for any input, `index_dicom_header` returns either None (read_dicom decides) or
the very index `index_dataset(read_dicom(data))` gives; it never accepts a file read_dicom
refuses. Checked on every pydicom test file and on hypothesis-mutated seeds (explicit and
implicit VR, encapsulated pixels, sequences, private elements with dictionary VRs).
"""
import functools
import glob
import io
import os

import pydicom
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from studies.formats import index_dataset, index_dicom, read_dicom
from studies.formats.dicom_header import index_dicom_header
from studies.formats.errors import FormatError
from studies.formats.limits import Limits
from tests.formats.formats_samples import data_bytes
from tests.formats.test_fuzz import FUZZ

SMALL = Limits(max_inflated_bytes=8 * 1024 * 1024, max_pixel_bytes=64 * 1024 * 1024)
# The instances the ingest benchmark sends: the single pass must handle them, not step aside.
COMMON = ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "MR_small_jp2klossless.dcm", "SC_rgb_jpeg_gdcm.dcm",
          "US1_J2KR.dcm", "emri_small.dcm", "JPEG-LL.dcm", "SC_rgb_rle.dcm", "OBXXXX1A.dcm",
          "MR_small_implicit.dcm", "rtplan.dcm", "reportsi.dcm"]


def full_outcome(data: bytes, limits: Limits = SMALL):
    try:
        return index_dataset(read_dicom(data, limits=limits))
    except FormatError as exc:
        return exc.code


def assert_same_or_steps_aside(data: bytes, limits: Limits = SMALL) -> None:
    header = index_dicom_header(data, limits=limits)
    if header is not None:
        assert header == full_outcome(data, limits)


def _save(ds: Dataset, syntax) -> bytes:
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True, implicit_vr=syntax == ImplicitVRLittleEndian)
    return out.getvalue()


@functools.cache
def private_implicit() -> bytes:
    """Implicit VR with private elements pydicom types from its private dictionary, and a private sequence."""
    ds = pydicom.dcmread(io.BytesIO(data_bytes("MR_small_implicit.dcm")))
    block = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
    block.add_new(0x02, "SL", 7)  # (0019,xx02) is SL in pydicom's private dictionary
    block.add_new(0x0E, "US", 3)
    item = Dataset()
    item.add_new(0x00091010, "LO", "inner")
    ds.add_new(0x00091020, "SQ", Sequence([item]))
    return _save(ds, ImplicitVRLittleEndian)


@functools.cache
def nested_explicit() -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data_bytes("CT_small.dcm")))
    inner = Dataset()
    inner.CodeValue, inner.CodingSchemeDesignator = "T-A0100", "SRT"
    outer = Dataset()
    outer.AnatomicRegionSequence = Sequence([inner])
    outer.ReferencedFrameNumber = 1
    ds.ProcedureCodeSequence = Sequence([outer, Dataset()])
    return _save(ds, ExplicitVRLittleEndian)


def _pydicom_test_files() -> list[str]:
    folder = os.path.dirname(get_testdata_file("CT_small.dcm"))
    return sorted(p for p in glob.glob(os.path.join(folder, "**", "*.dcm"), recursive=True)
                  if os.path.getsize(p) < 8 * 1024 * 1024)


@pytest.mark.parametrize("path", _pydicom_test_files(), ids=os.path.basename)
def test_every_pydicom_test_file_indexes_as_the_full_read_does(path):
    with open(path, "rb") as source:
        assert_same_or_steps_aside(source.read())


@pytest.mark.parametrize("name", COMMON)
def test_common_instances_take_the_single_pass(name):
    data = data_bytes(name)
    assert index_dicom_header(data) == index_dataset(read_dicom(data))


@pytest.mark.parametrize("make", [private_implicit, nested_explicit])
def test_private_and_nested_elements_take_the_single_pass(make):
    assert index_dicom_header(make()) == index_dataset(read_dicom(make()))


def test_a_private_number_of_the_wrong_length_is_left_to_the_full_read():
    # given an implicit VR file whose private (0019,xx02), an SL by pydicom's private dictionary, has 6 bytes
    data = private_implicit()
    marker = b"\x19\x00\x02\x10\x04\x00\x00\x00\x07\x00\x00\x00"
    assert data.count(marker) == 1
    data = data.replace(marker, b"\x19\x00\x02\x10\x06\x00\x00\x00\x07\x00\x00\x00\x00\x00")
    # then the single pass steps aside and the full read refuses the file, as before
    assert index_dicom_header(data) is None
    with pytest.raises(FormatError):
        read_dicom(data)
    with pytest.raises(FormatError):
        index_dicom(data)


def test_an_ambiguous_us_or_ss_value_without_pixel_representation_is_left_to_the_full_read():
    # given implicit VR pixels whose Smallest Image Pixel Value (US or SS) cannot be resolved: no Pixel Representation
    ds = pydicom.dcmread(io.BytesIO(data_bytes("MR_small_implicit.dcm")))
    assert "SmallestImagePixelValue" in ds
    del ds.PixelRepresentation
    data = _save(ds, ImplicitVRLittleEndian)
    # then the single pass steps aside and the full read refuses, as before
    assert index_dicom_header(data) is None
    with pytest.raises(FormatError):
        index_dicom(data)


def test_a_broken_nested_sequence_is_left_to_the_full_read():
    # given an element deep in a sequence that claims 32 KB where its item has a few bytes
    data = nested_explicit()
    at = data.index(b"T-A0100")
    broken = data[:at - 2] + b"\xff\x7f" + data[at:]
    # then the single pass steps aside and the answer is the full read's, whatever it is
    assert index_dicom_header(broken) is None
    assert index_dicom(broken) == full_outcome(broken, Limits())


SEEDS = [functools.partial(data_bytes, name) for name in (
    "CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm", "rtplan.dcm",
    "reportsi.dcm")] + [private_implicit, nested_explicit]


@st.composite
def mutated(draw):
    """As tests/formats/test_fuzz.py mutates: flipped bytes, implausible lengths, cuts, insertions."""
    data = bytearray(draw(st.sampled_from(SEEDS))())
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        kind = draw(st.sampled_from(["byte", "length", "cut", "insert"]))
        if kind == "byte" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "length":
            lengths = [b"\xff\xff\xff\xff", b"\xff\xff", b"\x00\x00\x00\x80", b"\x00\x00"]
            data[at:at + 4] = draw(st.sampled_from(lengths))
        elif kind == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_files_index_as_the_full_read_does_or_step_aside(data):
    assert_same_or_steps_aside(data)
    try:
        index_dicom(data, limits=SMALL)
    except FormatError:
        pass


def test_small_changes_anywhere_index_as_the_full_read_does_or_step_aside():
    """One or two changed bytes keep most files valid, so the single pass decides often: the sharpest check."""
    import random

    rng = random.Random(11)
    seeds = [make() for make in SEEDS]
    decided = 0
    for _ in range(5 * int(os.environ.get("FORMATS_FUZZ_EXAMPLES", "300"))):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.choice([1, 1, 2])):
            at = rng.randrange(132, len(data))
            if rng.random() < 0.8:
                data[at] = rng.randrange(256)
            else:
                del data[at:at + rng.randrange(1, 9)]
        header = index_dicom_header(bytes(data), limits=SMALL)
        if header is not None:
            decided += 1
            assert header == full_outcome(bytes(data))
    assert decided > 100  # the property was exercised, not only stepped aside


def test_the_file_meta_uids_are_read_without_reading_the_body():
    from studies.formats.dicom_header import file_meta_uids
    from tests.studies.badfiles import deflate_bomb

    ds = pydicom.dcmread(io.BytesIO(data_bytes("CT_small.dcm")))
    assert file_meta_uids(data_bytes("CT_small.dcm")) == {"class": ds.file_meta.MediaStorageSOPClassUID,
                                                          "instance": ds.file_meta.MediaStorageSOPInstanceUID}
    # a bomb's body is never inflated for it; what is not Part 10 gives nothing
    assert file_meta_uids(deflate_bomb(64 * 1024 * 1024))["instance"] == "1.2.3.4.5.6.7.8.9"
    assert file_meta_uids(b"not dicom") == {} and file_meta_uids(b"\0" * 128 + b"DICM" + b"\xff" * 6) == {}
