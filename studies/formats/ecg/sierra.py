"""ECG from a Philips Sierra XML file (PageWriter, TraceMasterVue; root <restingecgdata>), read with sierraecg.

Layout read (Sierra ECG 1.03, 1.04, 1.04.01, 1.04.02; UTF-8 or UTF-16, in the Philips namespace or none):
<waveforms><parsedwaveforms> holds the 12 leads, base64, uncompressed 16-bit or XLI-compressed (what
PageWriters write; sierraecg's decoder undoes it). Its <resolution> (signalcharacteristics, or the attribute)
is µV per unit. In an XLI file III, aVR, aVL and aVF are stored as what is left after the other leads
predict them: only I, II and V1-V6 are taken, and the model derives the four limb leads (Einthoven,
Goldberger), as for GE MUSE. <interpretations><interpretation><globalmeasurements> children are the
device's measurements (Philips's names mapped, the others kept as they came); each <statement>'s
<leftstatement> the device's statements (the <rightstatement> beside it gives the criteria).
DTDs are allowed and never fetched; entities are refused (defusedxml).
"""
import base64
import binascii
import math

import numpy as np
from xml.etree.ElementTree import Element

from ..errors import InvalidEcg
from ..limits import DEFAULT_LIMITS, Limits, check_size
from .model import Ecg, build_ecg
from .vendor_xml import device_measurements, local_name, parse_vendor_xml

STORED = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")  # the leads an XLI file keeps whole
SIERRA_12 = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
# Samples (all leads) decoded here at most: sierraecg's XLI decoder runs in Python, about 20 us a sample, and
# LZW lets a small file claim millions. PageWriters record 10-11 s (12 x 5,500 at 500 Hz; 132,000 at 1000 Hz).
MAX_SAMPLES = 150_000
XLI_SLACK = 64  # samples a decoded lead may run past the declared duration (rounding of rate x duration)
VERSIONS = ("1.03", "1.04", "1.04.01", "1.04.02")  # the ones sierraecg's XLI decoder was written for


def read_sierra(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Ecg:
    check_size(data, limits)
    root = parse_vendor_xml(data, vendor="Philips", bad_xml_code="sierra_bad_xml")
    if local_name(root.tag) != "restingecgdata":
        raise InvalidEcg("The XML file is not a Philips Sierra ECG (root <restingecgdata>).", code="sierra_wrong_root")
    _check_version(root)
    waveforms = _first(root, "parsedwaveforms")
    if waveforms is None:
        raise InvalidEcg("The Philips XML has no <parsedwaveforms>.", code="ecg_no_waveform")
    labels, rate, per_lead = _layout(waveforms, limits)
    leads = dict(zip(labels, _decode(waveforms, labels, per_lead)))
    names = [name for name in STORED if name in leads]
    if not {"I", "II"} <= set(names) or {len(leads[n]) for n in names} != {per_lead}:
        raise InvalidEcg("The Philips XML leads are missing or shorter than it says.", code="ecg_no_samples")
    per_unit = _resolution(root, waveforms)
    microvolts = np.column_stack([leads[n].astype(np.float64) * per_unit for n in names])
    return build_ecg(names=names, microvolts=microvolts, sampling_rate=rate, source_format="sierra",
                     device_measurements=device_measurements(_first(root, "globalmeasurements"), "philips"),
                     device_statements=_statements(root))


def _check_version(root: Element) -> None:
    kind, version = _text(root, "documenttype"), _text(root, "documentversion")
    if kind not in ("SierraECG", "PhilipsECG") or version not in VERSIONS:
        raise InvalidEcg(f"This Philips XML ({kind} {version}) is not one we read; Sierra ECG "
                         f"{', '.join(VERSIONS)} are.", code="sierra_unsupported")


def _layout(waveforms: Element, limits: Limits) -> tuple[list[str], float, int]:
    """Lead labels, sampling rate and samples per lead the file declares, checked before decoding (XLI inflates)."""
    try:
        count = int(waveforms.get("numberofleads") or 12)
        rate = float(waveforms.get("samplespersecond") or 0)
        duration = int(waveforms.get("durationperchannel") or 0)
    except ValueError:
        raise InvalidEcg("The Philips XML's waveform attributes are not numbers.", code="sierra_bad_xml")
    if not (math.isfinite(rate) and 0 < rate <= 20_000) or duration <= 0:
        raise InvalidEcg("The Philips XML declares no samples, or an implausible sampling rate.", code="ecg_no_samples")
    per_lead = int(round(min(duration, 3_600_000) * rate / 1000))  # past an hour it is too long anyway
    labels = (waveforms.get("leadlabels") or " ".join(SIERRA_12)).split()[:count]
    most = min(limits.max_ecg_samples, MAX_SAMPLES)
    if count * per_lead > most:
        raise InvalidEcg(f"The Philips XML claims {count * per_lead:,} samples; resting ECGs of up to {most:,} "
                         "(all leads) are read here.", code="ecg_too_long")
    if per_lead < 2 or not 0 < rate <= 20_000:
        raise InvalidEcg("The Philips XML declares no samples, or an implausible sampling rate.", code="ecg_no_samples")
    return labels, rate, per_lead


def _decode(waveforms: Element, labels: list[str], per_lead: int) -> list[np.ndarray]:
    """The leads' 16-bit values: XLI through sierraecg's decoder; uncompressed, split here (sierraecg 0.4's
    read_file writes into the read-only buffer of an uncompressed file)."""
    if (waveforms.get("dataencoding") or "Base64") != "Base64":
        raise InvalidEcg("The Philips XML's waveforms are not Base64.", code="sierra_unsupported")
    try:
        payload = base64.b64decode("".join((waveforms.text or "").split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidEcg("The Philips XML's waveforms are not valid Base64.", code="sierra_bad_waveform") from exc
    compression = waveforms.get("compressmethod") or waveforms.get("compression") or "Uncompressed"
    if compression == "Uncompressed":
        values = np.frombuffer(payload[:len(payload) // 2 * 2], dtype="<i2")
        return [values[i * per_lead:(i + 1) * per_lead] for i in range(len(labels))]
    if compression != "XLI":
        raise InvalidEcg(f"The Philips XML's compression {compression!r} is not one we read (XLI, Uncompressed).",
                         code="sierra_unsupported")
    try:  # chunk by chunk: the four limb leads an XLI file stores as residuals are not decoded at all
        out, offset = [], 0
        for label in labels:
            size = int.from_bytes(payload[offset:offset + 4], "little", signed=True)
            if size < 0 or offset + 8 + size > len(payload):
                raise ValueError("chunk outside the waveform data")
            chunk, offset = payload[offset:offset + 8 + size], offset + 8 + size
            out.append(_xli_lead(chunk, per_lead) if label in STORED else np.zeros(0, dtype=np.int16))
        return out
    except (ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
        raise InvalidEcg(f"The Philips XML's XLI waveforms cannot be decoded ({type(exc).__name__}).",
                         code="sierra_bad_waveform") from exc


def _xli_lead(chunk: bytes, per_lead: int) -> np.ndarray:
    """One lead's XLI chunk (8-byte header, LZW-coded deltas), decoded no further than the samples the file
    declares: LZW lets a few bytes stand for hundreds, so sierraecg's own xli_decode (which inflates the
    whole chunk into Python lists first) would let a small hostile file take gigabytes."""
    from sierraecg.lzw import LzwDecoder
    from sierraecg.xli import xli_decode_deltas

    size = int.from_bytes(chunk[0:4], "little", signed=True)
    start = int.from_bytes(chunk[6:8], "little", signed=True)
    decoder = LzwDecoder(chunk[8:8 + size], bits=10)
    most = 2 * (per_lead + XLI_SLACK)  # two bytes a sample; a real file's lead may run a few samples over
    buffer: list[int] = []
    while (byte := decoder.read()) != -1:
        if len(buffer) == most:
            raise ValueError("a lead longer than the file declares")
        buffer.append(byte & 0xFF)
    if len(buffer) % 2:
        buffer.append(0)
    return xli_decode_deltas(buffer, start)[:per_lead]


def _resolution(root: Element, waveforms: Element) -> float:
    """µV per unit: <signalcharacteristics><resolution>, else the waveforms' attribute (PageWriters write 5)."""
    characteristics = _first(root, "signalcharacteristics")
    children = list(characteristics) if characteristics is not None else []
    element = next((c for c in children if local_name(c.tag) == "resolution"), None)
    value = _number(element) or _number_text(waveforms.get("resolution"))
    if value is None or not 0 < value <= 1000:
        raise InvalidEcg("The Philips XML gives no plausible amplitude resolution (µV per unit).", code="ecg_bad_units")
    return value


def _number_text(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _text(root: Element, name: str) -> str:
    found = _first(root, name)
    return (found.text or "").strip() if found is not None else ""


def _first(root: Element, name: str) -> Element | None:
    return next((e for e in root.iter() if local_name(e.tag) == name), None)


def _number(element: Element | None, default: float | None = None) -> float | None:
    try:
        return float((element.text or "").strip()) if element is not None else default
    except ValueError:
        return default


def _statements(root: Element) -> list[str]:
    interpretation = _first(root, "interpretation")
    out = []
    found = interpretation.iter() if interpretation is not None else []
    for statement in [e for e in found if local_name(e.tag) == "statement"]:
        # the left statement is the finding; the right one its criteria ("normal P axis, V-rate 60-99")
        text = next(((c.text or "").strip() for c in statement if local_name(c.tag) == "leftstatement"), "")
        if text:
            out.append(text)
    return out
