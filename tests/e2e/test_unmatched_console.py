"""The township doctor's console: a study a modality sent for an unknown patient is listed, and filed
under the chosen patient and their consultation in one click."""
import pytest

from studies.models import ImagingStudy
from studies.services.ingest import Source, ingest_dicom_batch
from tests.e2e.conftest import login
from tests.studies.conftest import sample_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_township_doctor_files_an_unmatched_study_under_a_patient_and_consultation(
        people, community, patient_factory, consultation_factory, cardiology, open_page):
    # given a CT the township's modality sent for Patient ID 1CT1, unknown here, and a patient with a consultation
    ingest_dicom_batch(datas=[sample_bytes("CT_small.dcm")],
                       source=Source(by=None, organisation=community.township_a, interface="dicom"))
    doctor = people["township_doctor"]
    patient = patient_factory(home_clinic=community.village_a1, name="李秀英")
    consultation = consultation_factory(patient=patient, requesting_org=community.township_a, requested_by=doctor,
                                        specialty=cardiology)
    page = open_page("console")
    login(page, doctor.username)
    page.wait_for_selector("body[data-ready=true]")
    # then the study waits in the list with what the file says
    row = page.locator("#unmatched tr", has_text="1CT1")
    row.wait_for()
    # when the doctor finds the patient, picks the consultation and files the study
    page.fill("#patient-q", "李秀英")
    page.click("#patient-search button[type=submit]")
    page.locator("#patient-results button", has_text="李秀英").click()
    row.locator("select.unmatched-consultation").select_option(str(consultation.pk))
    row.locator("button", has_text="李秀英").click()
    # then it is filed there and leaves the list
    page.locator("#unmatched-status", has_text="李秀英").wait_for()
    page.locator("#unmatched tr", has_text="1CT1").wait_for(state="detached")
    study = ImagingStudy.objects.get()
    assert (study.patient_id, study.consultation_id) == (patient.pk, consultation.pk)
