"""Tell people a study is ready to read, and route the consultation to an expert.

`study_ready` is called inside the ingest transaction, so every event (and every offer the
scheduling app makes) goes out only on commit. Routing: a critical ECG raised the consultation
to stat when it was stored (ingest.store_ecg -> consult's do_raise_to_stat, to which scheduling
reacts); any other study sends consult's `study_arrived`, to which scheduling reacts by offering
a requested async consultation nobody holds to an on-duty expert.
"""
from consult import signals
from consult.models import Consultation
from teleclinic.events import send_event_on_commit, send_events_on_commit

from ..models import EcgRecord, ImagingStudy


def study_ready(study_or_ecg: ImagingStudy | EcgRecord, consultation: Consultation | None = None) -> None:
    """`consultation`: the one it was sent within, if not the one it is filed under (a study linked to a
    second consultation of its patient, models.StudyLink)."""
    recipients = _recipients(study_or_ecg, consultation)
    if recipients:
        send_event_on_commit(user_ids=sorted(recipients), payload=_payload(study_or_ecg, consultation))
    _route(study_or_ecg, consultation)


def studies_ready(items: list[ImagingStudy | EcgRecord], consultation: Consultation | None = None) -> None:
    """study_ready for every new study (and DICOM ECG) of one batch; their events go out together."""
    send_events_on_commit(events=[(sorted(_recipients(item, consultation)), _payload(item, consultation))
                                  for item in items])
    for item in items:
        _route(item, consultation)


def _of(study_or_ecg: ImagingStudy | EcgRecord, consultation: Consultation | None) -> Consultation | None:
    if isinstance(study_or_ecg, ImagingStudy) and consultation is not None:
        return consultation
    return study_or_ecg.consultation


def _recipients(study_or_ecg: ImagingStudy | EcgRecord, consultation: Consultation | None = None) -> set[int]:
    consultation = _of(study_or_ecg, consultation)
    recipients = set()
    if consultation is not None and consultation.assigned_expert_id is not None:
        recipients.add(consultation.assigned_expert.user_id)
    upload = getattr(study_or_ecg, "upload", None) if isinstance(study_or_ecg, EcgRecord) else None
    if upload is not None:
        recipients.add(upload.owner_id)
    elif consultation is not None:
        recipients.add(consultation.requested_by_id)
    return recipients


def _route(study_or_ecg: ImagingStudy | EcgRecord, consultation: Consultation | None = None) -> None:
    """Call inside the storing transaction."""
    consultation = _of(study_or_ecg, consultation)
    critical = isinstance(study_or_ecg, EcgRecord) and bool(study_or_ecg.critical_findings)
    if consultation is not None and not critical:
        signals.study_arrived.send(sender=Consultation, consultation=consultation)


def _payload(item, consultation: Consultation | None = None) -> dict:
    if isinstance(item, EcgRecord):
        return {"type": "study.ready", "kind": "ecg", "ecg": item.pk, "patient": item.patient_id,
                "consultation": item.consultation_id, "critical": [f["code"] for f in item.critical_findings],
                "url": f"/api/ecgs/{item.pk}/"}
    return {"type": "study.ready", "kind": "dicom", "study": item.pk, "study_instance_uid": item.study_instance_uid,
            "patient": item.patient_id, "consultation": getattr(_of(item, consultation), "pk", None),
            "url": f"/api/imaging-studies/{item.pk}/"}
