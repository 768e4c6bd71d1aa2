"""factory_boy factories for records: break-glass grants and studies attached to a later consultation."""
import datetime as dt

import factory
from django.utils import timezone

from directory.models import User
from records.models import AttachedStudy, BreakGlassGrant

from . import ConsultationFactory, PatientFactory, UserFactory
from .studies import EcgRecordFactory


class BreakGlassGrantFactory(factory.django.DjangoModelFactory):
    """An expert's emergency read of a patient's record, open for the next hour."""

    class Meta:
        model = BreakGlassGrant

    user = factory.SubFactory(UserFactory, role=User.Role.EXPERT)
    patient = factory.SubFactory(PatientFactory)
    reason = "急诊抢救，需查阅既往心电图"
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(hours=1))


class AttachedStudyFactory(factory.django.DjangoModelFactory):
    """An earlier ECG of the patient attached to a later consultation (检查结果互认)."""

    class Meta:
        model = AttachedStudy

    consultation = factory.SubFactory(ConsultationFactory)
    ecg = factory.SubFactory(EcgRecordFactory, patient=factory.SelfAttribute("..consultation.patient"),
                             consultation=None)
    attached_by = factory.SelfAttribute("consultation.requested_by")
