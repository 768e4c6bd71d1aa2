"""The one ECG model every reader produces and every consumer (measurement, viewer) reads."""
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidEcg

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_BY_UPPER = {name.upper(): name for name in STANDARD_LEADS}
# Other spellings of the standard leads: Roman numerals as digits, Holter/MIT-BIH modified limb leads
# (MLII is lead II placed on the torso), IEC 60601 names (C1-C6 for V1-V6, aR/aL/aF).
LEAD_ALIASES = {"1": "I", "2": "II", "3": "III", "MLI": "I", "ML1": "I", "MLII": "II", "ML2": "II", "MII": "II",
                "MLIII": "III", "ML3": "III", "AR": "aVR", "AL": "aVL", "AF": "aVF",
                **{f"C{i}": f"V{i}" for i in range(1, 7)}, **{f"MV{i}": f"V{i}" for i in range(1, 7)}}
_PREFIXES = ("MDC_ECG_LEAD_", "LEAD_", "LEAD ", "ECG_", "ECG ", "EKG ", "EKG_", "ECG-", "EKG-")

# Device measurement keys per vendor, whatever the source called them; a key in no table is kept
# under the device's own name (ecg.device_measurements["QT Dispersion"] = 42.0).
COMMON_KEYS = {
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
VENDOR_KEYS = {
    # GE MAC/MUSE (DICOM annotations and MUSE XML RestingECGMeasurements)
    "ge": {"ventricular heart rate": "heart_rate_bpm", "atrial heart rate": "atrial_rate_bpm",
           "ventricularrate": "heart_rate_bpm", "atrialrate": "atrial_rate_bpm", "printerval": "pr_ms",
           "qrsduration": "qrs_ms", "qtinterval": "qt_ms", "qtcorrected": "qtc_ms", "qt corrected": "qtc_ms",
           "paxis": "p_axis_deg", "raxis": "qrs_axis_deg", "taxis": "t_axis_deg", "qrs count": "beats",
           "qrscount": "beats"},
    # Philips PageWriter (Sierra XML globalmeasurements)
    "philips": {"heartrate": "heart_rate_bpm", "rrint": "rr_ms", "pdur": "p_ms", "print": "pr_ms",
                "qrsdur": "qrs_ms", "qtint": "qt_ms", "qtcb": "qtc_ms", "pfrontaxis": "p_axis_deg",
                "qrsfrontaxis": "qrs_axis_deg", "tfrontaxis": "t_axis_deg", "atrialrate": "atrial_rate_bpm"},
}
MEASUREMENT_KEYS = COMMON_KEYS  # the name older callers import
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
    """'Lead I (Einthoven)', 'MDC_ECG_LEAD_AVR', 'avr', 'v1', 'MLII', 'ECG II', 'C3' -> 'I', 'aVR', 'aVR', 'V1',
    'II', 'II', 'V3'; a name that is none of the standard leads is kept as it came."""
    name = raw.strip()
    name = name.split("(")[0].strip()
    upper = name.upper()
    for prefix in _PREFIXES:
        if upper.startswith(prefix):
            upper = upper[len(prefix):].strip()
            break
    upper = upper.replace(" ", "").replace("-", "") if len(upper) <= 6 else upper
    upper = LEAD_ALIASES.get(upper, upper)
    return _BY_UPPER.get(upper.upper(), upper if upper in STANDARD_LEADS else name)


def measurement_key(raw: str, vendor: str = "") -> str | None:
    """The canonical key of a device measurement (the vendor's table, then the common one); None if unknown."""
    key = raw.strip().lower()
    return VENDOR_KEYS.get(vendor, {}).get(key) or COMMON_KEYS.get(key)


def vendor_of(manufacturer: str) -> str:
    """'GE Healthcare', 'GE MEDICAL SYSTEMS' -> 'ge'; 'Philips Medical Systems' -> 'philips'; else ''."""
    text = manufacturer.strip().lower()
    if text.startswith("ge ") or text in ("ge", "marquette") or "general electric" in text:
        return "ge"
    return "philips" if "philips" in text else ""


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
