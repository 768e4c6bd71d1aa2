"""Device measurements under their own names (a table per vendor, unknown keys as they came) and lead
names normalised whatever the device called them."""
import io
import os
import tempfile
import zipfile

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from studies.formats.ecg import read_ecg
from studies.formats.ecg.model import STANDARD_LEADS, normalize_lead_name


def with_annotations(dicom_bytes: bytes, manufacturer: str, items: list[tuple[str, float]]) -> bytes:
    """pydicom's real 12-lead with its Manufacturer changed and numeric annotations added."""
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes))
    ds.Manufacturer = manufacturer
    for meaning, value in items:
        item = Dataset()
        concept = Dataset()
        concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = "99", "99LOCAL", meaning
        item.ConceptNameCodeSequence = [concept]
        item.NumericValue = value
        item.ReferencedWaveformChannels = [1, 0]
        ds.WaveformAnnotationSequence.append(item)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_a_ge_ventricular_heart_rate_is_the_heart_rate_and_unknown_keys_are_kept_as_they_came(ecg_dicom_bytes):
    data = with_annotations(ecg_dicom_bytes, "GE Healthcare",
                            [("Ventricular Heart Rate", 61), ("Atrial Heart Rate", 62), ("QT Dispersion", 28)])
    measurements = read_ecg(data).device_measurements
    assert measurements["heart_rate_bpm"] == 61 and measurements["atrial_rate_bpm"] == 62
    assert measurements["QT Dispersion"] == 28
    assert measurements["pr_ms"] == 161 and measurements["qtc_ms"] == 370  # the common names still read


def test_a_key_of_another_vendor_is_not_renamed(ecg_dicom_bytes):
    data = with_annotations(ecg_dicom_bytes, "Mortara Instrument, Inc.", [("Ventricular Heart Rate", 61)])
    measurements = read_ecg(data).device_measurements
    assert measurements["Ventricular Heart Rate"] == 61 and "heart_rate_bpm" not in measurements


@pytest.mark.parametrize("raw, name", [
    ("MLII", "II"), ("ML2", "II"), ("MLI", "I"), ("MLIII", "III"), ("AVR", "aVR"), ("avl", "aVL"), ("aVF", "aVF"),
    ("V1", "V1"), ("v6", "V6"), ("V-3", "V3"), ("C2", "V2"), ("MV5", "V5"), ("ECG II", "II"), ("EKG V4", "V4"),
    ("Lead III", "III"), ("MDC_ECG_LEAD_AVR", "aVR"), ("ECG_V1", "V1"), ("Resp", "Resp"),
])
def test_lead_names_are_normalised(raw, name):
    assert normalize_lead_name(raw) == name


def test_a_wfdb_record_with_mlii_and_v1_reads_as_leads_ii_and_v1(reference_ecg):
    wfdb_zip = mit_style_record(reference_ecg)
    ecg = read_ecg(wfdb_zip)
    assert ecg.lead_names == ["II", "V1"]
    assert np.array_equal(ecg.leads["II"], reference_ecg.leads["II"])
    assert set(ecg.lead_names) <= set(STANDARD_LEADS)


def mit_style_record(reference_ecg) -> bytes:
    """A two-signal record named like the MIT-BIH database's (MLII, V1), written by the wfdb package."""
    import wfdb

    signal = np.column_stack([reference_ecg.leads["II"], reference_ecg.leads["V1"]]).astype(np.int32)
    with tempfile.TemporaryDirectory() as folder:
        wfdb.wrsamp("100", fs=reference_ecg.sampling_rate, units=["uV", "uV"], sig_name=["MLII", "V1"],
                    d_signal=signal, fmt=["16", "16"], adc_gain=[1.0, 1.0], baseline=[0, 0], write_dir=folder)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name in sorted(os.listdir(folder)):
                archive.write(os.path.join(folder, name), arcname=name)
        return buffer.getvalue()
