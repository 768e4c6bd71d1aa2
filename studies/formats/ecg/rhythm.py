"""Rhythm analysis: beats classified (normal, PVC, PAC), atrial activity, and the measurements behind the
preliminary statements (statements.py words them; flutter.py finds regular atrial waves).

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
from dataclasses import dataclass

import numpy as np

from . import beats as _beats
from .beats import (BeatShape, beat_shapes, filtered_leads, ms, p_wave_windows, refine_peaks, stack_windows,
                    t_wave_end)
from .flutter import FLUTTER_RATE, flutter_two_to_one, flutter_waves, periodicity
from .model import Ecg

NORMAL, PVC, PAC = "N", "V", "A"
WIDE_EXTRA_MS, WIDE_MIN_MS = 40.0, 120.0
PREMATURE = 0.80  # RR below this fraction of the reference RR
COMPENSATORY = 1.85  # RR before + after a premature beat >= this many reference RRs: a full pause
IRREGULAR_NRMSSD = 0.10
P_MIN_UV, P_MIN_CORRELATION, P_MIN_COHERENCE = 40.0, 0.6, 0.7
P_LEADS = ("II", "I", "aVF", "III", "V1", "V2")  # where P waves are tallest, whatever the P axis


class Rhythm:
    SINUS = "sinus_rhythm"
    SINUS_BRADY = "sinus_bradycardia"
    SINUS_TACHY = "sinus_tachycardia"
    AF = "atrial_fibrillation"
    FLUTTER = "atrial_flutter"
    COMPLETE_AV_BLOCK = "complete_av_block"
    UNDETERMINED = "rhythm_undetermined"


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
    flutter = flutter_waves(leads, rpeaks, t_wave_end(leads, rpeaks, fs), fs, reference) if regular else None
    if flutter is None and regular and p_present:  # the wave before each QRS may be one of two flutter waves
        flutter = flutter_two_to_one(leads, rpeaks, shapes, fs, reference)
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
    return periodicity(residual, fs, 60000.0 / reference)


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
