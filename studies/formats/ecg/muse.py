"""ECG from a GE MUSE XML export (root <RestingECG>).

Layout read (MUSE 7-9 "RestingECG" documents): the <Waveform> whose <WaveformType> is "Rhythm"
(the "Median" one is a representative beat), its <SampleBase> (Hz, times 10^<SampleExponent>), and
per <LeadData> the <LeadID>, <LeadAmplitudeUnitsPerBit> with <LeadAmplitudeUnits> and
<WaveFormData>: base64 of little-endian 16-bit samples. MUSE stores I, II, V1-V6; III, aVR, aVL,
aVF are derived by the model. <RestingECGMeasurements> children are the device's measurements
(GE's names mapped, the others kept as they came), <Diagnosis> <StmtText> its statements.
The DOCTYPE MUSE writes (an external "restecg.dtd") is allowed and never fetched; entities are refused.
"""
import base64
import binascii

import numpy as np
from xml.etree.ElementTree import Element

from ..errors import InvalidEcg
from ..limits import DEFAULT_LIMITS, Limits, check_size
from .model import Ecg, build_ecg, unit_factor
from .vendor_xml import device_measurements, parse_vendor_xml

MUSE_UNITS = {"MICROVOLTS": "uV", "MILLIVOLTS": "mV", "VOLTS": "V"}


def read_muse(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Ecg:
    check_size(data, limits)
    root = parse_vendor_xml(data, vendor="MUSE", bad_xml_code="muse_bad_xml")
    if root.tag != "RestingECG":
        raise InvalidEcg("The XML file is not a GE MUSE RestingECG document.", code="muse_wrong_root")
    rhythm = next((w for w in root.iter("Waveform") if _text(w, "WaveformType").lower() == "rhythm"), None)
    if rhythm is None:
        raise InvalidEcg("The MUSE XML has no rhythm waveform (only a median beat, or none).", code="ecg_no_waveform")
    rate = _number(rhythm, "SampleBase") * 10 ** _number(rhythm, "SampleExponent", 0.0)
    names, columns, total = [], [], 0
    for lead in rhythm.iter("LeadData"):
        samples = _lead_samples(lead)
        total += len(samples)
        if total > limits.max_ecg_samples:
            raise InvalidEcg("The ECG is too long to read here.", code="ecg_too_long")
        names.append(_text(lead, "LeadID"))
        columns.append(samples)
    if not columns or len({len(c) for c in columns}) != 1:
        raise InvalidEcg("The MUSE XML leads are missing or have different lengths.", code="ecg_no_samples")
    return build_ecg(names=names, microvolts=np.column_stack(columns), sampling_rate=rate, source_format="muse",
                     device_measurements=device_measurements(root.find("RestingECGMeasurements"), "ge"),
                     device_statements=_statements(root))


def _text(element: Element, tag: str) -> str:
    found = element.find(tag)
    return (found.text or "").strip() if found is not None else ""


def _number(element: Element, tag: str, default: float | None = None) -> float:
    text = _text(element, tag)
    try:
        return float(text)
    except ValueError:
        if default is not None and not text:
            return default
        raise InvalidEcg(f"The MUSE XML's <{tag}> is missing or not a number.", code="ecg_bad_sampling_rate") from None


def _lead_samples(lead: Element) -> np.ndarray:
    name = _text(lead, "LeadID") or "?"
    try:
        raw = base64.b64decode(_text(lead, "WaveFormData"), validate=False)
        per_bit = float(_text(lead, "LeadAmplitudeUnitsPerBit") or 1.0)
    except (binascii.Error, ValueError) as exc:
        raise InvalidEcg(f"The MUSE lead {name} has damaged samples.", code="ecg_bad_samples") from exc
    if len(raw) % 2:
        raise InvalidEcg(f"The MUSE lead {name} has an odd number of bytes.", code="ecg_bad_samples")
    units = MUSE_UNITS.get(_text(lead, "LeadAmplitudeUnits").upper(), "uV")
    return np.frombuffer(raw, dtype="<i2").astype(np.float64) * per_bit * unit_factor(units)


def _statements(root: Element) -> list[str]:
    diagnosis = root.find("Diagnosis")
    if diagnosis is None:
        return []
    return [(s.text or "").strip() for s in diagnosis.iter("StmtText") if (s.text or "").strip()]
