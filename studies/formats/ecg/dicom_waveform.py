"""ECG from a DICOM waveform object (12-lead ECG, General ECG, ...)."""
import numpy as np
from pydicom.dataset import Dataset

from ..dicom import read_dicom
from ..errors import FormatError, InvalidEcg
from ..limits import DEFAULT_LIMITS, Limits
from .model import Ecg, build_ecg, measurement_key, unit_factor, vendor_of


def read_dicom_ecg(data: bytes | Dataset, *, limits: Limits = DEFAULT_LIMITS) -> Ecg:
    ds = data if isinstance(data, Dataset) else read_dicom(data, limits=limits)
    index, group = _rhythm_group(ds)
    channels = int(group.NumberOfWaveformChannels)
    samples = int(group.NumberOfWaveformSamples)
    if channels * samples > limits.max_ecg_samples:
        raise InvalidEcg("The ECG is too long to read here.", code="ecg_too_long")
    try:
        values = ds.waveform_array(index)  # sensitivity, correction and baseline applied
    except Exception as exc:
        raise InvalidEcg(f"The ECG waveform data is damaged ({type(exc).__name__}: {str(exc)[:120]}).",
                         code="ecg_bad_samples") from exc
    definitions = list(group.ChannelDefinitionSequence)
    if len(definitions) != values.shape[1]:
        raise InvalidEcg("The ECG channel definitions do not match its data.", code="ecg_bad_channels")
    factors = np.array([_channel_factor(d) for d in definitions])
    measurements, statements = _annotations(ds, vendor_of(str(ds.get("Manufacturer", "") or "")))
    return build_ecg(
        names=[_channel_name(d, i) for i, d in enumerate(definitions)],
        microvolts=np.asarray(values, dtype=np.float64) * factors,
        sampling_rate=float(group.SamplingFrequency),
        source_format="dicom",
        device_measurements=measurements,
        device_statements=statements,
    )


def _rhythm_group(ds: Dataset) -> tuple[int, Dataset]:
    groups = list(ds.get("WaveformSequence") or [])
    if not groups:
        raise InvalidEcg("This DICOM file holds no waveform: it is not an ECG.", code="ecg_no_waveform")
    # The ORIGINAL multiplex group is the rhythm; DERIVED ones are e.g. the median beat.
    for i, group in enumerate(groups):
        if str(group.get("WaveformOriginality", "")).upper() == "ORIGINAL":
            return i, group
    return 0, groups[0]


def _channel_name(definition: Dataset, position: int) -> str:
    source = definition.get("ChannelSourceSequence")
    if source and source[0].get("CodeMeaning"):
        return str(source[0].CodeMeaning)
    return str(definition.get("ChannelLabel") or f"channel {position + 1}")


def _channel_factor(definition: Dataset) -> float:
    units = definition.get("ChannelSensitivityUnitsSequence")
    if not units:
        return 1.0  # PS3.3 defaults to the stored values being in the sensitivity's units; assume uV
    code = str(units[0].get("CodeValue") or units[0].get("CodeMeaning") or "uV")
    try:
        return unit_factor(code)
    except FormatError:
        return unit_factor(str(units[0].get("CodeMeaning") or "uV"))


def _annotations(ds: Dataset, vendor: str) -> tuple[dict[str, float], list[str]]:
    """Statements, and numeric measurements under our key (the vendor's table) or else their own name."""
    measurements: dict[str, float] = {}
    statements: list[str] = []
    for item in ds.get("WaveformAnnotationSequence") or []:
        text = item.get("UnformattedTextValue")
        if text:
            statements.append(str(text).strip())
            continue
        concept = item.get("ConceptNameCodeSequence")
        value = item.get("NumericValue")
        if not concept or value in (None, ""):
            continue
        meaning = str(concept[0].get("CodeMeaning", "")).strip()
        key = measurement_key(meaning, vendor) or meaning[:64]
        try:
            number = float(value[0] if isinstance(value, list) else value)
        except (TypeError, ValueError):
            continue
        if key and key not in measurements and (number != 0 or key.endswith("_deg")):
            measurements[key] = number  # 0 ms means "not measured" on these devices
    return measurements, statements
