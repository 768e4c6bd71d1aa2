"""Rhythm analysis: beats classified (normal, PVC, PAC), atrial activity, and the preliminary statements.

Pure functions of an `Ecg` and its R peaks; neurokit2 finds the peaks (measure.py), this module
decides. The decisions, in order:
1. a beat whose QRS is wide against the record's dominant QRS (or wide and of another shape) is
   ventricular (PVC; three or more in a row faster than 100/min: a VT run);
2. the RR intervals between supraventricular beats give the rate and the irregularity (nRMSSD);
3. P waves are present when the stretch before each QRS holds the same wave every time (the
   averaged P is taller than 40 µV and the beats' own stretches correlate with it);
4. a regular rhythm whose stretches between T wave and QRS hold regular waves at 240-340/min is
   atrial flutter (flutter waves locked to the QRS at 4:1 would otherwise pass for P waves); at 120-170/min,
   a "P wave" found again half a cycle earlier inside the ST-T is flutter conducted 2:1;
   P present: sinus rhythm (brady < 60, tachy > 100/min), narrow beats premature by 20 % without a
   compensatory pause are PACs, PR > 200 ms is first-degree AV block;
   no P and irregular: atrial fibrillation; no P and regular: the atrial activity left after the
   averaged QRST is subtracted decides atrial flutter (regular, 240-340/min), complete AV block
   (regular P waves faster than the ventricles, not linked to them) or a rhythm left undetermined;
5. RR > 2 s is a pause; QTc prolonged above 450 ms in men, 460 ms in women and where the sex is unknown
   (AHA/ACCF/HRS 2009); axis from the net QRS of I and aVF; low voltage when
   every limb lead's QRS is under 0.5 mV (or every precordial lead's under 1 mV).
Measurements that do not apply are withheld (no PR without conducted P waves).
"""
import math
from dataclasses import dataclass, field

import numpy as np

from . import beats as _beats
from .beats import (BeatShape, beat_shapes, filtered_leads, ms, p_wave_windows, refine_peaks, stack_windows,
                    t_wave_end)
from .model import Ecg

NORMAL, PVC, PAC = "N", "V", "A"
WIDE_EXTRA_MS, WIDE_MIN_MS = 40.0, 120.0
PREMATURE = 0.80  # RR below this fraction of the reference RR
COMPENSATORY = 1.85  # RR before + after a premature beat >= this many reference RRs: a full pause
IRREGULAR_NRMSSD = 0.10
P_MIN_UV, P_MIN_CORRELATION, P_MIN_COHERENCE = 40.0, 0.6, 0.7
PAUSE_MS = 2000.0
PROLONGED_QTC_MS = {"M": 450.0, "F": 460.0}  # by sex (Patient.Sex codes); others, unknown: the higher
PROLONGED_QTC_OTHERWISE_MS = 460.0
FIRST_DEGREE_PR_MS = 200.0
FREQUENT_FRACTION = 0.10
FLUTTER_RATE = (240.0, 340.0)  # flutter waves per minute; fibrillatory waves are faster (350-600)
FLUTTER_PERIODICITY = 0.7  # autocorrelation of the diastolic stretches at the flutter wave's period
# 2:1 flutter: the wave before each QRS found again half a cycle earlier, inside the ST-T (mean correlation
# over II, III, aVF and V1, 4-30 Hz). Tuned on records built from real beats: 0.81-0.86 with flutter waves at
# 280-320/min, 0.35-0.64 for sinus tachycardia at 130-170/min (tests/formats/test_rhythm.py).
FLUTTER_HALF_CYCLE = 0.75
P_LEADS = ("II", "I", "aVF", "III", "V1", "V2")  # where P waves are tallest, whatever the P axis


class Rhythm:
    SINUS = "sinus_rhythm"
    SINUS_BRADY = "sinus_bradycardia"
    SINUS_TACHY = "sinus_tachycardia"
    AF = "atrial_fibrillation"
    FLUTTER = "atrial_flutter"
    COMPLETE_AV_BLOCK = "complete_av_block"
    UNDETERMINED = "rhythm_undetermined"


# code -> (Chinese, English); "{n}", "{ms}", "{s}", "{deg}" filled from the statement's values
STATEMENT_TEXT = {
    Rhythm.SINUS: ("窦性心律", "Sinus rhythm"),
    Rhythm.SINUS_BRADY: ("窦性心动过缓", "Sinus bradycardia"),
    Rhythm.SINUS_TACHY: ("窦性心动过速", "Sinus tachycardia"),
    Rhythm.AF: ("心房颤动", "Atrial fibrillation"),
    "af_rvr": ("心房颤动伴快速心室率", "Atrial fibrillation with rapid ventricular response"),
    Rhythm.FLUTTER: ("心房扑动", "Atrial flutter"),
    "atrial_flutter_2to1": ("心房扑动（2:1下传）", "Atrial flutter with 2:1 conduction"),
    Rhythm.COMPLETE_AV_BLOCK: ("三度房室传导阻滞", "Complete (third-degree) AV block"),
    Rhythm.UNDETERMINED: ("非窦性心律（未见P波），节律待定", "Non-sinus rhythm without P waves, undetermined"),
    "first_degree_av_block": ("一度房室传导阻滞", "First-degree AV block"),
    "pvc": ("室性早搏 ×{n}", "Premature ventricular complexes ×{n}"),
    "frequent_pvc": ("频发室性早搏 ×{n}", "Frequent premature ventricular complexes ×{n}"),
    "pac": ("房性早搏 ×{n}", "Premature atrial complexes ×{n}"),
    "frequent_pac": ("频发房性早搏 ×{n}", "Frequent premature atrial complexes ×{n}"),
    "vt_run": ("短阵室性心动过速（{n}跳）", "Run of ventricular tachycardia ({n} beats)"),
    "pause": ("长间歇 {s} 秒", "Pause of {s} s"),
    "prolonged_qtc": ("QT间期延长（QTc {ms} ms）", "Prolonged QTc ({ms} ms)"),
    "left_axis_deviation": ("电轴左偏（{deg}°）", "Left axis deviation ({deg}°)"),
    "right_axis_deviation": ("电轴右偏（{deg}°）", "Right axis deviation ({deg}°)"),
    "low_voltage_limb": ("肢体导联低电压", "Low voltage in the limb leads"),
    "low_voltage_precordial": ("胸前导联低电压", "Low voltage in the precordial leads"),
}


@dataclass(frozen=True)
class Statement:
    code: str
    zh: str
    en: str
    values: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"code": self.code, "zh": self.zh, "en": self.en, "values": dict(self.values),
                "source": "computed"}


def statement(code: str, **values) -> Statement:
    zh, en = STATEMENT_TEXT[code]
    return Statement(code=code, zh=zh.format(**values), en=en.format(**values), values=values)


@dataclass(frozen=True)
class RhythmAnalysis:
    rhythm: str
    rpeaks: np.ndarray  # the QRS complexes kept, sample indexes
    labels: list[str]  # per R peak: N, V or A
    ventricular_rate_bpm: float
    atrial_rate_bpm: float | None
    rr_nrmssd: float  # between supraventricular beats
    p_waves: bool
    pr_ms: float | None  # on the averaged conducted beat; None when withheld
    qrs_ms: float | None  # global, dominant beats
    qrs_axis_deg: float | None
    longest_rr_ms: float
    longest_vt_run: int
    qrs_peak_to_peak_uv: dict[str, float]
    withheld: dict[str, str]  # measurement -> why it does not apply

    @property
    def counts(self) -> dict[str, int]:
        return {label: self.labels.count(label) for label in (NORMAL, PVC, PAC)}

    def as_dict(self) -> dict:
        return {"rhythm": self.rhythm, "counts": self.counts, "ventricular_rate_bpm": self.ventricular_rate_bpm,
                "atrial_rate_bpm": self.atrial_rate_bpm, "rr_nrmssd": self.rr_nrmssd, "p_waves": self.p_waves,
                "qrs_axis_deg": self.qrs_axis_deg, "longest_rr_ms": self.longest_rr_ms,
                "longest_vt_run": self.longest_vt_run, "withheld": dict(self.withheld)}


def analyse_rhythm(ecg: Ecg, rpeaks: np.ndarray) -> RhythmAnalysis:
    """Call with at least 3 R peaks (sample indexes, ascending); `RhythmAnalysis.rpeaks` are those kept."""
    fs = ecg.sampling_rate
    leads = filtered_leads(ecg)
    rpeaks = refine_peaks(leads, rpeaks, fs)
    shapes = beat_shapes(leads, rpeaks, fs)
    labels = _ventricular_labels(shapes, fs)
    rr = np.diff(rpeaks) / fs * 1000.0
    supra_rr = np.array([rr[i - 1] for i in range(1, len(rpeaks)) if labels[i] != PVC and labels[i - 1] != PVC])
    reference = float(np.median(supra_rr if len(supra_rr) else rr))
    nrmssd = _nrmssd(supra_rr)
    p_lead = next((n for n in ("II", "I", "V1") if n in leads), ecg.lead_names[0])
    conducted = np.array([i for i, lab in enumerate(labels) if lab == NORMAL], dtype=np.int64)
    # P waves are looked for after a full cycle, where the previous T wave has ended
    unhurried = np.array([i for i in conducted if i > 0 and rr[i - 1] >= 0.9 * reference], dtype=np.int64)
    if len(unhurried) >= 2:
        conducted = unhurried
    quiet = rpeaks[np.maximum(conducted - 1, 0)] + t_wave_end(leads, rpeaks, fs)
    quiet[conducted == 0] = 0
    p_present = any(_p_waves(leads[name], shapes.onsets[conducted], fs, reference, quiet)
                    for name in dict.fromkeys((*[n for n in P_LEADS if n in leads], p_lead)))
    # flutter conducted at a fixed ratio is regular; an irregular rhythm's waves are left to the AF test
    regular = nrmssd <= IRREGULAR_NRMSSD
    flutter = _flutter_waves(leads, rpeaks, t_wave_end(leads, rpeaks, fs), fs, reference) if regular else None
    if flutter is None and regular and p_present:  # the wave before each QRS may be one of two flutter waves
        flutter = _flutter_two_to_one(leads, rpeaks, shapes, fs, reference)
    rhythm, atrial_rate = ((Rhythm.FLUTTER, round(flutter, 1)) if flutter is not None
                           else _rhythm(p_present, nrmssd, reference, leads[p_lead], rpeaks, labels, fs))
    if rhythm in (Rhythm.SINUS, Rhythm.SINUS_BRADY, Rhythm.SINUS_TACHY):
        labels = _atrial_premature(labels, rr, reference)
    conducted_p = p_present and rhythm not in (Rhythm.COMPLETE_AV_BLOCK, Rhythm.FLUTTER)
    pr = _pr_ms(leads, shapes, conducted, fs, reference) if conducted_p else None
    dominant = [i for i, lab in enumerate(labels) if lab != PVC]
    qrs = float(np.median(shapes.widths[dominant])) / fs * 1000.0 if dominant else None
    amplitudes, axis = _qrs_amplitudes(leads, rpeaks[dominant], shapes, dominant, fs)
    withheld = {} if pr is not None else {"pr_ms": _why_no_pr(rhythm)}
    return RhythmAnalysis(
        rhythm=rhythm, rpeaks=rpeaks, labels=labels, ventricular_rate_bpm=round(60000.0 / float(np.mean(rr)), 1),
        atrial_rate_bpm=atrial_rate, rr_nrmssd=round(nrmssd, 3), p_waves=p_present,
        pr_ms=None if pr is None else round(pr, 1), qrs_ms=None if qrs is None else round(qrs, 1),
        qrs_axis_deg=axis, longest_rr_ms=round(float(rr.max()), 1), longest_vt_run=_longest_run(labels, rr),
        qrs_peak_to_peak_uv=amplitudes, withheld=withheld,
    )


def prolonged_qtc_ms(sex: str = "") -> float:
    """The QTc above which it is stated prolonged, for a patient of `sex` ("M", "F"; anything else: unknown)."""
    return PROLONGED_QTC_MS.get(sex, PROLONGED_QTC_OTHERWISE_MS)


def rhythm_statements(a: RhythmAnalysis, *, qtc_ms: float | None, sex: str = "") -> list[Statement]:
    """The preliminary statements, rhythm first; `qtc_ms` from the interval measurement, judged by `sex`."""
    found = [statement(_rhythm_code(a))]
    found += _ectopy_statements(a)
    if a.longest_rr_ms > PAUSE_MS:
        found.append(statement("pause", s=f"{a.longest_rr_ms / 1000:.1f}"))
    if a.pr_ms is not None and a.pr_ms > FIRST_DEGREE_PR_MS:
        found.append(statement("first_degree_av_block"))
    if qtc_ms is not None and qtc_ms > prolonged_qtc_ms(sex):
        found.append(statement("prolonged_qtc", ms=f"{qtc_ms:.0f}"))
    if a.qrs_axis_deg is not None and -90 <= a.qrs_axis_deg < -30:
        found.append(statement("left_axis_deviation", deg=f"{a.qrs_axis_deg:.0f}"))
    elif a.qrs_axis_deg is not None and 90 < a.qrs_axis_deg <= 180:
        found.append(statement("right_axis_deviation", deg=f"{a.qrs_axis_deg:.0f}"))
    return found + _voltage_statements(a.qrs_peak_to_peak_uv)


def _rhythm_code(a: RhythmAnalysis) -> str:
    if a.rhythm == Rhythm.AF and a.ventricular_rate_bpm > 110:
        return "af_rvr"
    if a.rhythm == Rhythm.FLUTTER and a.atrial_rate_bpm and round(a.atrial_rate_bpm / a.ventricular_rate_bpm) == 2:
        return "atrial_flutter_2to1"
    return a.rhythm


def _ectopy_statements(a: RhythmAnalysis) -> list[Statement]:
    found = []
    counts, beats = a.counts, len(a.labels)
    for label, code in ((PVC, "pvc"), (PAC, "pac")):
        n = counts[label]
        if n:
            found.append(statement(f"frequent_{code}" if n / beats >= FREQUENT_FRACTION else code, n=n))
    if a.longest_vt_run >= 3:
        found.append(statement("vt_run", n=a.longest_vt_run))
    return found


def _voltage_statements(amplitudes: dict[str, float]) -> list[Statement]:
    found = []
    limb = [amplitudes[n] for n in ("I", "II", "III", "aVR", "aVL", "aVF") if n in amplitudes]
    chest = [amplitudes[n] for n in ("V1", "V2", "V3", "V4", "V5", "V6") if n in amplitudes]
    if len(limb) == 6 and max(limb) < 500:
        found.append(statement("low_voltage_limb"))
    if len(chest) == 6 and max(chest) < 1000:
        found.append(statement("low_voltage_precordial"))
    return found


def _ventricular_labels(shapes: BeatShape, fs: float) -> list[str]:
    widths = shapes.widths / fs * 1000.0
    dominant = float(np.median(widths))
    labels = []
    for width, corr in zip(widths, shapes.correlation):
        wide = width > max(dominant + WIDE_EXTRA_MS, WIDE_MIN_MS) and corr < 0.8  # not a QRS widened by a T
        odd = corr < 0.5 and width > dominant + 20.0
        labels.append(PVC if wide or odd else NORMAL)
    return labels


def _atrial_premature(labels: list[str], rr: np.ndarray, reference: float) -> list[str]:
    """Narrow beats that come early and leave no compensatory pause (sinus rhythm only)."""
    out = list(labels)
    for i in range(1, len(labels)):
        if labels[i] != NORMAL or rr[i - 1] >= PREMATURE * reference:
            continue
        after = rr[i] if i < len(rr) else reference
        if rr[i - 1] + after < COMPENSATORY * reference:
            out[i] = PAC
    return out


def _nrmssd(rr: np.ndarray) -> float:
    if len(rr) < 2:
        return 0.0
    return float(np.sqrt(np.mean(np.diff(rr) ** 2)) / np.mean(rr))


def _longest_run(labels: list[str], rr: np.ndarray) -> int:
    """The longest run of consecutive PVCs at a rate above 100/min (three or more is VT)."""
    best = run = 0
    for i, label in enumerate(labels):
        fast = i > 0 and rr[i - 1] < 600
        run = run + 1 if label == PVC and (fast or run == 0) else (1 if label == PVC else 0)
        best = max(best, run)
    return best


def _p_waves(x: np.ndarray, onsets: np.ndarray, fs: float, rr_ms: float, quiet: np.ndarray) -> bool:
    """The same wave at the same place before every conducted QRS: the average is tall, most beats'
    own tallest deflection is where the average's is (waves at varying places, as in AV dissociation,
    are not) and each beat's stretch correlates with it (fibrillatory waves do not)."""
    rows = p_wave_windows(x, onsets, fs, rr_ms, quiet)
    if len(rows) < 2:
        return False
    rows = rows[:, :rows.shape[1] - ms(40, fs)]  # a P wave peaks 40 ms or more before the QRS
    average = rows.mean(axis=0)
    amplitude = float(np.max(np.abs(average)))
    where = np.argmax(np.abs(rows), axis=1)
    coherence = float(np.mean(np.abs(where - np.argmax(np.abs(average))) <= ms(30, fs)))
    centred = rows - rows.mean(axis=1, keepdims=True)
    t = average - average.mean()
    denom = np.linalg.norm(centred, axis=1) * np.linalg.norm(t)
    correlation = float(np.median(np.where(denom > 0, centred @ t / np.where(denom > 0, denom, 1), 0)))
    return amplitude >= P_MIN_UV and coherence >= P_MIN_COHERENCE and correlation >= P_MIN_CORRELATION


def _rhythm(p_present: bool, nrmssd: float, reference: float, x: np.ndarray, rpeaks: np.ndarray,
            labels: list[str], fs: float) -> tuple[str, float | None]:
    rate = 60000.0 / reference
    if p_present:
        sinus = Rhythm.SINUS_BRADY if rate < 60 else Rhythm.SINUS_TACHY if rate > 100 else Rhythm.SINUS
        return sinus, round(rate, 1)
    if nrmssd > IRREGULAR_NRMSSD:
        return Rhythm.AF, None
    atrial = _atrial_activity(x, rpeaks, labels, fs, reference)
    if atrial is None:
        return Rhythm.UNDETERMINED, None
    atrial_rate, linked = atrial
    if FLUTTER_RATE[0] <= atrial_rate <= FLUTTER_RATE[1]:
        return Rhythm.FLUTTER, round(atrial_rate, 1)
    if atrial_rate >= 1.25 * rate and not linked:
        return Rhythm.COMPLETE_AV_BLOCK, round(atrial_rate, 1)
    return Rhythm.UNDETERMINED, round(atrial_rate, 1)


def _atrial_activity(x: np.ndarray, rpeaks: np.ndarray, labels: list[str], fs: float,
                     reference: float) -> tuple[float, bool] | None:
    """(atrial rate, P linked to the QRS) from regular waves left after the QRST is subtracted; else None."""
    before = ms(100, fs)
    after = ms(0.95 * reference, fs) - before  # the templates tile a regular rhythm: no gaps left
    normal = np.array([r for r, lab in zip(rpeaks, labels) if lab == NORMAL])
    rows = stack_windows(x, normal, before, after)
    if len(rows) < 2:
        return None
    template = np.median(rows, axis=0)
    residual = x.copy()
    for r in normal:
        lo, hi = r - before, r + after
        if lo >= 0 and hi <= len(x):
            residual[lo:hi] -= template
    for r in rpeaks:  # what the subtraction leaves of the QRS itself is not atrial
        residual[max(0, r - ms(70, fs)):r + ms(90, fs)] = 0.0
    return _periodicity(residual, fs, 60000.0 / reference)


def _periodicity(residual: np.ndarray, fs: float, ventricular_rate: float, longest_ms: float = 1500.0,
                 valid: np.ndarray | None = None, threshold: float = 0.4) -> tuple[float, bool] | None:
    """(atrial rate, linked to the ventricles) from the residual's autocorrelation; None if not periodic.

    Linked: the atrial rate is a whole multiple of the ventricular rate (2:1, 3:1 conduction).
    `valid`: where the residual is looked at (1) or masked (0); each lag is normalised by its overlap."""
    valid = np.ones(len(residual)) if valid is None else valid.astype(np.float64)
    x = (residual - residual[valid > 0].mean()) * valid if np.any(valid) else residual
    if not np.any(x):
        return None
    size = 1 << int(np.ceil(np.log2(2 * len(x))))
    spectrum, coverage = np.fft.rfft(x, size), np.fft.rfft(valid, size)
    ac = np.fft.irfft(spectrum * np.conj(spectrum), size)[:len(x)]
    overlap = np.fft.irfft(coverage * np.conj(coverage), size)[:len(x)]
    ac = np.where(overlap > 0.4 * overlap[0], ac / np.maximum(overlap, 1e-9), 0.0)  # per overlapping sample
    ac /= ac[0]
    lo, hi = ms(150, fs), min(ms(longest_ms, fs), len(x) // 3)
    if hi <= lo:
        return None
    window = ac[lo:hi]
    best = float(window.max())
    if best < threshold:
        return None
    # the fundamental, not a multiple (a window shorter than two of the shortest periods holds no multiple)
    lag = lo + (int(np.argmax(window)) if hi < 2 * lo else int(np.nonzero(window >= 0.85 * best)[0][0]))
    atrial_rate = 60.0 * fs / lag
    ratio = atrial_rate / ventricular_rate
    return atrial_rate, abs(ratio - round(ratio)) < 0.08


def _flutter_waves(leads, rpeaks: np.ndarray, t_end: int, fs: float, reference: float) -> float | None:
    """The atrial rate when the stretches between T wave and QRS hold regular waves at 240-340/min
    (flutter waves, in a lead where they are large: II, III, aVF, V1); else None. Flutter waves
    locked to the QRS (2:1, 4:1) look like a P wave before each QRS: this is looked at first."""
    for name in ("II", "III", "aVF", "V1"):
        if name not in leads:
            continue
        valid = np.ones(len(leads[name]))
        for r in rpeaks:
            valid[max(0, r - ms(80, fs)):r + t_end] = 0.0  # only what lies between T and the next QRS
        found = _periodicity(_stretches_centred(leads[name], valid), fs, 60000.0 / reference, longest_ms=260.0,
                             valid=valid, threshold=FLUTTER_PERIODICITY)
        if found is not None and FLUTTER_RATE[0] <= found[0] <= FLUTTER_RATE[1]:
            return found[0]
    return None


def _stretches_centred(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each stretch looked at less its own mean: a baseline that drifts from one stretch to the next correlates
    with itself at every lag (a real PageWriter sinus ECG read as flutter in V1 without this)."""
    out = x.astype(np.float64)
    edges = np.flatnonzero(np.diff(np.concatenate(([0.0], valid, [0.0]))))
    for start, stop in zip(edges[::2], edges[1::2]):
        out[start:stop] -= out[start:stop].mean()
    return out


def _flutter_two_to_one(leads, rpeaks: np.ndarray, shapes: BeatShape, fs: float, reference: float) -> float | None:
    """The atrial rate (twice the ventricular) when a regular rhythm at 120-170/min is flutter conducted 2:1;
    else None. At 2:1 one flutter wave stands before each QRS like a P wave and the other hides in the ST-T,
    exactly half a cycle earlier: the stretch before the QRS is found again there (in sinus tachycardia
    the stretch half a cycle earlier holds only the T wave). Looked at in II, III, aVF and V1, 4-30 Hz
    (the T wave's slow swing left out), on the averaged beat."""
    from scipy.signal import butter, sosfiltfilt

    rate = 60000.0 / reference
    if not FLUTTER_RATE[0] / 2 <= rate <= FLUTTER_RATE[1] / 2:
        return None
    half = int(round(reference / 2000.0 * fs))
    end = int(np.median(rpeaks - shapes.onsets)) + ms(20, fs)  # from R back to 20 ms before the QRS onset
    length = int(0.8 * half)
    sos = butter(2, [4.0, 30.0], btype="band", fs=fs, output="sos")
    found = []
    for name in ("II", "III", "aVF", "V1"):
        if name not in leads:
            continue
        x = sosfiltfilt(sos, leads[name])
        before = stack_windows(x, rpeaks[1:], end + length, -end)
        hidden = stack_windows(x, rpeaks[1:], end + length + half, -(end + half))
        n = min(len(before), len(hidden))
        if n < 3:
            continue
        a, b = before[-n:].mean(axis=0), hidden[-n:].mean(axis=0)
        if np.std(a) > 0 and np.std(b) > 0:
            found.append(float(np.corrcoef(a, b)[0, 1]))
    if len(found) >= 2 and float(np.mean(found)) >= FLUTTER_HALF_CYCLE:
        return 2.0 * rate
    return None


def _pr_ms(leads, shapes: BeatShape, conducted: np.ndarray, fs: float, rr_ms: float) -> float | None:
    """Earliest P onset in any lead to QRS onset, on the averaged conducted beat (spatial magnitude)."""
    names = [n for n in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6") if n in leads] or list(leads)
    rows = [p_wave_windows(leads[n], shapes.onsets[conducted], fs, rr_ms) for n in names]
    if not len(rows[0]):
        return None
    magnitude = np.sqrt(np.sum([r.mean(axis=0) ** 2 for r in rows], axis=0))
    peak = int(np.argmax(magnitude[:len(magnitude) - ms(40, fs)]))
    start = max(0, peak - ms(100, fs))  # and its onset within 100 ms of its peak
    floor = float(np.min(magnitude[start:peak + 1]))
    threshold = floor + _beats.P_FRACTION * (magnitude[peak] - floor)
    below = np.nonzero(magnitude[start:peak] < threshold)[0]
    onset = start + (below[-1] + 1 if len(below) else 0)
    return (len(magnitude) - onset) / fs * 1000.0


def _qrs_amplitudes(leads, rpeaks: np.ndarray, shapes: BeatShape, dominant: list[int],
                    fs: float) -> tuple[dict[str, float], float | None]:
    """QRS peak-to-peak per lead (median over dominant beats) and the frontal axis from I and aVF's net QRS."""
    if not dominant:
        return {}, None
    before = int(np.median(rpeaks - shapes.onsets[dominant]))
    after = int(np.median(shapes.offsets[dominant] - rpeaks))
    before, after = max(before, ms(20, fs)), max(after, ms(20, fs))
    amplitudes, net = {}, {}
    for name, x in leads.items():
        rows = stack_windows(x, rpeaks, before, after)
        if not len(rows):
            continue
        average = rows.mean(axis=0)
        amplitudes[name] = round(float(average.max() - average.min()), 1)
        net[name] = float(average.max() + average.min())  # net deflection: positive minus negative
    if "I" not in net or "aVF" not in net:
        return amplitudes, None
    axis = math.degrees(math.atan2(2.0 * net["aVF"] / math.sqrt(3.0), net["I"]))
    return amplitudes, round(axis, 0)


def _why_no_pr(rhythm: str) -> str:
    return {Rhythm.AF: "atrial fibrillation: no P waves", Rhythm.FLUTTER: "atrial flutter: no P waves",
            Rhythm.COMPLETE_AV_BLOCK: "complete AV block: P waves not conducted"}.get(
        rhythm, "no conducted P waves")
