"""ECG from a CSV file (format documented in studies/formats/README.md).

    # sampling_rate=500; units=uV
    I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6
    -12,85,97,-36,-55,91,-20,10,40,120,150,110
    ...

A comment line (starting with '#') before the header gives sampling_rate in Hz
and units (uV or mV); key=value pairs are separated by ';' or ','. An optional
first column named time, time_s or time_ms is ignored. Values are integers or
decimals; the file is UTF-8.
"""
import io
import re

import numpy as np

from ..errors import InvalidEcg
from ..limits import DEFAULT_LIMITS, Limits, check_size
from .model import STANDARD_LEADS, Ecg, build_ecg, normalize_lead_name, unit_factor

_TIME_COLUMNS = {"time", "time_s", "time_ms", "t"}
_PAIR = re.compile(r"([A-Za-z_]+)\s*=\s*([^;,]+)")


def header_lead_names(text: str) -> list[str] | None:
    """The lead columns if ``text`` starts like our ECG CSV, else None."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        cells = [c.strip() for c in stripped.split(",")]
        if cells and cells[0].lower() in _TIME_COLUMNS:
            cells = cells[1:]
        names = [normalize_lead_name(c) for c in cells]
        if names and all(n in STANDARD_LEADS for n in names):
            return names
        return None
    return None


def read_csv_ecg(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Ecg:
    check_size(data, limits)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidEcg("The ECG CSV is not UTF-8 text.", code="csv_bad_encoding") from exc
    names = header_lead_names(text)
    if names is None:
        raise InvalidEcg("The ECG CSV header must name the leads, e.g. I,II,III,aVR,aVL,aVF,V1,...,V6.",
                         code="csv_bad_header")
    meta = _metadata(text)
    rate, units = meta.get("sampling_rate"), meta.get("units")
    if rate is None or units is None:
        raise InvalidEcg("The ECG CSV needs a first line like '# sampling_rate=500; units=uV'.",
                         code="csv_missing_metadata")
    try:
        rate = float(rate)
    except ValueError as exc:
        raise InvalidEcg("The ECG CSV sampling_rate is not a number.", code="ecg_bad_sampling_rate") from exc
    factor = unit_factor(units)
    values = _table(text, len(names), limits)
    return build_ecg(names=names, microvolts=values * factor, sampling_rate=rate, source_format="csv")


def _metadata(text: str) -> dict[str, str]:
    meta: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        for key, value in _PAIR.findall(stripped):
            key = key.lower()
            key = {"fs": "sampling_rate", "sampling_rate_hz": "sampling_rate", "unit": "units"}.get(key, key)
            meta[key] = value.strip()
    return meta


def _table(text: str, n_leads: int, limits: Limits) -> np.ndarray:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")][1:]
    if len(lines) * n_leads > limits.max_ecg_samples:
        raise InvalidEcg("The ECG is too long to read here.", code="ecg_too_long")
    try:
        table = np.loadtxt(io.StringIO("\n".join(lines)), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise InvalidEcg(f"The ECG CSV has a row that is not {n_leads} numbers ({str(exc)[:120]}).",
                         code="csv_bad_row") from exc
    if table.shape[1] == n_leads + 1:
        table = table[:, 1:]  # the optional time column
    if table.shape[1] != n_leads:
        raise InvalidEcg(f"The ECG CSV rows have {table.shape[1]} values for {n_leads} leads.",
                         code="csv_bad_row")
    return table
