"""ECG records: an ECG parsed from a file or arrived as samples (a live stream), stored with its measurements;
critical findings raise the consultation to stat (consult audits it once)."""
from audit.services import audit_record
from consult.locks import lock_consultation
from consult.services import do_raise_to_stat
from directory.models import Patient

from ..errors import InvalidStudy
from ..models import EcgRecord, Instance, Upload
from ..parsing import ParsedEcg, ecg_to_npz, measure
from . import notify
from .sources import SYSTEM, Source, patient_sex, thresholds
from .storage import FileBatch, new_name


def store_ecg(*, parsed: ParsedEcg, original: bytes | None, source: Source, files: FileBatch,
              upload: Upload | None = None, instance: Instance | None = None) -> EcgRecord:
    patient = source.patient or (source.consultation.patient if source.consultation else None)
    if patient is None:
        raise InvalidStudy("An ECG must be uploaded for a patient or within a consultation.", code="patient_unknown")
    ecg = parsed.ecg
    samples_name = new_name("ecg", "npz")
    original_name = new_name("ecg-original", ecg.source_format) if original is not None else ""
    record = EcgRecord.objects.create(
        patient=patient, consultation=source.consultation, upload=upload, instance=instance,
        source_format=ecg.source_format, sampling_rate=ecg.sampling_rate, lead_names=ecg.lead_names,
        derived_leads=list(ecg.derived_leads), n_samples=ecg.n_samples, samples_file=samples_name,
        original_file=original_name, device_measurements=ecg.device_measurements,
        device_statements=ecg.device_statements, computed_measurements=parsed.computed,
        computed_statements=parsed.statements,
        measurement_error=parsed.measurement_error[:255], critical_findings=parsed.critical)
    if parsed.critical and source.consultation is not None:
        raise_to_stat(source.consultation.pk, record)
    files.write(samples_name, ecg_to_npz(ecg))
    if original is not None:
        files.write(original_name, original)
    return record


def ecg_measure(ecg, *, patient: Patient | None = None) -> ParsedEcg:
    """Computed measurements and critical findings of an ECG that arrived as samples, not as a file."""
    return measure(ecg, thresholds(), sex=patient_sex(patient))


def ecg_signal_store(*, parsed: ParsedEcg, source: Source, files: FileBatch) -> EcgRecord:
    """Store an ECG that arrived as samples (a live stream in a room) like an uploaded one: the same
    record, critical findings raising the consultation to stat, the expert told (on commit).
    Call inside transaction.atomic, with `files` from files_or_nothing around it."""
    record = store_ecg(parsed=parsed, original=None, source=source, files=files)
    audit_record(actor=source.by or SYSTEM, action="create", obj=record, interface=source.interface,
                 detail={"from": parsed.ecg.source_format})
    notify.study_ready(record)
    return record


def raise_to_stat(consultation_id: int, record: EcgRecord) -> None:
    """Critical findings make the consultation stat (consult audits it once; scheduling reacts)."""
    do_raise_to_stat(consultation=lock_consultation(consultation_id), reason="critical_ecg", by=SYSTEM,
                     interface="worker",
                     detail={"ecg": record.pk, "findings": [f["code"] for f in record.critical_findings]})
