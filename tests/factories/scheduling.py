"""factory_boy factories for scheduling: rosters, sessions and slots, bookings, on-call shifts, offers, referrals."""
import datetime as dt

import factory
from django.utils import timezone

from directory.models import User
from scheduling.models import (Assignment, Booking, CloudClinicSession, FollowUpTask, OnCallShift, Referral,
                               Roster, Slot)

from . import (ConsultationFactory, ExpertFactory, OrganisationFactory, PatientFactory, SpecialtyFactory,
               UserFactory)


class RosterFactory(factory.django.DjangoModelFactory):
    """A weekly clinic: Monday to Friday mornings, four 15-minute slots."""

    class Meta:
        model = Roster

    expert = factory.SubFactory(ExpertFactory)
    specialty = factory.SubFactory(SpecialtyFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    weekdays = [1, 2, 3, 4, 5]
    start_time = dt.time(9, 0)
    end_time = dt.time(10, 0)
    slot_minutes = 15
    capacity = 4
    valid_from = factory.LazyFunction(lambda: timezone.localdate())
    created_by = factory.SubFactory(UserFactory, role=User.Role.COORDINATOR)


class CloudClinicSessionFactory(factory.django.DjangoModelFactory):
    """One session of a roster, tomorrow at this hour, for an hour."""

    class Meta:
        model = CloudClinicSession

    roster = factory.SubFactory(RosterFactory)
    expert = factory.SelfAttribute("roster.expert")
    specialty = factory.SelfAttribute("roster.specialty")
    organisation = factory.SelfAttribute("roster.organisation")
    starts_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=1))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + dt.timedelta(hours=1))


class SlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Slot

    session = factory.SubFactory(CloudClinicSessionFactory)
    starts_at = factory.SelfAttribute("session.starts_at")
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + dt.timedelta(minutes=15))


class BookingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Booking

    slot = factory.SubFactory(SlotFactory)
    patient = factory.SubFactory(PatientFactory)
    booked_by = factory.SubFactory(UserFactory)
    booked_org = factory.SelfAttribute("patient.home_clinic")


class OnCallShiftFactory(factory.django.DjangoModelFactory):
    """On duty now: from an hour ago for nine hours."""

    class Meta:
        model = OnCallShift

    expert = factory.SubFactory(ExpertFactory)
    specialty = factory.SubFactory(SpecialtyFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + dt.timedelta(hours=9))


class AssignmentFactory(factory.django.DjangoModelFactory):
    """An offer of a consultation to an expert, open for ten more minutes."""

    class Meta:
        model = Assignment

    consultation = factory.SubFactory(ConsultationFactory)
    expert = factory.SubFactory(ExpertFactory)
    status = Assignment.Status.OFFERED
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(minutes=10))


class ReferralFactory(factory.django.DjangoModelFactory):
    """An upward referral from the patient's clinic to another organisation."""

    class Meta:
        model = Referral

    direction = Referral.Direction.UP
    state = Referral.State.REQUESTED
    patient = factory.SubFactory(PatientFactory)
    from_org = factory.SelfAttribute("patient.home_clinic")
    to_org = factory.SubFactory(OrganisationFactory)
    created_by = factory.SubFactory(UserFactory)


class FollowUpTaskFactory(factory.django.DjangoModelFactory):
    """One item of a downward referral's plan, due in a week at the patient's clinic."""

    class Meta:
        model = FollowUpTask

    referral = factory.SubFactory(ReferralFactory, direction=Referral.Direction.DOWN, state=Referral.State.SENT)
    patient = factory.SelfAttribute("referral.patient")
    organisation = factory.SelfAttribute("patient.home_clinic")
    title = "复查血压"
    due_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=7))
