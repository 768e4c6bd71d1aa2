"""ECG from an HL7 v3 annotated ECG (aECG) XML document.

Parsed with defusedxml and DTDs forbidden: no entity expansion, no external
entities (XXE), no network access. Reads the first rhythm series
(AnnotatedECG/component/series), its sequenceSet of leads (SLIST_PQ digits with
origin and scale) and the numeric/text annotations of that series.
"""
import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from xml.etree.ElementTree import Element, ParseError

from ..errors import InvalidEcg, UnsafeXml
from ..limits import DEFAULT_LIMITS, Limits, check_size
from .model import Ecg, build_ecg, measurement_key, unit_factor

NS = {"h": "urn:hl7-org:v3"}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
TIME_UNITS_S = {"s": 1.0, "ms": 0.001, "us": 1e-6}


def read_aecg(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Ecg:
    check_size(data, limits)
    root = _parse(data)
    if root.tag != "{urn:hl7-org:v3}AnnotatedECG":
        raise InvalidEcg("The XML file is not an HL7 AnnotatedECG document.", code="aecg_wrong_root")
    series = root.find("h:component/h:series", NS)
    if series is None:
        raise InvalidEcg("The aECG document has no series of waveforms.", code="aecg_no_series")
    rate, names, columns = _sequence_set(series, limits)
    measurements, statements = _annotations(series)
    return build_ecg(names=names, microvolts=np.column_stack(columns), sampling_rate=rate,
                     source_format="aecg", device_measurements=measurements,
                     device_statements=statements)


def _parse(data: bytes) -> Element:
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeXml("The aECG XML declares a DTD or entities, which we refuse for safety. "
                        "Export it again without a DOCTYPE.") from exc
    except (ParseError, ValueError) as exc:
        raise InvalidEcg(f"The aECG XML is not well-formed ({exc}).", code="aecg_bad_xml") from exc


def _sequence_set(series: Element, limits: Limits) -> tuple[float, list[str], list[np.ndarray]]:
    rate, names, columns, total = None, [], [], 0
    for seq in series.iterfind("h:component/h:sequenceSet/h:component/h:sequence", NS):
        code_el = seq.find("h:code", NS)
        code = code_el.get("code", "") if code_el is not None else ""
        value = seq.find("h:value", NS)
        if value is None:
            continue
        if code.startswith("TIME_"):
            rate = _rate(value)
        elif value.get(XSI_TYPE, "").endswith("SLIST_PQ"):
            samples = _slist(value, code)
            total += len(samples)
            if total > limits.max_ecg_samples:
                raise InvalidEcg("The ECG is too long to read here.", code="ecg_too_long")
            names.append(code)
            columns.append(samples)
    if rate is None:
        raise InvalidEcg("The aECG has no time sequence, so its sampling rate is unknown.",
                         code="ecg_bad_sampling_rate")
    if not columns or len({len(c) for c in columns}) != 1:
        raise InvalidEcg("The aECG leads are missing or have different lengths.", code="ecg_no_samples")
    return rate, names, columns


def _rate(value: Element) -> float:
    increment = value.find("h:increment", NS)
    try:
        step = float(increment.get("value")) * TIME_UNITS_S[increment.get("unit", "s")]
        if step <= 0:
            raise ValueError
        return 1.0 / step
    except (AttributeError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise InvalidEcg("The aECG time increment is missing or not a positive time.",
                         code="ecg_bad_sampling_rate") from exc


def _slist(value: Element, lead: str) -> np.ndarray:
    origin, scale, digits = (value.find(f"h:{n}", NS) for n in ("origin", "scale", "digits"))
    try:
        o = float(origin.get("value")) * unit_factor(origin.get("unit", "uV")) if origin is not None else 0.0
        s = float(scale.get("value")) * unit_factor(scale.get("unit", "uV"))
        raw = np.array((digits.text or "").split(), dtype=np.float64)
    except InvalidEcg:
        raise
    except (AttributeError, TypeError, ValueError) as exc:
        raise InvalidEcg(f"The aECG lead {lead} has a bad scale, origin or digits.",
                         code="ecg_bad_samples") from exc
    return o + s * raw


def _annotations(series: Element) -> tuple[dict[str, float], list[str]]:
    measurements: dict[str, float] = {}
    statements: list[str] = []
    for annotation in series.iterfind("h:subjectOf/h:annotationSet//h:annotation", NS):
        code_el, value = annotation.find("h:code", NS), annotation.find("h:value", NS)
        if code_el is None or value is None:
            continue
        kind = value.get(XSI_TYPE, "")
        if kind.endswith("ST") and (value.text or "").strip():
            statements.append(value.text.strip())
            continue
        key = measurement_key(code_el.get("code", ""))
        if key and key not in measurements and value.get("value"):
            try:
                measurements[key] = float(value.get("value"))
            except ValueError:
                continue
    return measurements, statements
