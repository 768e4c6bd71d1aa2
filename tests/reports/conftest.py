"""Fixtures of the reports tests: a consultation assigned to the expert, and report helpers."""
import uuid

import pytest

from consult.models import Consultation
from reports.services import drafting
from studies.models import ImagingStudy

from .realdata import stored_real_ecg_ref

MEASUREMENTS = {"heart_rate_bpm": 71.6, "pr_ms": 162.0, "qrs_ms": 94.0, "qt_ms": 384.0, "qtc_ms": 419.4,
                "qrs_axis_deg": 48.0}


@pytest.fixture
def assigned(people, community, patient_factory, consultation_factory):
    """A consultation from village A1's doctor, assigned to the cardiology expert."""

    def make(urgency="routine"):
        patient = patient_factory(home_clinic=community.village_a1, name="王秀英")
        return consultation_factory(patient=patient, requested_by=people["village_doctor"], urgency=urgency,
                                    assigned_expert=people["expert"].expert, state=Consultation.State.ASSIGNED,
                                    specialty__code="cardiology")

    return make


@pytest.fixture
def signed_report(people, assigned):
    """sign(kind, critical=...): a report started, filled in and signed by the assigned expert."""

    def sign(kind="ecg", critical=False, consultation=None, study_ref=None):
        consultation = consultation or assigned()
        expert = people["expert"]
        if study_ref is None and kind in ("ecg", "imaging"):
            study_ref = stored_study_ref(consultation, kind)
        report = drafting.report_start(consultation_id=consultation.pk, kind=kind, by=expert,
                                       study_ref=study_ref, measurements=MEASUREMENTS)
        drafting.draft_save(report_id=report.pk, by=expert, content=fill(kind, critical))
        return drafting.report_sign(report_id=report.pk, by=expert)

    return sign


def stored_study_ref(consultation, kind: str = "ecg") -> str:
    """A stored study of the consultation for a report to name: a real ECG record ("ecg:<id>", its samples
    written under MEDIA_ROOT), or an imaging study row ("dicom:<uid>", no instances)."""
    if kind == "ecg":
        return stored_real_ecg_ref(consultation)
    study = ImagingStudy.objects.create(study_instance_uid=f"1.2.826.0.1.3680043.{consultation.pk}.{uuid_int()}",
                                        patient=consultation.patient, consultation=consultation)
    return f"dicom:{study.study_instance_uid}"


def uuid_int() -> int:
    return uuid.uuid4().int % 10**12


def fill(kind: str, critical: bool = False) -> dict:
    return {
        "ecg": {"rhythm": "窦性心律", "findings": "II、III、aVF 导联 ST 段抬高", "conclusion": "急性下壁心肌梗死可能",
                "recommendation": "立即转诊", "critical": critical},
        "imaging": {"technique": "CT 平扫", "findings": "椎体形态正常", "impression": "未见明显异常", "critical": critical},
        "consultation": {"history_summary": "胸闷三天", "assessment": "稳定型心绞痛可能", "plan": "门诊随访",
                         "critical": critical},
    }[kind]
