"""Rhythm analysis and preliminary statements: on pydicom's real 12-lead, and on records built from its
real beats with a known rhythm (tests/formats/rhythm_samples.py says how). Each statement is checked,
and each measurement that does not apply is checked absent."""
import numpy as np
import pytest

from studies.formats.ecg.measure import CriticalThresholds, analyse_ecg, r_peaks
from studies.formats.ecg.rhythm import PAC, PVC, Rhythm
from studies.formats.ecg.statements import STATEMENT_TEXT
from tests.formats.rhythm_samples import beat_parts, pvc_shape, qt_stretched, regular, resampled, rotated, synthesize

SECONDS = 10.0


@pytest.fixture(scope="module")
def parts(reference_ecg):
    _, rpeaks = r_peaks(reference_ecg.leads["II"].astype(float), reference_ecg.sampling_rate)
    return beat_parts(reference_ecg, rpeaks)


def sinus(parts, rate, *, pr_extra_s=0.0, shape=None, seconds=SECONDS, **kw):
    times = regular(0.5, rate, seconds)
    shape = shape or qt_stretched(parts, np.sqrt(60.0 / rate / 0.982))  # QT shortens with the rate
    return synthesize(parts, seconds=seconds, p_times=[t - pr_extra_s for t in times],
                      qrst_beats=[(t, shape) for t in times], **kw)


def irregular(parts, low_s, high_s, seed):
    rng = np.random.default_rng(seed)
    times = [t for t in 0.4 + np.cumsum(rng.uniform(low_s, high_s, 40)) if t < SECONDS - 0.6]
    return synthesize(parts, seconds=SECONDS, qrst_beats=[(t, parts.qrst) for t in times], fibrillation=True,
                      seed=seed)


def codes(analysis):
    return [s.code for s in analysis.statements]


def critical(analysis):
    return [f.code for f in analysis.critical]


def test_the_real_12_lead_reads_sinus_rhythm_like_its_device(reference_ecg):
    a = analyse_ecg(reference_ecg)
    assert reference_ecg.device_statements[0] == "RITMO SINUSALE"
    assert codes(a) == [Rhythm.SINUS]
    assert (a.statements[0].zh, a.statements[0].en) == ("窦性心律", "Sinus rhythm")
    assert a.computed.rhythm == Rhythm.SINUS and a.computed.p_waves is True
    assert a.computed.beat_counts == {"N": 10, "V": 0, "A": 0}
    assert a.computed.withheld == {} and a.computed.pr_ms is not None
    assert abs(a.computed.qrs_axis_deg - reference_ecg.device_measurements["qrs_axis_deg"]) <= 10
    assert a.critical == []
    assert a.as_dict()["statements"][0]["source"] == "computed"


@pytest.mark.parametrize("rate, code", [(72, Rhythm.SINUS), (48, Rhythm.SINUS_BRADY), (118, Rhythm.SINUS_TACHY)])
def test_sinus_rhythm_at_its_rate(parts, rate, code):
    a = analyse_ecg(sinus(parts, rate))
    assert codes(a) == [code]
    assert a.computed.heart_rate_bpm == pytest.approx(rate, abs=1.5)
    assert a.computed.pr_ms == pytest.approx(161, abs=20) and "pr_ms" not in a.computed.withheld


def test_irregular_rhythm_without_p_waves_is_atrial_fibrillation_and_has_no_pr(parts):
    a = analyse_ecg(irregular(parts, 0.45, 1.1, seed=3))
    assert codes(a) == [Rhythm.AF]
    assert a.statements[0].zh == "心房颤动"
    assert a.computed.pr_ms is None and a.computed.withheld["pr_ms"].startswith("atrial fibrillation")
    assert a.computed.p_waves is False and a.computed.beat_counts["A"] == 0
    assert critical(a) == []  # a controlled rate is not critical


def test_atrial_fibrillation_with_a_rapid_rate_is_critical(parts):
    a = analyse_ecg(irregular(parts, 0.33, 0.62, seed=4))
    assert codes(a) == ["af_rvr"]
    assert a.statements[0].zh == "心房颤动伴快速心室率"
    assert "af_rvr" in critical(a) and "irregular_rapid" not in critical(a)
    assert a.computed.pr_ms is None


def test_inserted_pvcs_are_counted_with_their_compensatory_pause(parts):
    rr = 60 / 70
    times = regular(0.5, 70, SECONDS)
    ectopic = {3, 7, 10}
    beats = [(t - 0.35 * rr, pvc_shape(parts)) if i in ectopic else (t, parts.qrst) for i, t in enumerate(times)]
    p_times = [t for i, t in enumerate(times) if i not in ectopic]  # the sinus P is hidden in the PVC
    a = analyse_ecg(synthesize(parts, seconds=SECONDS, p_times=p_times, qrst_beats=beats))
    assert a.computed.beat_counts == {"N": 8, "V": 3, "A": 0}
    assert codes(a) == [Rhythm.SINUS, "frequent_pvc"]
    assert (a.statements[1].zh, a.statements[1].values) == ("频发室性早搏 ×3", {"n": 3})
    assert critical(a) == []


def test_a_single_pvc_is_not_frequent(parts):
    times = regular(0.5, 60, 20.0)
    beats = [(t - 0.4, pvc_shape(parts)) if i == 9 else (t, parts.qrst) for i, t in enumerate(times)]
    a = analyse_ecg(synthesize(parts, seconds=20.0, p_times=[t for i, t in enumerate(times) if i != 9],
                               qrst_beats=beats))
    assert codes(a) == [Rhythm.SINUS, "pvc"] and a.statements[1].zh == "室性早搏 ×1"


def test_early_narrow_beats_without_a_compensatory_pause_are_pacs(parts):
    rr, shift, beats = 60 / 70, 0.0, []
    for i, t in enumerate(regular(0.5, 70, SECONDS)):
        if i in (4, 8):
            shift += 0.3 * rr
        beats.append(t - shift)
    a = analyse_ecg(synthesize(parts, seconds=SECONDS, p_times=beats, qrst_beats=[(t, parts.qrst) for t in beats]))
    assert a.computed.beat_counts["A"] == 2 and a.computed.beat_counts["V"] == 0
    assert codes(a) == [Rhythm.SINUS, "frequent_pac"] and a.statements[1].zh == "频发房性早搏 ×2"
    assert [i for i, label in enumerate(a.rhythm.labels) if label == PAC] == [4, 8]


def test_a_run_of_wide_beats_is_ventricular_tachycardia_and_critical(parts):
    before, after = regular(0.5, 70, 4.0), regular(6.5, 70, SECONDS)
    run = list(np.arange(4.0, 4.0 + 5 * 0.35, 0.35))
    wide = pvc_shape(parts)
    a = analyse_ecg(synthesize(parts, seconds=SECONDS, p_times=before + after,
                               qrst_beats=[(t, parts.qrst) for t in before + after] + [(t, wide) for t in run]))
    assert a.computed.beat_counts["V"] == 5
    assert "vt_run" in codes(a) and a.statements[codes(a).index("vt_run")].zh == "短阵室性心动过速（5跳）"
    assert "vt_run" in critical(a)


def test_long_pr_is_first_degree_av_block(parts):
    a = analyse_ecg(sinus(parts, 70, pr_extra_s=0.14))
    assert codes(a) == [Rhythm.SINUS, "first_degree_av_block"]
    assert a.computed.pr_ms == pytest.approx(161 + 140, abs=20)


def test_p_waves_unrelated_to_slow_regular_qrs_are_complete_av_block(parts):
    a = analyse_ecg(synthesize(parts, seconds=SECONDS, p_times=regular(0.3, 82, SECONDS),
                               qrst_beats=[(t, parts.qrst) for t in regular(0.7, 36, SECONDS)]))
    assert codes(a) == [Rhythm.COMPLETE_AV_BLOCK]
    assert a.statements[0].zh == "三度房室传导阻滞"
    assert a.computed.atrial_rate_bpm == pytest.approx(82, abs=5)
    assert a.computed.pr_ms is None and "complete AV block" in a.computed.withheld["pr_ms"]
    assert {"complete_av_block", "bradycardia"} <= set(critical(a))


def test_a_sinus_pause_is_stated_and_a_long_one_is_critical(parts):
    times = regular(0.5, 70, 4.0) + [t + 3.2 for t in regular(4.0, 70, SECONDS - 3.2)]
    a = analyse_ecg(synthesize(parts, seconds=SECONDS, p_times=times, qrst_beats=[(t, parts.qrst) for t in times]))
    assert "pause" in codes(a)
    pause = a.statements[codes(a).index("pause")]
    assert pause.values == {"s": f"{a.computed.longest_rr_ms / 1000:.1f}"} and a.computed.longest_rr_ms > 3000
    assert "long_pause" in critical(a)
    shorter = analyse_ecg(synthesize(parts, seconds=SECONDS, p_times=times, qrst_beats=[(t, parts.qrst) for t in times]),
                          thresholds=CriticalThresholds(long_pause_ms=5000))
    assert "long_pause" not in critical(shorter)


def test_a_long_qt_is_stated_prolonged(parts):
    a = analyse_ecg(sinus(parts, 72, shape=qt_stretched(parts, 1.45)))
    assert a.computed.qtc_ms > 460
    assert "prolonged_qtc" in codes(a)
    assert a.statements[codes(a).index("prolonged_qtc")].en == f"Prolonged QTc ({a.computed.qtc_ms:.0f} ms)"


@pytest.mark.parametrize("degrees, code", [(-95, "left_axis_deviation"), (75, "right_axis_deviation")])
def test_a_rotated_frontal_axis_is_axis_deviation(parts, degrees, code):
    base = analyse_ecg(sinus(parts, 72))
    a = analyse_ecg(rotated(sinus(parts, 72), degrees))
    assert code in codes(a) and "axis_deviation" not in " ".join(codes(base))
    assert a.computed.qrs_axis_deg == pytest.approx(base.computed.qrs_axis_deg + degrees, abs=12)


def test_small_complexes_are_low_voltage(parts):
    a = analyse_ecg(sinus(parts, 72, scale=0.3))
    assert {"low_voltage_limb", "low_voltage_precordial"} <= set(codes(a))
    assert not {"low_voltage_limb", "low_voltage_precordial"} & set(codes(analyse_ecg(sinus(parts, 72))))


@pytest.mark.parametrize("rate", [250, 360, 500])
def test_single_lead_at_other_sampling_rates(parts, rate):
    af = analyse_ecg(resampled(irregular(parts, 0.45, 1.1, seed=5), rate, leads=["II"]))
    assert codes(af) == [Rhythm.AF] and af.computed.pr_ms is None and af.computed.qrs_axis_deg is None
    normal = analyse_ecg(resampled(sinus(parts, 66), rate, leads=["II"]))
    assert codes(normal) == [Rhythm.SINUS] and normal.computed.pr_ms is not None


def test_every_statement_has_both_languages():
    for code, (zh, en) in STATEMENT_TEXT.items():
        assert zh and en and zh != en, code
    assert PVC == "V"


def test_regular_sawtooth_waves_at_300_with_4_to_1_conduction_are_atrial_flutter_without_pr(parts):
    from tests.formats.rhythm_samples import with_flutter_waves

    times = regular(0.5, 75, SECONDS)
    a = analyse_ecg(with_flutter_waves(synthesize(parts, seconds=SECONDS, qrst_beats=[(t, parts.qrst) for t in times])))
    assert codes(a) == [Rhythm.FLUTTER] and a.statements[0].zh == "心房扑动"
    assert a.computed.atrial_rate_bpm == pytest.approx(300, abs=20)
    assert a.computed.pr_ms is None and a.computed.withheld["pr_ms"].startswith("atrial flutter")


@pytest.fixture(scope="module")
def borderline_qt(parts):
    """A sinus record whose QTc lies between the men's (450) and the women's (460 ms) limits."""
    for stretch in np.arange(1.15, 1.25, 0.01):  # about 1.18 at 72/min
        record = sinus(parts, 72, shape=qt_stretched(parts, float(stretch)))
        if 451 <= analyse_ecg(record).computed.qtc_ms <= 459:
            return record
    raise AssertionError("no stretch gives a QTc between 451 and 459 ms")


@pytest.mark.parametrize("sex, prolonged", [("M", True), ("F", False), ("", False), ("O", False)])
def test_a_borderline_qtc_is_prolonged_for_a_man_only(borderline_qt, sex, prolonged):
    # QTc above 450 ms is prolonged in men, above 460 ms in women (and where the sex is unknown)
    a = analyse_ecg(borderline_qt, sex=sex)
    assert 450 < a.computed.qtc_ms < 460
    assert ("prolonged_qtc" in codes(a)) is prolonged


def test_a_long_qt_is_prolonged_whatever_the_sex(parts):
    record = sinus(parts, 72, shape=qt_stretched(parts, 1.45))
    assert all("prolonged_qtc" in codes(analyse_ecg(record, sex=sex)) for sex in ("M", "F", ""))


def _fast(parts, rate, *, flutter_amplitude_uv=None, seed=1):
    """At `rate`, QT shortened: sinus tachycardia (P waves), or with flutter waves at twice the rate and no P (2:1)."""
    from tests.formats.rhythm_samples import with_flutter_waves

    times = regular(0.5, rate, SECONDS)
    shape = qt_stretched(parts, np.sqrt(60.0 / rate / 0.982))
    if flutter_amplitude_uv is None:
        return synthesize(parts, seconds=SECONDS, p_times=times, qrst_beats=[(t, shape) for t in times], seed=seed)
    return with_flutter_waves(synthesize(parts, seconds=SECONDS, qrst_beats=[(t, shape) for t in times], seed=seed),
                              rate_per_min=2 * rate, amplitude_uv=flutter_amplitude_uv)


@pytest.mark.parametrize("rate, amplitude, seed", [(150, 150, 1), (150, 80, 2), (140, 150, 3), (160, 100, 1)])
def test_flutter_conducted_2_to_1_at_150_is_atrial_flutter_not_sinus_tachycardia(parts, rate, amplitude, seed):
    # given flutter waves at twice the ventricular rate: one before each QRS (like a P wave), one in the ST-T
    a = analyse_ecg(_fast(parts, rate, flutter_amplitude_uv=amplitude, seed=seed))
    # then the rhythm is atrial flutter with 2:1 conduction, its atrial rate twice the ventricles'
    assert codes(a)[0] == "atrial_flutter_2to1"
    assert (a.statements[0].zh, a.statements[0].en) == ("心房扑动（2:1下传）", "Atrial flutter with 2:1 conduction")
    assert a.computed.rhythm == Rhythm.FLUTTER
    assert a.computed.heart_rate_bpm == pytest.approx(rate, abs=1.5)
    assert a.computed.atrial_rate_bpm == pytest.approx(2 * rate, abs=3)
    # no PR: the wave before the QRS is a flutter wave, not a conducted P wave
    assert a.computed.pr_ms is None and a.computed.withheld["pr_ms"].startswith("atrial flutter")
    # and flutter at a rapid ventricular rate is critical
    assert "af_rvr" in critical(a)


@pytest.mark.parametrize("rate", [125, 135, 150, 160, 170])
@pytest.mark.parametrize("seed", [1, 2])
def test_sinus_tachycardia_at_the_rates_of_2_to_1_flutter_stays_sinus(parts, rate, seed):
    a = analyse_ecg(_fast(parts, rate, seed=seed))
    assert codes(a)[0] == Rhythm.SINUS_TACHY
    assert a.computed.pr_ms is not None
