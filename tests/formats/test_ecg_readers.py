"""The four ECG readers on one real 12-lead signal (pydicom's waveform_ecg.dcm)."""
import io
import zipfile

import numpy as np
import pydicom
import pytest

from studies.formats.ecg import STANDARD_LEADS, read_aecg, read_csv_ecg, read_ecg, read_wfdb_zip
from studies.formats.errors import DecompressionBomb, FormatError, InvalidEcg, UnsafeXml
from studies.formats.limits import Limits

from formats_samples import make_aecg, make_csv, make_wfdb_zip


def test_dicom_waveform_gives_twelve_standard_leads_in_microvolts(ecg_dicom_bytes):
    # given the real Mortara 12-lead file, when read
    ecg = read_ecg(ecg_dicom_bytes)
    # then: standard names and order, int32 uV equal to pydicom's scaled waveform, 10 s at 1000 Hz
    raw = pydicom.dcmread(io.BytesIO(ecg_dicom_bytes))
    expected_uv = raw.waveform_array(0)  # channel sensitivity is in uV (ChannelSensitivityUnits)
    assert tuple(ecg.lead_names) == STANDARD_LEADS
    assert ecg.sampling_rate == float(raw.WaveformSequence[0].SamplingFrequency)
    assert ecg.duration_s == pytest.approx(10.0)
    assert all(v.dtype == np.int32 for v in ecg.leads.values())
    assert np.abs(ecg.leads["V2"] - expected_uv[:, 7]).max() <= 0.5
    assert ecg.source_format == "dicom"


def test_dicom_channel_sensitivity_in_millivolts_is_converted(ecg_dicom_bytes, reference_ecg):
    # given the same file declaring its channel sensitivity as 0.00125 mV instead of 1.25 uV
    ds = pydicom.dcmread(io.BytesIO(ecg_dicom_bytes))
    for channel in ds.WaveformSequence[0].ChannelDefinitionSequence:
        channel.ChannelSensitivity = "0.00125"
        channel.ChannelSensitivityUnitsSequence[0].CodeValue = "mV"
    buf = io.BytesIO()
    ds.save_as(buf)
    # then the microvolt values are unchanged
    ecg = read_ecg(buf.getvalue())
    assert np.abs(ecg.leads["II"] - reference_ecg.leads["II"]).max() <= 1


def test_dicom_device_measurements_and_statements_are_kept(ecg_dicom_bytes):
    ecg = read_ecg(ecg_dicom_bytes)
    raw = pydicom.dcmread(io.BytesIO(ecg_dicom_bytes))
    numeric = {a.ConceptNameCodeSequence[0].CodeMeaning: float(a.NumericValue)
               for a in raw.WaveformAnnotationSequence if "NumericValue" in a}
    assert ecg.device_measurements["qt_ms"] == numeric["QT Interval"]
    assert ecg.device_measurements["qrs_ms"] == numeric["QRS Duration"]
    assert ecg.device_measurements["rr_ms"] == numeric["RR Interval"]
    assert "pp_ms" not in ecg.device_measurements  # stored as 0 = not measured
    texts = [a.UnformattedTextValue for a in raw.WaveformAnnotationSequence if "UnformattedTextValue" in a]
    assert ecg.device_statements == texts


@pytest.mark.parametrize("fixture", ["aecg_bytes", "wfdb_zip_bytes", "csv_bytes"])
def test_every_reader_gives_the_same_signal(request, reference_ecg, fixture):
    ecg = read_ecg(request.getfixturevalue(fixture))
    assert ecg.lead_names == reference_ecg.lead_names
    assert ecg.sampling_rate == pytest.approx(reference_ecg.sampling_rate)
    for name in ecg.lead_names:
        assert np.array_equal(ecg.leads[name], reference_ecg.leads[name]), name


def test_aecg_keeps_device_measurements_and_statements(aecg_bytes, reference_ecg):
    ecg = read_aecg(aecg_bytes)
    assert ecg.device_measurements["qt_ms"] == reference_ecg.device_measurements["qt_ms"]
    assert ecg.device_measurements["pr_ms"] == reference_ecg.device_measurements["pr_ms"]
    assert ecg.device_statements == reference_ecg.device_statements


def test_aecg_with_eight_leads_gets_the_limb_leads_derived(reference_ecg):
    ecg = read_aecg(make_aecg(reference_ecg, leads=["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]))
    assert tuple(ecg.lead_names) == STANDARD_LEADS
    assert sorted(ecg.derived_leads) == sorted(["III", "aVR", "aVL", "aVF"])
    for name in ("III", "aVR", "aVL", "aVF"):  # the device computed them the same way
        assert np.abs(ecg.leads[name] - reference_ecg.leads[name]).max() <= 2, name


def test_aecg_with_external_entity_is_refused(reference_ecg):
    xxe = make_aecg(reference_ecg, leads=["I"], doctype='<!DOCTYPE AnnotatedECG [<!ENTITY x SYSTEM "file:///etc/passwd">]>')
    xxe = xxe.replace(b"<id root", b"<id extension=\"&x;\" root")
    with pytest.raises(UnsafeXml):
        read_aecg(xxe)


def test_aecg_billion_laughs_is_refused():
    laughs = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><AnnotatedECG xmlns="urn:hl7-org:v3">&c;</AnnotatedECG>')
    with pytest.raises(UnsafeXml):
        read_aecg(laughs)


def test_wfdb_format_212_in_millivolts_agrees_within_its_resolution(reference_ecg):
    ecg = read_wfdb_zip(make_wfdb_zip(reference_ecg, fmt="212", units="mV", gain=200.0))  # 5 uV steps
    for name in ecg.lead_names:
        assert np.abs(ecg.leads[name] - reference_ecg.leads[name]).max() <= 3, name


def test_wfdb_zip_rules(wfdb_zip_bytes):
    # a path-traversal member name is refused
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../evil.hea", "evil 1 250 10\n")
    with pytest.raises(InvalidEcg):
        read_wfdb_zip(buf.getvalue())
    # a header whose signal file is missing is refused
    only_header = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(wfdb_zip_bytes)) as src, zipfile.ZipFile(only_header, "w") as dst:
        for name in src.namelist():
            if name.endswith(".hea"):
                dst.writestr(name, src.read(name))
    with pytest.raises(InvalidEcg):
        read_wfdb_zip(only_header.getvalue())
    # a zip that inflates past the limit is refused
    with pytest.raises(DecompressionBomb):
        read_wfdb_zip(wfdb_zip_bytes, limits=Limits(max_inflated_bytes=10_000))


def test_csv_in_millivolts_with_time_column(reference_ecg):
    data = make_csv(reference_ecg, units="mV").decode()
    lines = data.splitlines()
    lines[1] = "time_s," + lines[1]
    lines[2:] = [f"{i / 1000:.3f},{row}" for i, row in enumerate(lines[2:])]
    ecg = read_csv_ecg("\n".join(lines).encode())
    assert np.abs(ecg.leads["V3"] - reference_ecg.leads["V3"]).max() <= 1


@pytest.mark.parametrize("mutate, code", [
    (lambda text: text.split("\n", 1)[1], "csv_missing_metadata"),
    (lambda text: text.replace("units=uV", "units=furlongs"), "ecg_bad_units"),
    (lambda text: text.replace("\n", "\n1,2\n", 3), "csv_bad_row"),
    (lambda text: text.replace("I,II,III", "I,I,III"), "ecg_duplicate_lead"),
])
def test_bad_csv_is_refused_with_a_reason(reference_ecg, mutate, code):
    with pytest.raises(InvalidEcg) as caught:
        read_csv_ecg(mutate(make_csv(reference_ecg).decode()).encode())
    assert caught.value.code == code


def test_a_dicom_image_is_not_an_ecg():
    from formats_samples import data_bytes

    with pytest.raises(InvalidEcg) as caught:
        read_ecg(data_bytes("CT_small.dcm"))
    assert caught.value.code == "ecg_no_waveform"


def test_a_photo_is_not_an_ecg():
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    with pytest.raises(FormatError) as caught:
        read_ecg(buf.getvalue())
    assert caught.value.code == "not_an_ecg"
