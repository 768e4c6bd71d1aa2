"""From uploaded bytes to what ingest stores, through the formats library (no ORM here).

Format is detected by content only. Every failure is a studies.formats FormatError
(code + message for the uploader).
"""
import io
from dataclasses import dataclass, field

import numpy as np

from .formats import DicomIndex, Format, detect, index_dataset, read_dicom, sanitize_photo, sanitized_bytes
from .formats.dicom_header import index_dicom_header
from .formats.ecg import Ecg, read_aecg, read_csv_ecg, read_dicom_ecg, read_edf, read_muse, read_scp, read_sierra, read_wfdb_zip
from .formats.ecg.measure import CriticalThresholds, analyse_ecg
from .formats.errors import FormatError, MeasurementError, UnsupportedFormat
from .formats.limits import Limits

ECG_SOP_PREFIX = "1.2.840.10008.5.1.4.1.1.9."  # waveform storage SOP classes (12-lead, general, ...)


@dataclass
class ParsedEcg:
    ecg: Ecg
    computed: dict = field(default_factory=dict)
    measurement_error: str = ""
    critical: list[dict] = field(default_factory=list)
    statements: list[dict] = field(default_factory=list)  # preliminary, computed: [{code, zh, en, values, source}]


@dataclass
class ParsedDicom:
    index: DicomIndex
    stored_bytes: bytes  # preamble zeroed
    ecg: ParsedEcg | None = None


@dataclass
class ParsedOther:
    format: Format
    stored_bytes: bytes
    media_type: str = ""
    ecg: ParsedEcg | None = None


def parse_upload(data: bytes, *, kind: str, limits: Limits, thresholds: CriticalThresholds,
                 sex: str = "") -> ParsedDicom | ParsedOther:
    """`sex`: the patient's, when the upload names them (an ECG's QTc is judged by it)."""
    fmt = detect(data, limits=limits)
    if kind == "photo" and fmt not in (Format.JPEG, Format.PNG):
        raise UnsupportedFormat("This upload was sent as a photo but is not a JPEG or PNG image.", code="not_a_photo")
    if kind == "ecg" and fmt in (Format.JPEG, Format.PNG):
        raise UnsupportedFormat("A photo of an ECG is a photo: send it with kind 'photo', or send the "
                                "machine's file (DICOM, HL7 aECG, GE MUSE XML, WFDB, EDF, CSV).", code="not_an_ecg")
    if fmt == Format.DICOM:
        return parse_dicom(data, limits=limits, thresholds=thresholds, sex=sex)
    if fmt in (Format.JPEG, Format.PNG):
        clean, media_type = sanitize_photo(data, limits=limits)
        return ParsedOther(format=fmt, stored_bytes=clean, media_type=media_type)
    reader = {Format.AECG: read_aecg, Format.WFDB: read_wfdb_zip, Format.CSV: read_csv_ecg, Format.EDF: read_edf,
              Format.MUSE: read_muse, Format.SIERRA: read_sierra, Format.SCP: read_scp}[fmt]
    ecg = reader(data, limits=limits)
    return ParsedOther(format=fmt, stored_bytes=data, ecg=measure(ecg, thresholds, sex=sex))


def parse_dicom(data: bytes, *, limits: Limits, thresholds: CriticalThresholds | None = None,
                measure_ecg: bool = True, sex: str = "") -> ParsedDicom:
    """`sex`: the patient's when known here; else the file's PatientSex judges an ECG's QTc."""
    index = index_dicom_header(data, limits=limits)  # one pass over the header; None: the full read decides
    ds = None
    if index is None:
        ds = read_dicom(data, limits=limits)
        index = index_dataset(ds)
    parsed = ParsedDicom(index=index, stored_bytes=sanitized_bytes(data, limits=limits))
    if index.has_waveform and index.sop_class_uid.startswith(ECG_SOP_PREFIX) and measure_ecg:
        ds = ds if ds is not None else read_dicom(data, limits=limits)
        parsed.ecg = measure(read_dicom_ecg(ds, limits=limits), thresholds or CriticalThresholds(),
                             sex=sex or (index.patient_sex or "").strip().upper()[:1])
    return parsed


def measure(ecg: Ecg, thresholds: CriticalThresholds, *, sex: str = "") -> ParsedEcg:
    """Computed intervals, rhythm statements and critical findings; a record that cannot be measured is still stored."""
    try:
        analysis = analyse_ecg(ecg, thresholds=thresholds, sex=sex)
    except MeasurementError as exc:
        return ParsedEcg(ecg=ecg, measurement_error=exc.message)
    return ParsedEcg(ecg=ecg, computed=analysis.computed.as_dict(),
                     critical=[{"code": f.code, "message": f.message} for f in analysis.critical],
                     statements=[s.as_dict() for s in analysis.statements])


def ecg_to_npz(ecg: Ecg) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, sampling_rate=np.float64(ecg.sampling_rate),
                        **{f"lead_{i}": ecg.leads[name] for i, name in enumerate(ecg.lead_names)})
    return buffer.getvalue()


def ecg_from_npz(data: bytes, *, lead_names: list[str], source_format: str, device_measurements: dict,
                 device_statements: list) -> Ecg:
    with np.load(io.BytesIO(data)) as archive:
        leads = {name: archive[f"lead_{i}"] for i, name in enumerate(lead_names)}
        rate = float(archive["sampling_rate"])
    return Ecg(leads=leads, sampling_rate=rate, source_format=source_format,
               device_measurements=device_measurements, device_statements=device_statements)


__all__ = ["FormatError", "ParsedDicom", "ParsedEcg", "ParsedOther", "ecg_from_npz", "ecg_to_npz", "parse_dicom",
           "parse_upload"]
