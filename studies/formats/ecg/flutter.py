"""Regular atrial waves, for rhythm.py: the autocorrelation of what lies between the QRS complexes
(`periodicity`, also behind the complete-AV-block test), atrial flutter seen between T wave and QRS, and
flutter conducted 2:1 (one wave hidden in the ST-T)."""
import numpy as np

from .beats import BeatShape, ms, stack_windows

FLUTTER_RATE = (240.0, 340.0)  # flutter waves per minute; fibrillatory waves are faster (350-600)
FLUTTER_PERIODICITY = 0.7  # autocorrelation of the diastolic stretches at the flutter wave's period
# 2:1 flutter: the wave before each QRS found again half a cycle earlier, inside the ST-T (mean correlation
# over II, III, aVF and V1, 4-30 Hz). Tuned on records built from real beats: 0.81-0.86 with flutter waves at
# 280-320/min, 0.35-0.64 for sinus tachycardia at 130-170/min (tests/formats/test_rhythm.py).
FLUTTER_HALF_CYCLE = 0.75


def periodicity(residual: np.ndarray, fs: float, ventricular_rate: float, longest_ms: float = 1500.0,
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


def flutter_waves(leads, rpeaks: np.ndarray, t_end: int, fs: float, reference: float) -> float | None:
    """The atrial rate when the stretches between T wave and QRS hold regular waves at 240-340/min
    (flutter waves, in a lead where they are large: II, III, aVF, V1); else None. Flutter waves
    locked to the QRS (2:1, 4:1) look like a P wave before each QRS: this is looked at first."""
    for name in ("II", "III", "aVF", "V1"):
        if name not in leads:
            continue
        valid = np.ones(len(leads[name]))
        for r in rpeaks:
            valid[max(0, r - ms(80, fs)):r + t_end] = 0.0  # only what lies between T and the next QRS
        found = periodicity(_stretches_centred(leads[name], valid), fs, 60000.0 / reference, longest_ms=260.0,
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


def flutter_two_to_one(leads, rpeaks: np.ndarray, shapes: BeatShape, fs: float, reference: float) -> float | None:
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
