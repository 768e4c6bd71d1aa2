"""Every app's factories (tests/factories/) build a saved row whose relations agree with each other."""
import pytest

from tests.factories import audit, live, records, reports, scheduling, studies

FACTORIES = [
    scheduling.RosterFactory, scheduling.CloudClinicSessionFactory, scheduling.SlotFactory,
    scheduling.BookingFactory, scheduling.OnCallShiftFactory, scheduling.AssignmentFactory,
    scheduling.ReferralFactory, scheduling.FollowUpTaskFactory,
    studies.ImagingStudyFactory, studies.SeriesFactory, studies.InstanceFactory, studies.EcgRecordFactory,
    studies.PhotoFactory, studies.UploadFactory,
    reports.ReportFactory, reports.ReportVersionFactory, reports.DeliveryFactory, reports.PhraseFactory,
    reports.QualitySampleFactory,
    live.RoomFactory, live.ParticipantFactory, live.JoinTokenFactory,
    records.BreakGlassGrantFactory, records.AttachedStudyFactory,
    audit.AuditEventFactory,
]


@pytest.mark.django_db
@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_each_factory_builds_a_saved_row(factory):
    # when a factory builds its row with nothing given
    row = factory()
    # then it is saved, and two of them are two rows
    assert row.pk is not None
    assert factory().pk != row.pk


@pytest.mark.django_db
def test_related_rows_agree_on_the_patient_and_the_clinic():
    # given rows built through several levels of sub-factories
    instance = studies.InstanceFactory()
    delivery = reports.DeliveryFactory()
    attached = records.AttachedStudyFactory()
    token = live.JoinTokenFactory()
    # then each names the same patient and clinic as the consultation it hangs on
    study = instance.series.study
    assert study.patient == study.consultation.patient
    assert delivery.organisation == delivery.version.report.consultation.requesting_org
    assert attached.ecg.patient == attached.consultation.patient
    assert token.patient == token.room.consultation.patient
