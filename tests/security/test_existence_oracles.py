"""Finding 8 (low): existence oracles. Registering another clinic's health-record number answered
`duplicate_record`, and an upload naming another clinic's patient answered `patient_out_of_reach`: both
told a caller that a patient they may not see exists. A record number is now the clinic's own (unique
within the clinic), and an out-of-reach Patient ID answers as an unknown one does."""
import pytest
from rest_framework.test import APIClient

from directory.models import Patient

pytestmark = pytest.mark.django_db


def register(user, **body):
    client = APIClient()
    client.force_authenticate(user)
    return client.post("/api/patients/", {"name": "王芳", "sex": "F", "birth_date": "1970-05-01", **body},
                       format="json")


def test_another_clinics_record_number_tells_nothing_and_registers(people, patient_factory, community):
    # given a patient of another township's clinic with record number H-0007
    hidden = patient_factory(home_clinic=community.village_b1, health_record_no="H-0007")
    # when a village doctor registers a patient under the same number in their own clinic
    response = register(people["village_doctor"], health_record_no="H-0007")
    # then it is registered as any unused number would be: nothing says another clinic uses it
    assert response.status_code == 201, response.content
    mine = Patient.objects.get(pk=response.json()["id"])
    assert mine.home_clinic_id == community.village_a1.pk and mine.health_record_no == "H-0007"
    assert Patient.objects.get(pk=hidden.pk).home_clinic_id == community.village_b1.pk


def test_the_same_number_twice_in_one_clinic_is_still_refused(people):
    assert register(people["village_doctor"], health_record_no="H-0008").status_code == 201
    response = register(people["village_doctor"], health_record_no="H-0008", name="李强", sex="M")
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_record"
    assert Patient.objects.filter(health_record_no="H-0008").count() == 1


@pytest.mark.parametrize("number_holder", ["nobody", "a patient of another township"])
def test_an_upload_naming_an_out_of_reach_patient_answers_as_one_naming_nobody(number_holder, tus_client, people,
                                                                             patient_factory, community, settings,
                                                                             tmp_path):
    from studies.models import ImagingStudy
    from tests.studies.test_ingest import sample_bytes, upload_and_ingest

    settings.MEDIA_ROOT = tmp_path
    if number_holder != "nobody":  # CT_small.dcm's Patient ID is 1CT1
        patient_factory(home_clinic=community.village_b1, health_record_no="1CT1")
    # when the village doctor uploads the CT without a consultation
    upload = upload_and_ingest(tus_client, people["village_doctor"], sample_bytes("CT_small.dcm"))
    # then, whoever holds the number, it waits unmatched in the doctor's clinic with no error code
    assert (upload.state, upload.error_code, upload.result.get("unmatched")) == ("ingested", "", True)
    study = ImagingStudy.objects.get()
    assert study.patient_id is None and study.organisation_id == community.village_a1.pk
