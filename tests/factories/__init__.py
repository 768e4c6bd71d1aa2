"""factory_boy factories for the directory and consultations (exposed as fixtures in conftest); those of the
other apps are in the modules named after them (scheduling, studies, reports, live, records, audit)."""
import datetime as dt

import factory

from consult.models import Consultation
from directory.models import Expert, Organisation, Patient, Specialty, User


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"org-{n}")
    name = factory.Sequence(lambda n: f"机构{n}")
    kind = Organisation.Kind.VILLAGE_CLINIC


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"用户{n}")
    role = User.Role.VILLAGE_DOCTOR
    password = factory.django.Password("pw-123456")


class SpecialtyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Specialty
        django_get_or_create = ("code",)

    code = "cardiology"
    name = "心血管内科"


class ExpertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Expert
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, role=User.Role.EXPERT)
    title = "主任医师"

    @factory.post_generation
    def specialties(self, create, extracted, **kwargs):
        if create and extracted:
            self.specialties.set(extracted)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    name = factory.Sequence(lambda n: f"患者{n}")
    sex = Patient.Sex.FEMALE
    birth_date = dt.date(1956, 3, 14)
    phone = "13800000000"
    id_number = "430521195603141234"
    home_clinic = factory.SubFactory(OrganisationFactory)
    health_record_no = factory.Sequence(lambda n: f"HR-{n:06d}")


class ConsultationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consultation

    patient = factory.SubFactory(PatientFactory)
    requesting_org = factory.SelfAttribute("patient.home_clinic")
    requested_by = factory.SubFactory(UserFactory)
    specialty = factory.SubFactory(SpecialtyFactory)
    reason = "胸闷三天"
