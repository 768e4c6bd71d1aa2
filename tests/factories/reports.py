"""factory_boy factories for reports: reports, signed versions and their deliveries, phrases, QC samples.

Rows only (no PDF rendered, no event sent): tests of signing call reports.services.drafting instead.
"""
import factory
from django.utils import timezone

from directory.models import User
from reports.models import Delivery, Phrase, QualitySample, Report, ReportVersion

from . import ConsultationFactory, ExpertFactory, UserFactory


class ReportFactory(factory.django.DjangoModelFactory):
    """A consultation report in draft, by an expert."""

    class Meta:
        model = Report

    consultation = factory.SubFactory(ConsultationFactory)
    kind = Report.Kind.CONSULTATION
    author = factory.SubFactory(UserFactory, role=User.Role.EXPERT)


class ReportVersionFactory(factory.django.DjangoModelFactory):
    """Version 1 of a report, signed now by its author (the report's own state is left to the caller)."""

    class Meta:
        model = ReportVersion

    report = factory.SubFactory(ReportFactory)
    number = 1
    content = factory.LazyAttribute(lambda o: {"conclusion": f"v{o.number}"})
    signed_by = factory.SelfAttribute("report.author")
    signed_at = factory.LazyFunction(timezone.now)
    verification_code = factory.Sequence(lambda n: f"F{n:011d}")


class DeliveryFactory(factory.django.DjangoModelFactory):
    """A signed version's delivery to the requesting clinic, pending."""

    class Meta:
        model = Delivery

    version = factory.SubFactory(ReportVersionFactory)
    organisation = factory.SelfAttribute("version.report.consultation.requesting_org")


class PhraseFactory(factory.django.DjangoModelFactory):
    """An expert's own phrase for the conclusion of a consultation report."""

    class Meta:
        model = Phrase

    owner = factory.SubFactory(UserFactory, role=User.Role.EXPERT)
    kind = Report.Kind.CONSULTATION
    field = "conclusion"
    code = factory.Sequence(lambda n: f"p{n}")
    label = "窦性心律"
    text = "窦性心律，心电图未见明显异常。"


class QualitySampleFactory(factory.django.DjangoModelFactory):
    """A signed version drawn for a second read, not read yet."""

    class Meta:
        model = QualitySample

    version = factory.SubFactory(ReportVersionFactory)
    sampled_by = factory.SubFactory(UserFactory, role=User.Role.COORDINATOR)
    second_reader = factory.SubFactory(ExpertFactory)
