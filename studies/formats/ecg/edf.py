"""ECG from an EDF or EDF+ file (European Data Format), read with pyedflib.

The ECG channels are those whose label names a standard lead ("II", "ECG V1", "EKG aVR", "MLII") or
says ECG/EKG; other channels (respiration, SpO2, the EDF+ annotation channel) are left out. Channels
at other sampling rates than the ECG's most common one are left out too (EDF allows one per channel).
Physical values are converted to microvolts from each channel's physical dimension (uV, mV, V).
"""
import os
import tempfile
from collections import Counter

import numpy as np

from ..detect import looks_like_edf
from ..errors import InvalidEcg
from ..limits import DEFAULT_LIMITS, Limits, check_size
from .model import STANDARD_LEADS, Ecg, build_ecg, normalize_lead_name, unit_factor

def read_edf(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Ecg:
    check_size(data, limits)
    if not looks_like_edf(data):
        raise InvalidEcg("The file is not an EDF/EDF+ file (its 256-byte header is not EDF's).", code="edf_bad_header")
    with tempfile.TemporaryDirectory(prefix="edf-") as folder:
        path = os.path.join(folder, "upload.edf")
        with open(path, "wb") as handle:
            handle.write(data)
        return _read(path, limits)


def _read(path: str, limits: Limits) -> Ecg:
    import pyedflib

    try:
        reader = pyedflib.EdfReader(path)
    except Exception as exc:  # pyedflib raises OSError with the EDF library's reason
        raise InvalidEcg(f"The EDF file cannot be read ({str(exc)[:160]}).", code="edf_bad_file") from exc
    try:
        labels = [str(label).strip() for label in reader.getSignalLabels()]
        channels = [i for i, label in enumerate(labels) if _is_ecg(label)]
        if not channels:
            raise InvalidEcg(f"The EDF file has no ECG channel (its channels: {', '.join(labels)[:200]}). "
                             "Name the leads I, II, ..., V6 or ECG ...", code="edf_no_ecg")
        rates = {i: float(reader.getSampleFrequency(i)) for i in channels}
        rate = Counter(rates.values()).most_common(1)[0][0]
        channels = [i for i in channels if rates[i] == rate]
        lengths = {int(reader.getNSamples()[i]) for i in channels}
        if sum(int(reader.getNSamples()[i]) for i in channels) > limits.max_ecg_samples:
            raise InvalidEcg("The ECG is too long to read here.", code="ecg_too_long")
        n = min(lengths)
        factors = [unit_factor(reader.getPhysicalDimension(i) or "uV") for i in channels]
        try:
            columns = [reader.readSignal(i)[:n] * factor for i, factor in zip(channels, factors)]
        except Exception as exc:  # a data record cut short or damaged
            raise InvalidEcg(f"The EDF signal data cannot be read ({str(exc)[:120]}).", code="edf_bad_file") from exc
        names = [normalize_lead_name(labels[i]) for i in channels]
    finally:
        reader.close()
    return build_ecg(names=names, microvolts=np.column_stack(columns), sampling_rate=rate, source_format="edf")


def _is_ecg(label: str) -> bool:
    upper = label.upper()
    return normalize_lead_name(label) in STANDARD_LEADS or upper.startswith(("ECG", "EKG"))
