"""Live ECG samples on the room socket (docs/signalling.md, "Live ECG"): how a chunk is checked,
packed for storage, encoded for the browsers, cut from a recorded ECG for a replay, and put back
together as one signal. Speaks numbers and JSON, not the domain: imports no ORM.

A chunk is `n` samples of every lead of its stream, int16 little-endian microvolts, base64 per
lead in JSON (`{"II": "AQAC..."}`); stored, the leads are concatenated in the stream's lead order.
"""
import base64
import binascii
from collections.abc import Iterator

import numpy as np

from studies.formats.ecg.model import STANDARD_LEADS

UNITS = ("uV",)                # int16 microvolts: +-32.7 mV, far beyond a real ECG
ENCODING = "int16-le-base64"
MIN_RATE, MAX_RATE = 50, 1000  # Hz; ECG devices sample at 250, 500 or 1000
MAX_CHUNK_SECONDS = 1.0        # a chunk carries at most one second of samples...
MAX_CHUNK_SAMPLES = 1000       # ... and never more than this per lead (12 leads: 32 KB of base64)
_MAX_B64 = (MAX_CHUNK_SAMPLES * 2 + 2) // 3 * 4


class ChunkError(ValueError):
    """A chunk whose samples cannot be used; the message says why."""


def check_leads(value) -> bool:
    """1 to 12 distinct standard lead names (I, II, III, aVR, aVL, aVF, V1-V6)."""
    return (isinstance(value, list) and 0 < len(value) <= len(STANDARD_LEADS)
            and all(isinstance(n, str) and n in STANDARD_LEADS for n in value) and len(set(value)) == len(value))


def check_rate(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
            and MIN_RATE <= value <= MAX_RATE)


def decode_leads(leads) -> tuple[dict[str, np.ndarray], int]:
    """{"II": base64 int16-le, ...} -> ({name: int16 array}, samples per lead). Raises ChunkError."""
    if not isinstance(leads, dict) or not leads:
        raise ChunkError("an object of lead name -> base64 of int16 little-endian microvolts")
    decoded, n = {}, None
    for name, data in leads.items():
        if name not in STANDARD_LEADS:
            raise ChunkError(f"lead names among {', '.join(STANDARD_LEADS)} (not {str(name)[:12]!r})")
        if not isinstance(data, str) or not 0 < len(data) <= _MAX_B64:
            raise ChunkError(f"base64 text of 1 to {MAX_CHUNK_SAMPLES} int16 samples per lead")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ChunkError(f"base64 text (lead {name} is not)") from None
        if len(raw) % 2 or not raw:
            raise ChunkError(f"whole int16 samples (lead {name} has {len(raw)} bytes)")
        samples = np.frombuffer(raw, dtype="<i2")
        if n is not None and len(samples) != n:
            raise ChunkError("the same number of samples in every lead")
        decoded[name], n = samples, len(samples)
    return decoded, n


def pack(leads: dict[str, np.ndarray], lead_names: list[str]) -> bytes:
    """The stored form: every lead's int16-le samples, one after the other, in the stream's order."""
    return b"".join(np.asarray(leads[name], dtype="<i2").tobytes() for name in lead_names)


def unpack(raw: bytes, lead_names: list[str]) -> dict[str, np.ndarray]:
    per_lead = np.frombuffer(raw, dtype="<i2").reshape(len(lead_names), -1)
    return {name: per_lead[i] for i, name in enumerate(lead_names)}


def chunk_frame(*, stream: int, seq: int, start: int, raw: bytes, lead_names: list[str]) -> dict:
    """The frame every participant receives (type "ecg_chunk")."""
    leads = unpack(raw, lead_names)
    n = len(next(iter(leads.values())))
    return {"type": "ecg_chunk", "stream": stream, "seq": seq, "start": start, "n": n,
            "leads": {name: base64.b64encode(samples.tobytes()).decode("ascii") for name, samples in leads.items()}}


def to_int16(leads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Microvolts (int32) clipped into int16, as the wire carries them."""
    return {name: np.clip(values, -32767, 32767).astype("<i2") for name, values in leads.items()}


def replay_pieces(leads: dict[str, np.ndarray], rate: float, chunk_seconds: float) -> Iterator[tuple[float, dict]]:
    """Cut a recorded ECG into (time offset in s of the piece's end, {name: int16 samples}) for a replay
    at real time: piece k is due when its last sample would have been recorded."""
    per_chunk = max(1, min(MAX_CHUNK_SAMPLES, int(round(rate * chunk_seconds))))
    clipped = to_int16(leads)
    total = len(next(iter(clipped.values())))
    for first in range(0, total, per_chunk):
        last = min(total, first + per_chunk)
        yield last / rate, {name: values[first:last] for name, values in clipped.items()}


def assemble(raws: list[bytes], lead_names: list[str]) -> np.ndarray:
    """Stored chunks in seq order -> (samples, leads) float array of microvolts."""
    if not raws:
        return np.zeros((0, len(lead_names)))
    pieces = [np.frombuffer(raw, dtype="<i2").reshape(len(lead_names), -1) for raw in raws]
    return np.concatenate(pieces, axis=1).T.astype(np.float64)
