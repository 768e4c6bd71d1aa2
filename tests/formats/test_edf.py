"""EDF/EDF+ ECGs written by pyedflib's own writer from pydicom's real 12-lead: samples, lead names and
rate read back; non-ECG channels left out; refusals name what they saw."""
import numpy as np
import pytest

from studies.formats import Format, detect
from studies.formats.ecg import read_ecg
from studies.formats.ecg.measure import analyse_ecg
from studies.formats.errors import InvalidEcg, UnsupportedFormat
from tests.formats.formats_samples import make_edf

RESOLUTION_UV = 20000 / 65535  # +-10 mV over 16 bits


@pytest.mark.parametrize("plus", [True, False])
def test_an_edf_12_lead_reads_back_its_samples_leads_and_rate(reference_ecg, plus):
    data = make_edf(reference_ecg, plus=plus)
    assert detect(data) is Format.EDF
    ecg = read_ecg(data)
    assert ecg.source_format == "edf" and ecg.sampling_rate == reference_ecg.sampling_rate
    assert ecg.lead_names == reference_ecg.lead_names and ecg.derived_leads == []
    for name in ecg.lead_names:
        assert np.max(np.abs(ecg.leads[name] - reference_ecg.leads[name])) <= RESOLUTION_UV + 0.5


def test_edf_in_millivolts_with_monitor_labels_and_a_spo2_channel(reference_ecg):
    spo2 = ("SpO2", np.full(10 * 1, 97.0), 1)
    data = make_edf(reference_ecg, labels=["EKG I", "MLII", "III", "AVR", "aVL", "aVF", "C1", "C2", "C3", "C4", "C5",
                                           "C6"], units="mV", extra_channels=[spo2])
    ecg = read_ecg(data)
    assert ecg.lead_names == reference_ecg.lead_names  # SpO2 is not an ECG channel
    assert np.max(np.abs(ecg.leads["II"] - reference_ecg.leads["II"])) <= RESOLUTION_UV + 0.5


def test_an_edf_ecg_is_analysed_like_the_dicom_it_came_from(reference_ecg):
    from_edf, from_dicom = analyse_ecg(read_ecg(make_edf(reference_ecg))), analyse_ecg(reference_ecg)
    assert [s.code for s in from_edf.statements] == [s.code for s in from_dicom.statements] == ["sinus_rhythm"]
    assert from_edf.computed.heart_rate_bpm == pytest.approx(from_dicom.computed.heart_rate_bpm, abs=0.5)


def test_an_edf_without_ecg_channels_is_refused_naming_its_channels(reference_ecg):
    data = make_edf(reference_ecg, labels=[f"EEG Fp{i}" for i in range(12)])
    with pytest.raises(InvalidEcg) as caught:
        read_ecg(data)
    assert caught.value.code == "edf_no_ecg" and "EEG Fp1" in caught.value.message


@pytest.mark.parametrize("payload, seen", [
    (b'<?xml version="1.0"?><ECG/>', "Mortara"),
    (b'<?xml version="1.0"?><CardiologyXML/>', "GE CardioSoft XML"),
    (b"\xffBIOSEMI" + bytes(300), "BDF"),
])
def test_a_refusal_names_the_format_it_saw_and_what_is_accepted(payload, seen):
    with pytest.raises(UnsupportedFormat) as caught:
        detect(payload)
    assert seen in caught.value.message and "EDF" in caught.value.message and "DICOM" in caught.value.message
