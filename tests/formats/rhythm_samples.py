"""ECGs of known rhythm built from the real beats of pydicom's waveform_ecg.dcm (Mortara, sinus rhythm).

The real record's median beat, per lead, is split at the QRS onset into its P wave (with the PR
segment, decaying smoothly after it) and its QRST (the rest). A record is then the sum of P waves placed at the atrial times and QRSTs at
the ventricular times, on the real leads, plus a little seeded noise. From these parts:
- sinus rhythm at any rate, PR prolonged (P placed earlier), pauses (a beat left out);
- AF-like: QRSTs at irregular RR with no P wave, and irregular fibrillatory waves;
- complete AV block: P waves and QRSTs at two unrelated regular rates;
- PVCs: a real QRST stretched in time, inverted and larger, early, no P, compensatory pause;
- PACs: a whole real beat early, the next one a normal cycle later (no compensatory pause);
- axis: the limb leads' frontal vector rotated; low voltage: every lead scaled down.
"""
import dataclasses

import numpy as np

from studies.formats.ecg.model import Ecg

LIMB = ("I", "II", "III", "aVR", "aVL", "aVF")


@dataclasses.dataclass
class BeatParts:
    fs: float
    before: int  # samples of a part before its R peak
    p: dict[str, np.ndarray]
    qrst: dict[str, np.ndarray]


def beat_parts(reference: Ecg, rpeaks: np.ndarray) -> BeatParts:
    fs = reference.sampling_rate
    before, after = int(0.40 * fs), int(0.60 * fs)
    split = before - int(0.045 * fs)  # the QRS onset: the P part keeps the PR segment, then decays
    ramp = int(0.04 * fs)
    edge = np.ones(before + after)
    edge[:ramp], edge[-ramp:] = np.linspace(0, 1, ramp), np.linspace(1, 0, ramp)
    decay = np.exp(-np.clip(np.arange(before + after) - split, 0, None) / (0.03 * fs))
    p, qrst = {}, {}
    for name, values in reference.leads.items():
        rows = np.stack([values[r - before:r + after] for r in rpeaks if r - before >= 0 and r + after <= len(values)])
        beat = np.median(rows.astype(float), axis=0)
        beat -= np.median(beat[:int(0.04 * fs)])
        p_part = np.where(np.arange(before + after) < split, beat, beat[split] * decay) * edge
        p[name], qrst[name] = p_part, (beat - p_part) * edge
    return BeatParts(fs=fs, before=before, p=p, qrst=qrst)


def pvc_shape(parts: BeatParts, stretch: float = 2.0) -> dict[str, np.ndarray]:
    """A real QRST made ventricular-looking: its QRS slower (wide), all of it inverted and 1.4x taller."""
    out = {}
    n = len(next(iter(parts.qrst.values())))
    qrs_start, qrs_end = parts.before - int(0.07 * parts.fs), parts.before + int(0.06 * parts.fs)
    positions = np.arange(n, dtype=float)
    wide = (qrs_end - qrs_start) * stretch
    inside = (positions >= qrs_start) & (positions < qrs_start + wide)
    positions[inside] = qrs_start + (positions[inside] - qrs_start) / stretch
    positions[positions >= qrs_start + wide] -= wide - (qrs_end - qrs_start)
    for name, values in parts.qrst.items():
        out[name] = -1.4 * np.interp(positions, np.arange(n), values)
    return out


def qt_stretched(parts: BeatParts, factor: float) -> dict[str, np.ndarray]:
    """The real QRST with its ST-T stretched in time (QRS untouched): a longer QT."""
    out = {}
    n = len(next(iter(parts.qrst.values())))
    start = parts.before + int(0.06 * parts.fs)
    positions = np.arange(n, dtype=float)
    positions[start:] = start + (positions[start:] - start) / factor
    for name, values in parts.qrst.items():
        out[name] = np.interp(positions, np.arange(n), values)
    return out


def synthesize(parts: BeatParts, *, seconds: float, p_times=(), qrst_beats=(), fibrillation: bool = False,
               seed: int = 1, scale: float = 1.0, leads=None) -> Ecg:
    """p_times: seconds where a P wave's own R would be; qrst_beats: (seconds, shape dict) pairs."""
    fs = parts.fs
    n = int(seconds * fs)
    names = list(leads or parts.p)
    rng = np.random.default_rng(seed)
    out = {name: rng.normal(0, 8.0, n) for name in names}
    for t in p_times:
        _add(out, parts.p, int(t * fs) - parts.before)
    for t, shape in qrst_beats:
        _add(out, shape, int(t * fs) - parts.before)
    if fibrillation:
        f_waves = _fibrillatory_waves(n, fs, rng)
        for name in names:
            out[name] += f_waves * (1.6 if name in ("V1", "II", "III", "aVF") else 0.8)
    leads_uv = {name: np.rint(values * scale).astype(np.int32) for name, values in out.items()}
    return Ecg(leads=leads_uv, sampling_rate=fs, source_format="synthetic")


def _add(out, shape, start):
    for name in out:
        values = shape[name]
        lo, hi = max(0, start), min(len(out[name]), start + len(values))
        if hi > lo:
            out[name][lo:hi] += values[lo - start:hi - start]


def _fibrillatory_waves(n, fs, rng):
    """Irregular 4-9 Hz atrial activity, about 60 µV: frequency and amplitude wander."""
    t = np.arange(n) / fs
    freq = 6.0 + np.cumsum(rng.normal(0, 0.05, n)).clip(-2.5, 2.5)
    phase = 2 * np.pi * np.cumsum(freq) / fs
    amplitude = 35 + 15 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6))
    return amplitude * np.sin(phase)


def regular(start: float, rate_bpm: float, seconds: float) -> list[float]:
    step = 60.0 / rate_bpm
    return list(np.arange(start, seconds - 0.6, step))


def rotated(ecg: Ecg, degrees: float) -> Ecg:
    """The limb leads' frontal vector rotated (Einthoven and Goldberger kept exact); chest leads as they were."""
    one, avf = ecg.leads["I"].astype(float), ecg.leads["aVF"].astype(float)
    x, y = one, 2.0 * avf / np.sqrt(3.0)
    a = np.radians(degrees)
    x2, y2 = x * np.cos(a) - y * np.sin(a), x * np.sin(a) + y * np.cos(a)
    i, f = x2, np.sqrt(3.0) / 2.0 * y2
    ii = f + i / 2.0
    limb = {"I": i, "II": ii, "III": ii - i, "aVR": -(i + ii) / 2.0, "aVL": i - ii / 2.0, "aVF": f}
    leads = {name: (np.rint(limb[name]).astype(np.int32) if name in limb else values)
             for name, values in ecg.leads.items()}
    return dataclasses.replace(ecg, leads=leads)


def resampled(ecg: Ecg, rate: float, leads=None) -> Ecg:
    from scipy.signal import resample_poly

    up, down = int(rate), int(ecg.sampling_rate)
    g = np.gcd(up, down)
    names = leads or ecg.lead_names
    out = {n: np.rint(resample_poly(ecg.leads[n].astype(float), up // g, down // g)).astype(np.int32) for n in names}
    return dataclasses.replace(ecg, leads=out, sampling_rate=float(rate))


def with_flutter_waves(ecg: Ecg, rate_per_min: float = 300.0, amplitude_uv: float = 150.0) -> Ecg:
    """Regular sawtooth atrial waves added: negative in the inferior leads, positive in V1 (typical flutter)."""
    t = np.arange(ecg.n_samples) / ecg.sampling_rate
    phase = (t * rate_per_min / 60.0) % 1.0
    saw = amplitude_uv * (np.where(phase < 0.8, phase / 0.8, (1.0 - phase) / 0.2) - 0.5)
    sign = {"II": -1.0, "III": -1.0, "aVF": -1.0, "V1": 1.0, "I": -0.3, "aVL": 0.3, "aVR": 0.6}
    leads = {name: np.rint(values + sign.get(name, 0.2) * saw).astype(np.int32) for name, values in ecg.leads.items()}
    return dataclasses.replace(ecg, leads=leads)
