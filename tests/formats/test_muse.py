"""GE MUSE XML: pydicom's real 12-lead written in MUSE's layout reads back its samples (within one
step of 4.88 uV), its lead names (I, II, V1-V6 stored; the limb leads derived), GE's measurements
under our names (and the unknown ones under theirs) and its statements; entities are refused."""
import numpy as np
import pytest

from studies.formats import Format, detect
from studies.formats.ecg import read_ecg
from studies.formats.ecg.muse import read_muse
from studies.formats.errors import InvalidEcg, UnsafeXml
from tests.formats.formats_samples import make_muse


def test_a_muse_rhythm_reads_back_its_samples_leads_measurements_and_statements(reference_ecg):
    data = make_muse(reference_ecg)
    assert detect(data) is Format.MUSE
    ecg = read_ecg(data)
    assert ecg.source_format == "muse" and ecg.sampling_rate == 1000.0
    assert ecg.lead_names == list(reference_ecg.lead_names)
    assert ecg.derived_leads == ["III", "aVR", "aVL", "aVF"]
    for name in ("I", "II", "V1", "V6"):
        assert np.max(np.abs(ecg.leads[name] - reference_ecg.leads[name])) <= 4.88 / 2 + 0.5
    assert ecg.device_measurements == {
        "heart_rate_bpm": 61.0, "atrial_rate_bpm": 61.0, "pr_ms": 161.0, "qrs_ms": 75.0, "qt_ms": 368.0,
        "qtc_ms": 370.0, "p_axis_deg": 74.0, "qrs_axis_deg": 52.0, "t_axis_deg": 57.0, "QTcFrederica": 369.0,
        "beats": 10.0}
    assert ecg.device_statements == ["RITMO SINUSALE", "ECG NORMALE"]


def test_a_muse_file_without_its_doctype_reads_the_same(reference_ecg):
    with_doctype, without = read_ecg(make_muse(reference_ecg)), read_ecg(make_muse(reference_ecg, doctype=False))
    assert all(np.array_equal(with_doctype.leads[n], without.leads[n]) for n in with_doctype.lead_names)


def test_muse_entities_are_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE RestingECG [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;">]>'
            b"<RestingECG>&b;</RestingECG>")
    with pytest.raises(UnsafeXml):
        read_muse(bomb)


def test_a_muse_file_with_only_a_median_beat_is_refused_clearly():
    data = b"<RestingECG><Waveform><WaveformType>Median</WaveformType></Waveform></RestingECG>"
    with pytest.raises(InvalidEcg) as caught:
        read_ecg(data)
    assert caught.value.code == "ecg_no_waveform" and "rhythm" in caught.value.message
