"""Tell people a study is ready to read: the consultation's assigned expert (if any) and the uploader.

`study_ready` is the one hook the scheduling app's assignment service connects to at merge
time (assign the consultation to an on-duty expert, then notify); it is called inside the
ingest transaction, so every event goes out only on commit.
"""
from teleclinic.events import send_event_on_commit

from ..models import EcgRecord, ImagingStudy


def study_ready(study_or_ecg: ImagingStudy | EcgRecord) -> None:
    consultation = study_or_ecg.consultation
    recipients = set()
    if consultation is not None and consultation.assigned_expert_id is not None:
        recipients.add(consultation.assigned_expert.user_id)
    upload = getattr(study_or_ecg, "upload", None) if isinstance(study_or_ecg, EcgRecord) else None
    if upload is not None:
        recipients.add(upload.owner_id)
    elif consultation is not None:
        recipients.add(consultation.requested_by_id)
    if not recipients:
        return
    send_event_on_commit(user_ids=sorted(recipients), payload=_payload(study_or_ecg))


def _payload(item) -> dict:
    if isinstance(item, EcgRecord):
        return {"type": "study.ready", "kind": "ecg", "ecg": item.pk, "patient": item.patient_id,
                "consultation": item.consultation_id, "critical": [f["code"] for f in item.critical_findings],
                "url": f"/api/ecgs/{item.pk}/"}
    return {"type": "study.ready", "kind": "dicom", "study": item.pk, "study_instance_uid": item.study_instance_uid,
            "patient": item.patient_id, "consultation": item.consultation_id, "url": f"/api/imaging-studies/{item.pk}/"}
