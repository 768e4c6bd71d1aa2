"""Fixtures for the formats library tests (no Django: run with -p no:django)."""
import pathlib
import sys

import pytest

# The repository root, so that `studies` imports without an installed package.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from formats_samples import data_bytes, make_aecg, make_csv, make_wfdb_zip  # noqa: E402
from studies.formats.ecg import read_dicom_ecg  # noqa: E402


@pytest.fixture(scope="session")
def ecg_dicom_bytes() -> bytes:
    return data_bytes("waveform_ecg.dcm")


@pytest.fixture(scope="session")
def reference_ecg(ecg_dicom_bytes):
    return read_dicom_ecg(ecg_dicom_bytes)


@pytest.fixture(scope="session")
def aecg_bytes(reference_ecg):
    return make_aecg(reference_ecg)


@pytest.fixture(scope="session")
def wfdb_zip_bytes(reference_ecg):
    return make_wfdb_zip(reference_ecg)


@pytest.fixture(scope="session")
def csv_bytes(reference_ecg):
    return make_csv(reference_ecg)
