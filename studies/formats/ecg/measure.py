"""Computed ECG measurements (neurokit2 + rhythm.py), preliminary statements and critical-value flags.

Method:
- neurokit2 ecg_clean + ecg_peaks on one lead (II unless asked otherwise) for R peaks, which
  rhythm.py checks against all leads (missed wide beats added, T waves dropped) and classifies
  (normal, PVC, PAC) -> RR mean/SD, heart rate, the irregularity nRMSSD = RMSSD(RR) / mean(RR);
- QRS duration and PR interval global, on all leads (rhythm.py, beats.py): QRS on the dominant
  beats' spatial velocity, PR on the averaged conducted beat; PR withheld when there are no
  conducted P waves (AF, flutter, complete AV block);
- QT on the rhythm lead: ecg_delineate "prominence" QRS onsets and "dwt" T offsets, the median
  over normal beats whose value is physiologically possible; QTc by Bazett: QT / sqrt(mean RR s).
These are labelled "computed" and kept apart from the device's own measurements.
"""
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import MeasurementError
from .model import Ecg
from .rhythm import NORMAL, Rhythm, RhythmAnalysis, analyse_rhythm
from .statements import Statement, rhythm_statements

PLAUSIBLE_MS = {"pr": (60, 400), "qrs": (40, 250), "qt": (200, 700)}


@dataclass(frozen=True)
class ComputedMeasurements:
    lead: str
    beats: int
    heart_rate_bpm: float
    rr_mean_ms: float
    rr_sd_ms: float
    rr_nrmssd: float  # RMSSD / mean RR; irregular above CriticalThresholds.irregular_nrmssd
    pr_ms: float | None  # None: withheld (see `withheld`) or not measurable
    qrs_ms: float | None
    qt_ms: float | None
    qtc_ms: float | None
    qrs_axis_deg: float | None = None
    rhythm: str = ""
    beat_counts: dict = field(default_factory=dict)  # {"N": normal, "V": PVC, "A": PAC}
    atrial_rate_bpm: float | None = None
    p_waves: bool | None = None
    longest_rr_ms: float | None = None
    withheld: dict = field(default_factory=dict)  # measurement -> why it does not apply
    qtc_formula: str = "Bazett"
    source: str = "computed (neurokit2 beats; QRS, PR and axis on all leads)"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CriticalThresholds:
    min_rate_bpm: float = 40.0
    max_rate_bpm: float = 150.0
    max_qtc_ms: float = 500.0
    irregular_nrmssd: float = 0.10  # beat-to-beat RR variation typical of atrial fibrillation
    irregular_rapid_rate_bpm: float = 110.0
    af_rvr_rate_bpm: float = 110.0  # atrial fibrillation or flutter with a ventricular rate above this
    vt_run_beats: int = 3  # consecutive PVCs faster than 100/min
    long_pause_ms: float = 3000.0
    complete_av_block: bool = True


@dataclass(frozen=True)
class CriticalFinding:
    code: str
    message: str


@dataclass(frozen=True)
class EcgAnalysis:
    computed: ComputedMeasurements
    device: dict[str, float]
    critical: list[CriticalFinding] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    rhythm: RhythmAnalysis | None = None  # beat by beat (not stored)

    def as_dict(self) -> dict:
        """JSON-ready: {"computed": {...}, "device": {...}, "critical": [{"code", "message"}],
        "statements": [{"code", "zh", "en", "values", "source": "computed"}]}."""
        return {"computed": self.computed.as_dict(), "device": dict(self.device),
                "critical": [asdict(c) for c in self.critical], "statements": [s.as_dict() for s in self.statements]}


def analyse_ecg(ecg: Ecg, *, lead: str = "II", thresholds: CriticalThresholds = CriticalThresholds(),
                sex: str = "") -> EcgAnalysis:
    """`sex` ("M", "F", or unknown) sets the QTc above which it is stated prolonged."""
    computed, rhythm = _measure(ecg, lead=lead)
    return EcgAnalysis(computed=computed, device=dict(ecg.device_measurements),
                       critical=critical_findings(computed, thresholds=thresholds, rhythm=rhythm),
                       statements=rhythm_statements(rhythm, qtc_ms=computed.qtc_ms, sex=sex), rhythm=rhythm)


def measure_ecg(ecg: Ecg, *, lead: str = "II") -> ComputedMeasurements:
    """Raises MeasurementError when the lead is absent or too few beats are found."""
    return _measure(ecg, lead=lead)[0]


def _measure(ecg: Ecg, *, lead: str) -> tuple[ComputedMeasurements, RhythmAnalysis]:
    if lead not in ecg.leads:
        lead = next((n for n in ("II", "I", "V5") if n in ecg.leads), ecg.lead_names[0])
    if ecg.duration_s < 4:
        raise MeasurementError("The ECG is shorter than 4 s; record at least 10 s to measure it.")
    fs = ecg.sampling_rate
    cleaned, rpeaks = r_peaks(ecg.leads[lead].astype(np.float64), fs)
    rhythm = analyse_rhythm(ecg, rpeaks)
    rpeaks = rhythm.rpeaks
    if len(rpeaks) < 3:
        raise MeasurementError("Fewer than 3 heartbeats were found; check the leads are connected.")
    rr_ms = np.diff(rpeaks) / fs * 1000.0
    rr_mean = float(np.mean(rr_ms))
    waves = _delineate(cleaned, rpeaks, fs)
    normal = np.array([label == NORMAL for label in rhythm.labels])
    qt = _median_interval(np.asarray(waves["ECG_R_Onsets"], dtype=float)[normal],
                          np.asarray(waves["ECG_T_Offsets"], dtype=float)[normal], fs, "qt")
    return ComputedMeasurements(
        lead=lead,
        beats=len(rpeaks),
        heart_rate_bpm=round(60000.0 / rr_mean, 1),
        rr_mean_ms=round(rr_mean, 1),
        rr_sd_ms=round(float(np.std(rr_ms, ddof=1)) if len(rr_ms) > 1 else 0.0, 1),
        rr_nrmssd=round(float(np.sqrt(np.mean(np.diff(rr_ms) ** 2)) / rr_mean) if len(rr_ms) > 1 else 0.0, 3),
        pr_ms=_plausible(rhythm.pr_ms, "pr"),
        qrs_ms=_plausible(rhythm.qrs_ms, "qrs"),
        qt_ms=qt,
        qtc_ms=None if qt is None else round(float(qt / np.sqrt(rr_mean / 1000.0)), 1),
        qrs_axis_deg=rhythm.qrs_axis_deg, rhythm=rhythm.rhythm, beat_counts=rhythm.counts,
        atrial_rate_bpm=rhythm.atrial_rate_bpm, p_waves=rhythm.p_waves, longest_rr_ms=rhythm.longest_rr_ms,
        withheld=dict(rhythm.withheld),
    ), rhythm


def critical_findings(m: ComputedMeasurements, *, thresholds: CriticalThresholds = CriticalThresholds(),
                      rhythm: RhythmAnalysis | None = None) -> list[CriticalFinding]:
    found = []
    if m.heart_rate_bpm < thresholds.min_rate_bpm:
        found.append(CriticalFinding("bradycardia", f"Heart rate {m.heart_rate_bpm:.0f} bpm is below "
                                     f"{thresholds.min_rate_bpm:.0f} bpm."))
    if m.heart_rate_bpm > thresholds.max_rate_bpm:
        found.append(CriticalFinding("tachycardia", f"Heart rate {m.heart_rate_bpm:.0f} bpm is above "
                                     f"{thresholds.max_rate_bpm:.0f} bpm."))
    if m.qtc_ms is not None and m.qtc_ms > thresholds.max_qtc_ms:
        found.append(CriticalFinding("long_qtc", f"QTc (Bazett) {m.qtc_ms:.0f} ms is above "
                                     f"{thresholds.max_qtc_ms:.0f} ms."))
    rhythm_found = _rhythm_criticals(m, rhythm, thresholds) if rhythm is not None else []
    af_rvr = any(f.code == "af_rvr" for f in rhythm_found)
    if not af_rvr and m.rr_nrmssd > thresholds.irregular_nrmssd and m.heart_rate_bpm > thresholds.irregular_rapid_rate_bpm:
        found.append(CriticalFinding("irregular_rapid", f"Irregular rhythm (nRMSSD {m.rr_nrmssd:.2f}) "
                                     f"with a rapid rate of {m.heart_rate_bpm:.0f} bpm: possible AF with RVR."))
    return found + rhythm_found


def _rhythm_criticals(m: ComputedMeasurements, rhythm: RhythmAnalysis, t: CriticalThresholds) -> list[CriticalFinding]:
    found = []
    if rhythm.rhythm in (Rhythm.AF, Rhythm.FLUTTER) and m.heart_rate_bpm > t.af_rvr_rate_bpm:
        name = "Atrial fibrillation" if rhythm.rhythm == Rhythm.AF else "Atrial flutter"
        found.append(CriticalFinding("af_rvr", f"{name} with a rapid ventricular rate of {m.heart_rate_bpm:.0f} bpm "
                                     f"(above {t.af_rvr_rate_bpm:.0f})."))
    if rhythm.longest_vt_run >= t.vt_run_beats:
        found.append(CriticalFinding("vt_run", f"A run of {rhythm.longest_vt_run} consecutive ventricular beats "
                                     "faster than 100/min (ventricular tachycardia)."))
    if t.complete_av_block and rhythm.rhythm == Rhythm.COMPLETE_AV_BLOCK:
        found.append(CriticalFinding("complete_av_block", "Complete AV block: P waves at "
                                     f"{rhythm.atrial_rate_bpm:.0f}/min not conducted, ventricles at "
                                     f"{m.heart_rate_bpm:.0f}/min."))
    if rhythm.longest_rr_ms >= t.long_pause_ms:
        found.append(CriticalFinding("long_pause", f"A pause of {rhythm.longest_rr_ms / 1000:.1f} s "
                                     f"(at least {t.long_pause_ms / 1000:.1f} s)."))
    return found


def _plausible(value: float | None, kind: str) -> float | None:
    low, high = PLAUSIBLE_MS[kind]
    return value if value is not None and low <= value <= high else None


def r_peaks(signal: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """(the cleaned lead, its R peaks' sample indices) by neurokit2; MeasurementError under 3 beats."""
    import neurokit2 as nk

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cleaned = nk.ecg_clean(signal, sampling_rate=fs)
            _, info = nk.ecg_peaks(cleaned, sampling_rate=fs)
    except Exception as exc:  # neurokit2 raises plain exceptions on flat or odd signals
        raise MeasurementError(f"No heartbeats could be found ({type(exc).__name__}).") from exc
    rpeaks = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
    if len(rpeaks) < 3:
        raise MeasurementError("Fewer than 3 heartbeats were found; check the leads are connected.")
    return cleaned, rpeaks


def _delineate(cleaned: np.ndarray, rpeaks: np.ndarray, fs: float) -> dict[str, list]:
    """QRS onsets (neurokit2 "prominence") and T-wave ends (neurokit2 "dwt") per beat, for the QT."""
    import neurokit2 as nk

    waves = {k: [np.nan] * len(rpeaks) for k in ("ECG_R_Onsets", "ECG_T_Offsets")}
    def qrs_onsets(x, r, f):
        return nk.ecg_delineate(x, r, sampling_rate=f, method="prominence")[1]["ECG_R_Onsets"]

    for key, delineate in (("ECG_T_Offsets", dwt_t_offsets), ("ECG_R_Onsets", qrs_onsets)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = delineate(cleaned, rpeaks, fs)
        except Exception:  # one failing method leaves its intervals unknown, not the whole analysis
            continue
        if len(found) == len(rpeaks):
            waves[key] = found
    return waves


def dwt_t_offsets(cleaned: np.ndarray, rpeaks: np.ndarray, fs: float) -> list:
    """neurokit2's "dwt" T-wave ends, the same steps as its ecg_delineate(method="dwt") takes for them, without
    the Q and S peaks and P waves it also finds there (two thirds of its time, on pandas epochs), which the QT
    does not use. neurokit2 is pinned below 0.3 (pyproject.toml) for these functions of its module."""
    import importlib

    from neurokit2.signal import signal_resample

    nk_delineate = importlib.import_module("neurokit2.ecg.ecg_delineate")  # the module (the package exports the function)

    analysis_rate = 2000  # the rate ecg_delineate's dwt delineator analyses at
    ecg = signal_resample(cleaned, sampling_rate=fs, desired_sampling_rate=analysis_rate)
    scales = nk_delineate._dwt_compute_multiscales(ecg, 9)
    at_rate = nk_delineate._dwt_resample_points(rpeaks, fs, analysis_rate)
    tpeaks, _ = nk_delineate._dwt_delineate_tp_peaks(ecg, at_rate, scales, sampling_rate=analysis_rate)
    _, toffsets = nk_delineate._dwt_delineate_tp_onsets_offsets(tpeaks, at_rate, scales, sampling_rate=analysis_rate,
                                                                onset_weight=0.6, duration_onset=0.6)
    return nk_delineate._dwt_resample_points(toffsets, analysis_rate, desired_sampling_rate=fs)


def _median_interval(starts, ends, fs: float, kind: str) -> float | None:
    start = np.asarray(starts, dtype=np.float64)
    end = np.asarray(ends, dtype=np.float64)
    ms = (end - start) / fs * 1000.0
    low, high = PLAUSIBLE_MS[kind]
    ok = ms[np.isfinite(ms) & (ms >= low) & (ms <= high)]
    return round(float(np.median(ok)), 1) if len(ok) else None
