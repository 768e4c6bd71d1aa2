"""A patient's record to search with FHIR: consultations on known dates, signed reports, a study,
a booking; and system clients registered the way an operator does (manage.py fhir_client)."""
import datetime as dt
import io
import re
from dataclasses import dataclass, field

import pytest
from django.core.management import call_command
from django.utils import timezone

from consult.models import Consultation
from reports.services import drafting
from scheduling.services import booking_create
from studies.models import EcgRecord, ImagingStudy, Series, StudyLink
from tests.scheduling.conftest import make_session

CONTENT = {
    "ecg": {"rhythm": "窦性心律", "findings": "ST 段抬高", "conclusion": "急性下壁心肌梗死可能", "recommendation": "转诊",
            "critical": False},
    "imaging": {"technique": "CT 平扫", "findings": "椎体形态正常", "impression": "未见明显异常", "critical": False},
}
MEASUREMENTS = {"heart_rate_bpm": 71.6, "pr_ms": 162.0, "qrs_ms": 94.0, "qt_ms": 384.0, "qtc_ms": 419.4,
                "qrs_axis_deg": 48.0}
TZ = dt.timezone(dt.timedelta(hours=8))


@dataclass
class Record:
    patient: object
    consultations: list = field(default_factory=list)
    versions: list = field(default_factory=list)  # the signed versions, one per consultation, oldest first
    study: object = None
    booking: object = None
    session: object = None


def sign(expert_user, consultation, kind, study_ref):
    report = drafting.report_start(consultation_id=consultation.pk, kind=kind, by=expert_user,
                                   study_ref=study_ref, measurements=MEASUREMENTS)
    drafting.draft_save(report_id=report.pk, by=expert_user, content=CONTENT[kind])
    return drafting.report_sign(report_id=report.pk, by=expert_user)


@pytest.fixture
def make_record(people, community, cardiology, patient_factory, consultation_factory):
    """make_record(n, clinic=village A1): a patient with n consultations asked on 2026-03-01, -02, ...
    (alternately ECG and imaging), each with a signed report, one CT study and one booking."""

    def make(n=5, clinic=None, name="王秀英", birth_date=dt.date(1956, 3, 14), id_number="430521195603141234"):
        clinic = clinic or community.village_a1
        patient = patient_factory(home_clinic=clinic, name=name, birth_date=birth_date, id_number=id_number)
        record = Record(patient)
        for i in range(n):
            consultation = consultation_factory(patient=patient, requested_by=people["village_doctor"],
                                                assigned_expert=people["expert"].expert, specialty=cardiology,
                                                state=Consultation.State.ASSIGNED)
            Consultation.objects.filter(pk=consultation.pk).update(
                created_at=dt.datetime(2026, 3, 1 + i, 9, 30, tzinfo=TZ))
            consultation.refresh_from_db()
            record.consultations.append(consultation)
        record.study = ImagingStudy.objects.create(
            study_instance_uid=f"1.2.826.0.1.{patient.pk}", patient=patient, consultation=record.consultations[-1],
            organisation=clinic, study_date=dt.date(2026, 3, 2), description="CT 胸部")
        Series.objects.create(series_instance_uid=f"1.2.826.0.1.{patient.pk}.1", study=record.study, modality="CT")
        for i, consultation in enumerate(record.consultations):
            kind = "ecg" if i % 2 == 0 else "imaging"
            record.versions.append(sign(people["expert"], consultation, kind, stored_ref(record, consultation, kind)))
        record.session = make_session(people["expert"], cardiology,
                                      starts_at=(timezone.now() + dt.timedelta(days=10)).replace(microsecond=0),
                                      slots=2)
        record.booking = booking_create(slot_id=record.session.slots.order_by("starts_at").first().pk,
                                        patient_id=patient.pk,
                                        by=people["village_doctor"])
        return record

    return make


def stored_ref(record, consultation, kind: str) -> str:
    """What each report names, stored as reports require (issue 12): an ECG record row of the consultation,
    or the record's one CT, read in this consultation through a study link (no second study to search)."""
    if kind == "ecg":
        ecg = EcgRecord.objects.create(patient=record.patient, consultation=consultation, source_format="csv",
                                       sampling_rate=500, lead_names=["I", "II"], n_samples=5000,
                                       samples_file="ecg/none.npz")
        return f"ecg:{ecg.pk}"
    if record.study.consultation_id != consultation.pk:
        StudyLink.objects.create(study=record.study, consultation=consultation)
    return f"dicom:{record.study.study_instance_uid}"


def register_client(organisation_code: str, name: str = "县医院 HIS") -> tuple[str, str]:
    """Registers a client with the management command and reads its id and secret from what it prints."""
    out = io.StringIO()
    call_command("fhir_client", organisation_code, name, stdout=out)
    printed = out.getvalue()
    return (re.search(r"client_id=(\S+)", printed).group(1), re.search(r"client_secret=(\S+)", printed).group(1))
