"""factory_boy factories for studies: imaging studies, series and instances, ECG records, photos, uploads.

Rows only: the files they name are not written (tests that read a study's bytes ingest a real file instead).
"""
import datetime as dt

import factory
from django.utils import timezone

from studies.models import EcgRecord, ImagingStudy, Instance, Photo, Series, Upload

from . import ConsultationFactory, UserFactory


class ImagingStudyFactory(factory.django.DjangoModelFactory):
    """A study filed under a consultation's patient."""

    class Meta:
        model = ImagingStudy

    study_instance_uid = factory.Sequence(lambda n: f"1.2.826.0.1.3680043.10.1.{n}")
    consultation = factory.SubFactory(ConsultationFactory)
    patient = factory.SelfAttribute("consultation.patient")
    organisation = factory.SelfAttribute("consultation.requesting_org")
    description = "胸部CT"


class SeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Series

    series_instance_uid = factory.Sequence(lambda n: f"1.2.826.0.1.3680043.10.2.{n}")
    study = factory.SubFactory(ImagingStudyFactory)
    modality = "CT"


class InstanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instance

    sop_instance_uid = factory.Sequence(lambda n: f"1.2.826.0.1.3680043.10.3.{n}")
    series = factory.SubFactory(SeriesFactory)
    file = factory.Sequence(lambda n: f"dicom/factory-{n}.dcm")
    size = 1024


class EcgRecordFactory(factory.django.DjangoModelFactory):
    """An ECG of two leads, ten seconds at 500 Hz, with no critical finding."""

    class Meta:
        model = EcgRecord

    consultation = factory.SubFactory(ConsultationFactory)
    patient = factory.SelfAttribute("consultation.patient")
    source_format = "csv"
    sampling_rate = 500
    lead_names = ["I", "II"]
    n_samples = 5000
    samples_file = factory.Sequence(lambda n: f"ecg/factory-{n}.npz")


class PhotoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Photo

    consultation = factory.SubFactory(ConsultationFactory)
    patient = factory.SelfAttribute("consultation.patient")
    file = factory.Sequence(lambda n: f"photo/factory-{n}.jpg")
    media_type = "image/jpeg"
    size = 2048


class UploadFactory(factory.django.DjangoModelFactory):
    """A tus upload just created: nothing received yet."""

    class Meta:
        model = Upload

    owner = factory.SubFactory(UserFactory)
    length = 1024
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=1))
