"""Finding 7: a 255 KB deflated DICOM that inflates to exactly the 256 MiB limit was inflated (and
parsed): a minute of CPU and about +490 MB. The inflated size is now bounded by the deflated size
too (formats.limits.inflated_cap), checked while inflating."""
import io
import tracemalloc

import pydicom
import pytest
from pydicom.uid import DeflatedExplicitVRLittleEndian

from studies.formats.dicom import read_dicom
from studies.formats.errors import FormatError
from tests.studies.badfiles import deflate_bomb, sample_bytes

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def bomb_at_the_limit() -> bytes:
    return deflate_bomb(256 * MiB - 64)  # inflates to just under the absolute limit


def test_a_bomb_under_the_absolute_limit_is_refused_after_a_few_megabytes(bomb_at_the_limit):
    assert len(bomb_at_the_limit) < 300 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(FormatError) as refused:
            read_dicom(bomb_at_the_limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # then it is refused as a bomb, having held far less than the 256 MiB it would inflate to
    assert refused.value.code == "decompression_bomb"
    assert peak < 32 * MiB, peak


def test_a_real_deflated_image_still_reads():
    ds = pydicom.dcmread(io.BytesIO(sample_bytes("CT_small.dcm")))
    out = io.BytesIO()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(out, enforce_file_format=True)
    assert read_dicom(out.getvalue()).PatientID == ds.PatientID
