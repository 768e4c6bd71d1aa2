"""Computed ECG measurements (neurokit2) and critical-value flags.

Method, on one lead (II unless asked otherwise):
- neurokit2 ecg_clean + ecg_peaks for R peaks -> RR mean/SD, heart rate, and the
  irregularity measure nRMSSD = RMSSD(RR) / mean(RR);
- ecg_delineate "dwt" for P onsets and T offsets, "prominence" for QRS onsets and
  offsets (on the Mortara reference record dwt's QRS boundaries were unusable and
  prominence's T offsets late; see tests/formats/test_measure.py for the agreement);
- per-beat PR = QRS onset - P onset, QRS = QRS offset - onset, QT = T offset - QRS
  onset; the median over beats whose value is physiologically possible;
- QTc by Bazett: QT / sqrt(mean RR in seconds).
These are single-lead values, so they are labelled "computed" and kept apart from
the device's own global (multi-lead) measurements.
"""
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import MeasurementError
from .model import Ecg

PLAUSIBLE_MS = {"pr": (60, 400), "qrs": (40, 250), "qt": (200, 700)}


@dataclass(frozen=True)
class ComputedMeasurements:
    lead: str
    beats: int
    heart_rate_bpm: float
    rr_mean_ms: float
    rr_sd_ms: float
    rr_nrmssd: float  # RMSSD / mean RR; irregular above CriticalThresholds.irregular_nrmssd
    pr_ms: float | None
    qrs_ms: float | None
    qt_ms: float | None
    qtc_ms: float | None
    qtc_formula: str = "Bazett"
    source: str = "computed (neurokit2, single lead)"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CriticalThresholds:
    min_rate_bpm: float = 40.0
    max_rate_bpm: float = 150.0
    max_qtc_ms: float = 500.0
    irregular_nrmssd: float = 0.10  # beat-to-beat RR variation typical of atrial fibrillation
    irregular_rapid_rate_bpm: float = 110.0


@dataclass(frozen=True)
class CriticalFinding:
    code: str
    message: str


@dataclass(frozen=True)
class EcgAnalysis:
    computed: ComputedMeasurements
    device: dict[str, float]
    critical: list[CriticalFinding] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-ready: {"computed": {...}, "device": {...}, "critical": [{"code", "message"}]}."""
        return asdict(self)


def analyse_ecg(ecg: Ecg, *, lead: str = "II", thresholds: CriticalThresholds = CriticalThresholds()) -> EcgAnalysis:
    computed = measure_ecg(ecg, lead=lead)
    return EcgAnalysis(computed=computed, device=dict(ecg.device_measurements),
                       critical=critical_findings(computed, thresholds=thresholds))


def measure_ecg(ecg: Ecg, *, lead: str = "II") -> ComputedMeasurements:
    """Raises MeasurementError when the lead is absent or too few beats are found."""
    if lead not in ecg.leads:
        lead = next((n for n in ("II", "I", "V5") if n in ecg.leads), ecg.lead_names[0])
    if ecg.duration_s < 4:
        raise MeasurementError("The ECG is shorter than 4 s; record at least 10 s to measure it.")
    fs = ecg.sampling_rate
    cleaned, rpeaks = _r_peaks(ecg.leads[lead].astype(np.float64), fs)
    rr_ms = np.diff(rpeaks) / fs * 1000.0
    rr_mean = float(np.mean(rr_ms))
    waves = _delineate(cleaned, rpeaks, fs)
    qt = _median_interval(waves["ECG_R_Onsets"], waves["ECG_T_Offsets"], fs, "qt")
    return ComputedMeasurements(
        lead=lead,
        beats=len(rpeaks),
        heart_rate_bpm=round(60000.0 / rr_mean, 1),
        rr_mean_ms=round(rr_mean, 1),
        rr_sd_ms=round(float(np.std(rr_ms, ddof=1)) if len(rr_ms) > 1 else 0.0, 1),
        rr_nrmssd=round(float(np.sqrt(np.mean(np.diff(rr_ms) ** 2)) / rr_mean) if len(rr_ms) > 1 else 0.0, 3),
        pr_ms=_median_interval(waves["ECG_P_Onsets"], waves["ECG_R_Onsets"], fs, "pr"),
        qrs_ms=_median_interval(waves["ECG_R_Onsets"], waves["ECG_R_Offsets"], fs, "qrs"),
        qt_ms=qt,
        qtc_ms=None if qt is None else round(float(qt / np.sqrt(rr_mean / 1000.0)), 1),
    )


def critical_findings(m: ComputedMeasurements, *, thresholds: CriticalThresholds = CriticalThresholds()) -> list[CriticalFinding]:
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
    if m.rr_nrmssd > thresholds.irregular_nrmssd and m.heart_rate_bpm > thresholds.irregular_rapid_rate_bpm:
        found.append(CriticalFinding("irregular_rapid", f"Irregular rhythm (nRMSSD {m.rr_nrmssd:.2f}) "
                                     f"with a rapid rate of {m.heart_rate_bpm:.0f} bpm: possible AF with RVR."))
    return found


def _r_peaks(signal: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
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
    import neurokit2 as nk

    waves = {k: [np.nan] * len(rpeaks) for k in ("ECG_P_Onsets", "ECG_R_Onsets", "ECG_R_Offsets", "ECG_T_Offsets")}
    for method, keys in (("dwt", ("ECG_P_Onsets", "ECG_T_Offsets")), ("prominence", ("ECG_R_Onsets", "ECG_R_Offsets"))):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, found = nk.ecg_delineate(cleaned, rpeaks, sampling_rate=fs, method=method)
        except Exception:  # one failing method leaves its intervals unknown, not the whole analysis
            continue
        for key in keys:
            if len(found.get(key, [])) == len(rpeaks):
                waves[key] = found[key]
    return waves


def _median_interval(starts, ends, fs: float, kind: str) -> float | None:
    start = np.asarray(starts, dtype=np.float64)
    end = np.asarray(ends, dtype=np.float64)
    ms = (end - start) / fs * 1000.0
    low, high = PLAUSIBLE_MS[kind]
    ok = ms[np.isfinite(ms) & (ms >= low) & (ms <= high)]
    return round(float(np.median(ok)), 1) if len(ok) else None
