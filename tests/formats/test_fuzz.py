"""Property: random and mutated inputs never raise anything but FormatError, and never hang.

Seeds are real files (pydicom's test files) and the real-signal aECG/WFDB/CSV
fixtures; hypothesis flips bytes, overwrites lengths and truncates. The deadline
is the "never hangs" bound per example.
"""
import functools
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studies.formats import detect, index_dicom, render_frame, sanitize_photo
from studies.formats.ecg import (read_aecg, read_csv_ecg, read_ecg, read_edf, read_muse, read_scp, read_sierra,
                                 read_wfdb_zip)
from studies.formats.errors import FormatError
from studies.formats.limits import Limits

from tests.formats.formats_samples import (data_bytes, make_aecg, make_csv, make_edf, make_muse, make_scp, make_sierra,
                                          make_wfdb_zip)

FUZZ = settings(max_examples=int(os.environ.get("FORMATS_FUZZ_EXAMPLES", "300")), deadline=3000, derandomize=os.environ.get("FORMATS_FUZZ_RANDOM") is None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SMALL = Limits(max_inflated_bytes=8 * 1024 * 1024, max_pixel_bytes=64 * 1024 * 1024, max_ecg_samples=2_000_000)


@functools.cache
def _ecg_seeds() -> dict[str, bytes]:
    from studies.formats.ecg import read_dicom_ecg

    ecg = read_dicom_ecg(data_bytes("waveform_ecg.dcm"))
    short = type(ecg)(leads={k: v[:1500] for k, v in ecg.leads.items()}, sampling_rate=ecg.sampling_rate,
                      source_format="test", device_measurements=ecg.device_measurements,
                      device_statements=ecg.device_statements)
    return {"aecg": make_aecg(short), "csv": make_csv(short), "wfdb": make_wfdb_zip(short), "edf": make_edf(short),
            "muse": make_muse(short), "sierra": make_sierra(short), "scp": make_scp(short)}


def _seed(name: str) -> bytes:
    return _ecg_seeds()[name] if name in ECG_SEEDS else data_bytes(name)


ECG_SEEDS = ("aecg", "csv", "wfdb", "edf", "muse", "sierra", "scp")


@st.composite
def mutated(draw, seeds):
    data = bytearray(_seed(draw(st.sampled_from(seeds))))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        kind = draw(st.sampled_from(["byte", "length", "cut", "insert"]))
        if kind == "byte" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "length":  # an implausible 16/32-bit length or count
            data[at:at + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\xff\xff", b"\x00\x00\x00\x80", b"\x00\x00"]))
        elif kind == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def _only_format_errors(parse, data):
    try:
        parse(data)
    except FormatError:
        pass


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_only_raise_format_errors(data):
    for parse in (detect, index_dicom, read_ecg, read_aecg, read_csv_ecg, read_wfdb_zip, read_edf, read_muse, read_scp,
                  read_sierra,
                  sanitize_photo):
        _only_format_errors(functools.partial(parse, limits=SMALL), data)


@FUZZ
@given(mutated(["CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
                "image_dfl.dcm", "SC_rgb_jpeg_dcmtk.dcm", "emri_small_jpeg_ls_lossless.dcm"]))
def test_mutated_dicom_images_index_and_render_or_raise_format_error(data):
    _only_format_errors(functools.partial(index_dicom, limits=SMALL), data)
    _only_format_errors(functools.partial(render_frame, limits=SMALL), data)


@FUZZ
@given(mutated(["waveform_ecg.dcm", *ECG_SEEDS]))
def test_mutated_ecgs_read_or_raise_format_error(data):
    _only_format_errors(functools.partial(read_ecg, limits=SMALL), data)


@pytest.mark.parametrize("name", ECG_SEEDS)
def test_fuzz_seeds_themselves_are_valid(name):
    assert read_ecg(_seed(name)).n_samples == (2000 if name == "edf" else 1500)  # EDF: whole 1 s data records
