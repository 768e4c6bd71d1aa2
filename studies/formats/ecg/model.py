"""The one ECG model every reader produces and every consumer (measurement, viewer) reads."""
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidEcg

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_BY_UPPER = {name.upper(): name for name in STANDARD_LEADS}
_ROMAN = {"1": "I", "2": "II", "3": "III"}

# Device measurement keys, whatever the source called them.
MEASUREMENT_KEYS = {
    "rr interval": "rr_ms", "mdc_ecg_time_pd_rr": "rr_ms", "mdc_ecg_time_pd_rr_global": "rr_ms",
    "pp interval": "pp_ms", "mdc_ecg_time_pd_pp": "pp_ms", "mdc_ecg_time_pd_pp_global": "pp_ms",
    "pr interval": "pr_ms", "mdc_ecg_time_pd_pr": "pr_ms", "mdc_ecg_time_pd_pr_global": "pr_ms",
    "qrs duration": "qrs_ms", "mdc_ecg_time_pd_qrs": "qrs_ms", "mdc_ecg_time_pd_qrs_global": "qrs_ms",
    "qt interval": "qt_ms", "mdc_ecg_time_pd_qt": "qt_ms", "mdc_ecg_time_pd_qt_global": "qt_ms",
    "qtc interval": "qtc_ms", "mdc_ecg_time_pd_qtc": "qtc_ms",
    "heart rate": "heart_rate_bpm", "ventricular rate": "heart_rate_bpm",
    "mdc_ecg_heart_rate": "heart_rate_bpm",
    "p axis": "p_axis_deg", "mdc_ecg_angle_p_front": "p_axis_deg",
    "qrs axis": "qrs_axis_deg", "mdc_ecg_angle_qrs_front": "qrs_axis_deg",
    "t axis": "t_axis_deg", "mdc_ecg_angle_t_front": "t_axis_deg",
}
UNIT_TO_MICROVOLT = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "microvolt": 1.0, "mv": 1000.0,
                     "millivolt": 1000.0, "v": 1_000_000.0, "volt": 1_000_000.0, "nv": 0.001}


@dataclass
class Ecg:
    """A resting ECG: leads in display order, each int32 microvolts at one sampling rate."""

    leads: dict[str, np.ndarray]
    sampling_rate: float
    source_format: str
    device_measurements: dict[str, float] = field(default_factory=dict)
    device_statements: list[str] = field(default_factory=list)
    derived_leads: list[str] = field(default_factory=list)  # computed here from I and II

    @property
    def lead_names(self) -> list[str]:
        return list(self.leads)

    @property
    def n_samples(self) -> int:
        return len(next(iter(self.leads.values()))) if self.leads else 0

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sampling_rate


def normalize_lead_name(raw: str) -> str:
    """'Lead I (Einthoven)', 'MDC_ECG_LEAD_AVR', 'avr', 'v1' -> 'I', 'aVR', 'aVR', 'V1'."""
    name = raw.strip()
    name = name.split("(")[0].strip()
    upper = name.upper()
    for prefix in ("MDC_ECG_LEAD_", "LEAD "):
        if upper.startswith(prefix):
            upper = upper[len(prefix):].strip()
    upper = _ROMAN.get(upper, upper)
    return _BY_UPPER.get(upper, name)


def measurement_key(raw: str) -> str | None:
    return MEASUREMENT_KEYS.get(raw.strip().lower())


def unit_factor(unit: str) -> float:
    factor = UNIT_TO_MICROVOLT.get(unit.strip().lower())
    if factor is None:
        raise InvalidEcg(f"ECG amplitude unit {unit!r} is not a voltage we know (use uV or mV).",
                         code="ecg_bad_units")
    return factor


def build_ecg(*, names: list[str], microvolts: np.ndarray, sampling_rate: float, source_format: str,
              device_measurements: dict | None = None, device_statements: list | None = None) -> Ecg:
    """microvolts: (samples, leads) float array. Validates shape, rate and lead names."""
    if not (0 < float(sampling_rate) <= 20_000) or not np.isfinite(sampling_rate):
        raise InvalidEcg(f"The ECG sampling rate {sampling_rate!r} Hz is not plausible.",
                         code="ecg_bad_sampling_rate")
    if microvolts.ndim != 2 or microvolts.shape[1] != len(names) or microvolts.shape[0] < 2:
        raise InvalidEcg("The ECG has no samples, or its leads and samples do not line up.",
                         code="ecg_no_samples")
    if not np.all(np.isfinite(microvolts)):
        raise InvalidEcg("The ECG contains missing or non-numeric samples.", code="ecg_bad_samples")
    canonical = [normalize_lead_name(n) for n in names]
    if len(set(canonical)) != len(canonical):
        raise InvalidEcg(f"The ECG names a lead twice: {canonical}.", code="ecg_duplicate_lead")
    clipped = np.clip(np.rint(microvolts), -2**31, 2**31 - 1).astype(np.int32)
    leads = {name: np.ascontiguousarray(clipped[:, i]) for i, name in enumerate(canonical)}
    ecg = Ecg(leads=_standard_order(leads), sampling_rate=float(sampling_rate),
              source_format=source_format, device_measurements=dict(device_measurements or {}),
              device_statements=list(device_statements or []))
    _derive_limb_leads(ecg)
    return ecg


def _standard_order(leads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    ordered = {n: leads[n] for n in STANDARD_LEADS if n in leads}
    ordered.update({n: v for n, v in leads.items() if n not in ordered})
    return ordered


def _derive_limb_leads(ecg: Ecg) -> None:
    """Many aECG/WFDB exports store only I, II, V1-V6: derive III, aVR, aVL, aVF (Einthoven, Goldberger)."""
    if "I" not in ecg.leads or "II" not in ecg.leads:
        return
    one, two = ecg.leads["I"].astype(np.float64), ecg.leads["II"].astype(np.float64)
    derived = {"III": two - one, "aVR": -(one + two) / 2, "aVL": one - two / 2, "aVF": two - one / 2}
    missing = {k: np.rint(v).astype(np.int32) for k, v in derived.items() if k not in ecg.leads}
    if missing:
        ecg.leads = _standard_order({**ecg.leads, **missing})
        ecg.derived_leads = list(missing)
