"""A patient of village A1 with a record across the community: fixtures shared by the records tests."""
import datetime as dt

import pytest

from consult.models import Consultation
from directory.models import User
from reports.models import Report, ReportVersion
from studies.models import EcgRecord, ImagingStudy
from tests.factories import ConsultationFactory, PatientFactory, SpecialtyFactory, UserFactory
from tests.factories.reports import DeliveryFactory, ReportVersionFactory
from tests.factories.studies import EcgRecordFactory, ImagingStudyFactory

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Asia/Shanghai; all times below are fixed


def at(days: float = 0, hours: float = 0) -> dt.datetime:
    return T0 + dt.timedelta(days=days, hours=hours)


def backdate(obj, **fields) -> None:
    type(obj).objects.filter(pk=obj.pk).update(**fields)
    obj.refresh_from_db()


@pytest.fixture
def record_patient(community):
    return PatientFactory(home_clinic=community.village_a1, name="孙秀兰", id_number="430521195603141234")


def make_ecg(patient, consultation, created_at) -> EcgRecord:
    ecg = EcgRecordFactory(patient=patient, consultation=consultation, samples_file="ecg/none.npz")
    backdate(ecg, created_at=created_at)
    return ecg


def make_study(patient, consultation, created_at, uid: str, description: str = "胸部CT") -> ImagingStudy:
    study = ImagingStudyFactory(study_instance_uid=uid, patient=patient, consultation=consultation,
                                organisation=consultation.requesting_org if consultation else None,
                                description=description)
    backdate(study, created_at=created_at)
    return study


def make_version(consultation, kind: str, number: int, signed_at, author, content=None) -> ReportVersion:
    report, _ = Report.objects.get_or_create(consultation=consultation, kind=kind,
                                             defaults=dict(author=author, state=Report.State.SIGNED))
    version = ReportVersionFactory(report=report, number=number, content=content or {"conclusion": f"v{number}"},
                                   signed_by=author, signed_at=signed_at,
                                   verification_code=f"V{report.pk}-{number}-{consultation.pk}",
                                   amendment_reason="" if number == 1 else "补充")
    Report.objects.filter(pk=report.pk).update(latest_version=number)
    DeliveryFactory(version=version)  # to the consultation's requesting clinic
    return version


def consultation(patient, org, by, specialty, created_at, **extra) -> Consultation:
    c = ConsultationFactory(patient=patient, requesting_org=org, requested_by=by, specialty=specialty, **extra)
    backdate(c, created_at=created_at)
    return c


@pytest.fixture
def radiology(db):
    return SpecialtyFactory(code="radiology", name="放射科")


@pytest.fixture
def township_b_doctor(community):
    return UserFactory(username="tdoc-b", role=User.Role.TOWNSHIP_DOCTOR, organisation=community.township_b)
