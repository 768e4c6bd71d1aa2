"""ECG samples for the browser viewer as compact JSON.

Two views: an overview decimated to about OVERVIEW_HZ with an anti-alias
polyphase FIR (scipy.signal.resample_poly) for the whole record, and full
resolution for a chosen lead subset and time range. Samples are microvolts,
either a list of ints or base64 of little-endian int16 (clipped to +-32767 uV,
far beyond any real ECG amplitude).
"""
import base64

import numpy as np

from ..errors import InvalidEcg
from .model import Ecg

OVERVIEW_HZ = 125.0
ENCODINGS = ("int-list", "int16-le-base64")


def ecg_samples_json(
    ecg: Ecg,
    *,
    leads: list[str] | None = None,
    start_s: float = 0.0,
    end_s: float | None = None,
    overview: bool = False,
    encoding: str = "int16-le-base64",
) -> dict:
    """A JSON-ready dict: {"sampling_rate", "start_s", "n_samples", "units", "encoding", "leads": {name: data}}."""
    names = _lead_subset(ecg, leads)
    first, last = _sample_range(ecg, start_s, end_s)
    rate = ecg.sampling_rate
    factor = max(1, int(round(rate / OVERVIEW_HZ))) if overview else 1
    out = {}
    for name in names:
        samples = ecg.leads[name][first:last]
        if factor > 1:
            samples = _decimate(samples, factor)
        out[name] = _encode(samples, encoding)
    return {
        "sampling_rate": rate / factor,
        "source_sampling_rate": rate,
        "start_s": first / rate,
        "n_samples": (last - first + factor - 1) // factor if factor > 1 else last - first,
        "units": "uV",
        "encoding": encoding,
        "overview": factor > 1,
        "leads": out,
    }


def decode_samples(data, encoding: str) -> np.ndarray:
    """The inverse of the encoding, for clients written in Python and for tests."""
    if encoding == "int-list":
        return np.asarray(data, dtype=np.int32)
    return np.frombuffer(base64.b64decode(data), dtype="<i2").astype(np.int32)


def _lead_subset(ecg: Ecg, leads: list[str] | None) -> list[str]:
    if not leads:
        return ecg.lead_names
    unknown = [n for n in leads if n not in ecg.leads]
    if unknown:
        raise InvalidEcg(f"This ECG has no lead(s) {unknown}; it has {ecg.lead_names}.", code="ecg_no_such_lead")
    return list(leads)


def _sample_range(ecg: Ecg, start_s: float, end_s: float | None) -> tuple[int, int]:
    end_s = ecg.duration_s if end_s is None else min(end_s, ecg.duration_s)
    if not (0 <= start_s < end_s):
        raise InvalidEcg(f"The time range {start_s}-{end_s} s is outside this {ecg.duration_s:.1f} s ECG.",
                         code="ecg_bad_range")
    return int(round(start_s * ecg.sampling_rate)), int(round(end_s * ecg.sampling_rate))


def _decimate(samples: np.ndarray, factor: int) -> np.ndarray:
    from scipy.signal import resample_poly

    return np.rint(resample_poly(samples.astype(np.float64), 1, factor)).astype(np.int32)


def _encode(samples: np.ndarray, encoding: str):
    if encoding == "int-list":
        return samples.astype(np.int32).tolist()
    if encoding == "int16-le-base64":
        clipped = np.clip(samples, -32767, 32767).astype("<i2")
        return base64.b64encode(clipped.tobytes()).decode("ascii")
    raise InvalidEcg(f"Unknown sample encoding {encoding!r}; use one of {ENCODINGS}.", code="ecg_bad_encoding")
