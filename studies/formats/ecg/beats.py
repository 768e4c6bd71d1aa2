"""Beat-level signal work for rhythm analysis: filtering, QRS extent, beat morphology, averaged beat.

Pure numpy/scipy on an `Ecg` and its R peaks (found by neurokit2 in measure.py). Every length is
given in milliseconds and converted with the record's own sampling rate, so any rate works.
The QRS extent is measured globally, as devices do: on the spatial velocity (the root of the summed
squared derivatives of the independent leads), from its first to its last crossing of a fraction of
its peak; the P wave likewise on the averaged beat of all leads.
"""
from dataclasses import dataclass

import numpy as np

from .model import Ecg

INDEPENDENT_LEADS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")  # the others are sums of I and II
QRS_FRACTION = 0.05  # of the spatial velocity's peak: onset and offset of the QRS
P_FRACTION = 0.06  # of the averaged P wave's spatial magnitude over its floor: its onset


@dataclass(frozen=True)
class BeatShape:
    """Per beat: QRS onset/offset (samples) and the correlation of its QRS with the median QRS."""

    onsets: np.ndarray
    offsets: np.ndarray
    correlation: np.ndarray

    @property
    def widths(self) -> np.ndarray:
        return self.offsets - self.onsets


def ms(value: float, fs: float) -> int:
    return max(1, int(round(value * fs / 1000.0)))


def filtered_leads(ecg: Ecg) -> dict[str, np.ndarray]:
    """Band-pass 0.5-40 Hz (below Nyquist), zero phase: baseline wander and mains hum out."""
    from scipy.signal import butter, sosfiltfilt

    fs = ecg.sampling_rate
    high = min(40.0, 0.45 * fs)
    sos = butter(2, [0.5, high], btype="bandpass", fs=fs, output="sos")
    out = {}
    for name, values in ecg.leads.items():
        x = values.astype(np.float64)
        out[name] = sosfiltfilt(sos, x) if len(x) > 30 else x - np.mean(x)
    return out


def spatial_velocity(leads: dict[str, np.ndarray], fs: float) -> np.ndarray:
    names = [n for n in INDEPENDENT_LEADS if n in leads] or list(leads)
    deriv = np.stack([np.gradient(leads[n]) for n in names])
    velocity = np.sqrt(np.sum(deriv ** 2, axis=0))
    width = ms(10, fs)
    return np.convolve(velocity, np.ones(width) / width, mode="same")


def beat_shapes(leads: dict[str, np.ndarray], rpeaks: np.ndarray, fs: float) -> BeatShape:
    velocity = spatial_velocity(leads, fs)
    n = len(velocity)
    onsets, offsets = np.zeros(len(rpeaks), dtype=np.int64), np.zeros(len(rpeaks), dtype=np.int64)
    for i, r in enumerate(rpeaks):
        lo, hi = max(0, r - ms(200, fs)), min(n, r + ms(200, fs))
        around = velocity[lo:hi]
        near_lo, near_hi = max(0, r - ms(60, fs)), min(n, r + ms(60, fs))
        peak = near_lo + int(np.argmax(velocity[near_lo:near_hi]))
        floor = float(np.percentile(around, 5))
        threshold = floor + QRS_FRACTION * (velocity[peak] - floor)
        below_before = np.nonzero(velocity[lo:peak] < threshold)[0]
        below_after = np.nonzero(velocity[peak:hi] < threshold)[0]
        onsets[i] = lo + (below_before[-1] + 1 if len(below_before) else 0)
        offsets[i] = peak + (below_after[0] if len(below_after) else hi - peak)
    return BeatShape(onsets=onsets, offsets=offsets, correlation=_qrs_correlation(leads, rpeaks, fs))


def _qrs_correlation(leads: dict[str, np.ndarray], rpeaks: np.ndarray, fs: float) -> np.ndarray:
    names = [n for n in INDEPENDENT_LEADS if n in leads] or list(leads)
    half = ms(100, fs)
    n = len(next(iter(leads.values())))
    segments = []
    for r in rpeaks:
        parts = []
        for name in names:
            x = leads[name]
            seg = x[max(0, r - half):min(n, r + half)]
            seg = np.pad(seg, (max(0, half - r), max(0, r + half - n)), mode="edge")
            parts.append(seg)
        segments.append(np.concatenate(parts))
    matrix = np.stack(segments)
    template = np.median(matrix, axis=0)
    centred = matrix - matrix.mean(axis=1, keepdims=True)
    t = template - template.mean()
    denom = np.linalg.norm(centred, axis=1) * np.linalg.norm(t)
    return np.where(denom > 0, centred @ t / np.where(denom > 0, denom, 1), 0.0)


def stack_windows(x: np.ndarray, centres: np.ndarray, before: int, after: int) -> np.ndarray:
    """Rows x[c - before: c + after] for each centre wholly inside x."""
    keep = [c for c in centres if c - before >= 0 and c + after <= len(x)]
    if not keep:
        return np.zeros((0, before + after))
    return np.stack([x[c - before:c + after] for c in keep])


def t_wave_end(leads: dict[str, np.ndarray], rpeaks: np.ndarray, fs: float) -> int:
    """Samples from the R peak to the end of the averaged T wave (where its spatial magnitude falls
    under 15 % of its peak); 400 ms when it cannot be told."""
    names = [n for n in INDEPENDENT_LEADS if n in leads] or list(leads)
    gaps = np.diff(rpeaks)
    span = int(min(ms(700, fs), np.min(gaps) - ms(100, fs) if len(gaps) else ms(700, fs)))  # not the next QRS
    averages = [stack_windows(leads[n], rpeaks, 0, span).mean(axis=0) for n in names]
    if span < ms(250, fs) or not len(averages[0]):
        return ms(400, fs)
    magnitude = np.sqrt(np.sum(np.square(averages), axis=0))
    start = ms(120, fs)
    peak = start + int(np.argmax(magnitude[start:]))
    below = np.nonzero(magnitude[peak:] < 0.15 * magnitude[peak])[0]
    return int(peak + below[0]) if len(below) else span


def p_wave_windows(x: np.ndarray, qrs_onsets: np.ndarray, fs: float, rr_ms: float,
                   quiet_from: np.ndarray | None = None) -> np.ndarray:
    """Per beat, the stretch before its QRS onset where a conducted P wave lies, on a straight baseline
    from its first to its last 20 ms (what the band-pass leaves of the QRS's slope is not a P wave).
    `quiet_from`: per beat, the sample where the previous beat's T wave has ended; what comes
    before it is held flat, so that a T wave is never taken for a P wave."""
    t_end = 400.0 * np.sqrt(rr_ms / 1000.0)  # the previous T wave's end, about (QT scales with the root of RR)
    length = ms(max(100.0, min(320.0, 0.6 * rr_ms, rr_ms - t_end)), fs)
    inside = np.array([c - length >= 0 and c <= len(x) for c in qrs_onsets], dtype=bool)
    rows = stack_windows(x, qrs_onsets, length, 0)
    if not len(rows):
        return rows
    rows = rows.copy()
    if quiet_from is not None:
        for row, onset, quiet in zip(rows, qrs_onsets[inside], np.asarray(quiet_from)[inside]):
            flat = int(min(max(quiet - (onset - length), 0), length - 1))
            row[:flat] = row[flat]
    edge = ms(20, fs)
    start, end = rows[:, :edge].mean(axis=1, keepdims=True), rows[:, -edge:].mean(axis=1, keepdims=True)
    ramp = (np.arange(length) - edge / 2) / max(1, length - edge)
    return rows - (start + (end - start) * ramp)


def refine_peaks(leads: dict[str, np.ndarray], rpeaks: np.ndarray, fs: float) -> np.ndarray:
    """The QRS complexes among neurokit2's R peaks, and those it missed.

    A wide beat of another shape (a PVC, a run of VT) can escape a one-lead detector: peaks of the
    spatial velocity, all leads together, as tall as half the median detected beat's and 150 ms
    or more from every detection, are added. A detection whose velocity is under 30 % of the
    median's (a tall T wave) is dropped, and of two within 250 ms the faster one kept."""
    from scipy.signal import find_peaks

    if len(rpeaks) == 0:
        return rpeaks
    velocity = spatial_velocity(leads, fs)
    half = ms(60, fs)
    strength = np.array([velocity[max(0, r - half):r + half].max() for r in rpeaks])
    typical = float(np.median(strength))
    found, _ = find_peaks(velocity, height=0.5 * typical, distance=ms(200, fs))
    missed = [p for p in found if np.min(np.abs(rpeaks - p)) > ms(150, fs)]
    candidates = np.concatenate([rpeaks, np.asarray(missed, dtype=np.int64)])
    order = np.argsort(candidates)
    candidates = candidates[order]
    strength = np.array([velocity[max(0, r - half):r + half].max() for r in candidates])
    keep = strength >= 0.3 * typical
    kept: list[tuple[int, float]] = []
    for r, s in zip(candidates[keep], strength[keep]):
        if kept and r - kept[-1][0] < ms(250, fs):
            if s > kept[-1][1]:
                kept[-1] = (r, s)
            continue
        kept.append((r, s))
    return np.array([r for r, _ in kept], dtype=np.int64)
