"""Reconciliation: a study that arrived for a patient nobody here knows (a modality's own Patient ID)
waits in its sending organisation's unmatched list; its staff file it under a patient, audited, and
with a consultation it goes on to be read like any uploaded study (notify routes it to an expert).
"""
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from consult.models import Consultation
from consult.selectors import consultation_get
from directory.access import CHANGE, scoped
from directory.models import User
from directory.selectors import patient_get

from ..errors import Conflict, InvalidInput, InvalidStudy, NotFound
from ..formats.errors import FormatError
from ..models import EcgRecord, ImagingStudy, Instance
from ..parsing import ECG_SOP_PREFIX, parse_dicom
from . import notify
from .ecg_store import store_ecg
from .sources import Source, limits, thresholds
from .storage import FileBatch, files_or_nothing, media_path


def study_match(*, by: User, study_id: int, patient_id: int, consultation_id: int | None = None,
                request=None) -> ImagingStudy:
    """File an unmatched study under a patient the caller may change (and one of their consultations).

    409 if someone matched it first; the DICOM ECGs in it become ECG records now, and with a
    consultation the study is ready to read (an async one is offered to an on-call expert).
    """
    with files_or_nothing() as files, transaction.atomic():
        study = _unmatched_for_update(by, study_id)
        patient = patient_get(user=by, patient_id=patient_id, request=request, action=CHANGE)
        consultation = None
        if consultation_id is not None:
            consultation = consultation_get(user=by, consultation_id=consultation_id, request=request, action=CHANGE)
            if consultation.patient_id != patient.pk:
                raise InvalidInput("The consultation is another patient's.", code="consultation_patient_mismatch")
        study.patient, study.consultation, study.matched_at = patient, consultation, timezone.now()
        study.save(update_fields=["patient", "consultation", "matched_at"])
        audit_record(actor=by, action="update", obj=study, interface="api", request=request,
                     consultation_id=consultation_id,
                     detail={"matched": {"patient": patient.pk, "consultation": consultation_id},
                             "dicom_patient": {"id": study.dicom_patient_id, "name": study.dicom_patient_name,
                                               "birth_date": str(study.dicom_patient_birth_date or ""),
                                               "sex": study.dicom_patient_sex}})
        ecgs = _ecgs_of(study, by=by, consultation=consultation, files=files)
        if consultation is not None:
            notify.studies_ready(ecgs or [study])
    return study


def _unmatched_for_update(by: User, study_id) -> ImagingStudy:
    """The study, row-locked, if the caller may change it (studies.scopes); 409 once it has a patient."""
    try:
        study = ImagingStudy.objects.select_for_update().get(
            pk__in=scoped(by, ImagingStudy.objects.filter(pk=study_id), CHANGE).values("pk"))
    except (ImagingStudy.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such unmatched study in your reach.")
    if study.patient_id is not None:
        raise Conflict("This study has been matched already.", code="already_matched")
    return study


def _ecgs_of(study: ImagingStudy, *, by: User, consultation: Consultation | None, files: FileBatch) -> list[EcgRecord]:
    """ECG records for the study's DICOM waveforms, as ingest makes them for a known patient."""
    records = []
    source = Source(by=by, organisation=study.organisation, consultation=consultation, patient=study.patient)
    for instance in study_instances_without_ecg(study):
        try:
            parsed = parse_dicom(media_path(instance.file).read_bytes(), limits=limits(), thresholds=thresholds(),
                                 sex=study.patient.sex if study.patient else "")
        except FormatError as exc:
            raise InvalidStudy(exc.message, code=exc.code)
        if parsed.ecg is not None:
            records.append(store_ecg(parsed=parsed.ecg, original=None, source=source, files=files, instance=instance))
    return records


def study_instances_without_ecg(study: ImagingStudy):
    return Instance.objects.filter(series__study=study, sop_class_uid__startswith=ECG_SOP_PREFIX, ecg__isnull=True)
