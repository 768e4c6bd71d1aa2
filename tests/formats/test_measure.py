"""Computed measurements against the device's own values, and critical findings.

On waveform_ecg.dcm (Mortara ELI 250, device: RR 982, PR 161, QRS 75, QT 368,
QTc 370 ms) lead II alone (neurokit2's delineation) gave PR ~148 and QRS ~94 ms; measured
globally over all leads as the device does (rhythm.py, beats.py) PR is 162 and QRS 74 ms,
HR 61.1 bpm, QT ~369, QTc ~372 ms. QT stays a single-lead value, hence its wider tolerance.
"""
import dataclasses
import json

import numpy as np
import pytest
from scipy.signal import find_peaks

from studies.formats.ecg import read_ecg
from studies.formats.ecg.measure import (
    ComputedMeasurements, CriticalThresholds, analyse_ecg, critical_findings, measure_ecg,
)
from studies.formats.errors import MeasurementError


@pytest.fixture(scope="module")
def analysis(reference_ecg):
    return analyse_ecg(reference_ecg, lead="II")


def test_computed_values_agree_with_the_device(analysis, reference_ecg):
    device, computed = reference_ecg.device_measurements, analysis.computed
    assert computed.lead == "II" and computed.qtc_formula == "Bazett"
    assert abs(computed.heart_rate_bpm - 60000 / device["rr_ms"]) <= 5
    assert abs(computed.rr_mean_ms - device["rr_ms"]) <= 30
    assert abs(computed.pr_ms - device["pr_ms"]) <= 6
    assert abs(computed.qrs_ms - device["qrs_ms"]) <= 6
    assert abs(computed.qt_ms - device["qt_ms"]) <= 30
    assert abs(computed.qtc_ms - device["qtc_ms"]) <= 30


def test_device_values_are_kept_apart_and_a_normal_ecg_has_no_critical_finding(analysis, reference_ecg):
    assert analysis.device == reference_ecg.device_measurements
    assert analysis.computed.source.startswith("computed")
    assert analysis.critical == []
    assert analysis.computed.rr_nrmssd < 0.1  # sinus rhythm (device: "RITMO SINUSALE")
    stored = json.loads(json.dumps(analysis.as_dict()))
    assert stored["computed"]["qtc_formula"] == "Bazett" and stored["device"]["qt_ms"] == 368


@pytest.mark.parametrize("fixture", ["aecg_bytes", "wfdb_zip_bytes", "csv_bytes"])
def test_measurements_do_not_depend_on_the_file_format(request, analysis, fixture):
    other = measure_ecg(read_ecg(request.getfixturevalue(fixture)))
    assert other == analysis.computed


def _with_long_diastole(ecg, extra_ms):
    """The real beats with a flat pause added in each TP segment: a slower real-looking rhythm."""
    lead = ecg.leads["II"].astype(float)
    peaks, _ = find_peaks(lead, height=0.5 * lead.max(), distance=int(0.4 * ecg.sampling_rate))
    cuts = peaks[:-1] + (np.diff(peaks) * 0.6).astype(int)  # after the T wave, before the next P
    pad = int(extra_ms * ecg.sampling_rate / 1000)
    leads = {}
    for name, values in ecg.leads.items():
        pieces = np.split(values, cuts)
        padded = [np.concatenate([p, np.full(pad, p[-1], dtype=np.int32)]) for p in pieces[:-1]] + [pieces[-1]]
        leads[name] = np.concatenate(padded)
    return dataclasses.replace(ecg, leads=leads), 60000 / (np.mean(np.diff(peaks)) + pad)


def test_slow_real_rhythm_is_flagged_bradycardia(reference_ecg):
    slow_ecg, expected_rate = _with_long_diastole(reference_ecg, 800)  # ~34 bpm
    slow = analyse_ecg(slow_ecg)
    assert slow.computed.heart_rate_bpm == pytest.approx(expected_rate, abs=3)
    assert "bradycardia" in [f.code for f in slow.critical]


def test_fast_real_rhythm_is_flagged_tachycardia(reference_ecg):
    # the same real samples, twice over, declared at 2.7x the rate: ~165 bpm, 7.4 s
    twice = {k: np.concatenate([v, v]) for k, v in reference_ecg.leads.items()}
    fast_ecg = dataclasses.replace(reference_ecg, leads=twice, sampling_rate=reference_ecg.sampling_rate * 2.7)
    fast = analyse_ecg(fast_ecg)
    assert fast.computed.heart_rate_bpm == pytest.approx(61.1 * 2.7, abs=8)
    assert "tachycardia" in [f.code for f in fast.critical]


def test_thresholds_are_configurable(reference_ecg):
    found = analyse_ecg(reference_ecg, thresholds=CriticalThresholds(min_rate_bpm=70, max_qtc_ms=300)).critical
    assert {f.code for f in found} == {"bradycardia", "long_qtc"}
    assert all(f.message for f in found)


def test_irregular_rapid_rhythm_and_long_qtc_rules():
    base = ComputedMeasurements(lead="II", beats=20, heart_rate_bpm=130, rr_mean_ms=460, rr_sd_ms=90,
                                rr_nrmssd=0.25, pr_ms=None, qrs_ms=90, qt_ms=400, qtc_ms=590)
    assert {f.code for f in critical_findings(base)} == {"irregular_rapid", "long_qtc"}
    regular = dataclasses.replace(base, rr_nrmssd=0.02, qtc_ms=450)
    assert critical_findings(regular) == []


def test_too_short_or_flat_records_cannot_be_measured(reference_ecg):
    short = dataclasses.replace(reference_ecg, leads={k: v[:2000] for k, v in reference_ecg.leads.items()})
    with pytest.raises(MeasurementError):
        measure_ecg(short)
    flat = dataclasses.replace(reference_ecg, leads={k: v * 0 for k, v in reference_ecg.leads.items()})
    with pytest.raises(MeasurementError):
        measure_ecg(flat)
