"""The reading page's list of a consultation's studies, and routing a ready study to an expert."""
import datetime as dt

import pytest

from audit.models import AuditEvent
from scheduling.models import Assignment
from studies.models import EcgRecord, Instance
from studies.services.ingest import ingest_upload
from tests.studies.conftest import sample_bytes, upload_id_of
from tests.factories.scheduling import OnCallShiftFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def on_call(people, cardiology):
    return OnCallShiftFactory(expert=people["expert"].expert, specialty=cardiology)


@pytest.fixture
def async_consultation(consultation_factory, community, people, cardiology):
    return consultation_factory(patient__home_clinic=community.village_a1, requested_by=people["village_doctor"],
                                requesting_org=community.village_a1, specialty=cardiology, mode="async",
                                urgency="routine")


def ingest(tus_client, user, name, **metadata):
    return ingest_upload(upload_id=upload_id_of(tus_client(user).send(sample_bytes(name), **metadata)))


def test_consultation_lists_its_ecg_and_ct_newest_first_and_audits_the_read(
        api, tus_client, people, async_consultation, on_call):
    # given an ECG and a CT uploaded in one consultation
    doctor = people["village_doctor"]
    ingest(tus_client, doctor, "waveform_ecg.dcm", consultation=async_consultation.pk)
    ingest(tus_client, doctor, "CT_small.dcm", consultation=async_consultation.pk)
    # when the requesting doctor lists the consultation's studies
    response = api(doctor).get(f"/api/consultations/{async_consultation.pk}/studies/")
    # then the CT comes first, the ECG once (not also as its DICOM study), and both reads are audited
    assert response.status_code == 200
    assert [row["type"] for row in response.json()] == ["imaging", "ecg"]
    assert response.json()[1]["id"] == EcgRecord.objects.get().pk
    assert AuditEvent.objects.filter(actor=doctor, action="read", consultation_id=async_consultation.pk,
                                     object_type="EcgRecord").exists()


def test_consultation_studies_of_another_clinic_are_404(api, people, async_consultation):
    response = api(people["other_village_doctor"]).get(f"/api/consultations/{async_consultation.pk}/studies/")
    assert response.status_code == 404


def test_ready_ecg_of_an_unassigned_async_consultation_is_offered_to_the_on_call_expert(
        tus_client, people, async_consultation, on_call):
    # when an ECG is ingested for a consultation nobody holds
    ingest(tus_client, people["village_doctor"], "waveform_ecg.dcm", consultation=async_consultation.pk)
    # then the on-call cardiologist has an open offer, and a second study does not make a second one
    offer = Assignment.objects.get(consultation=async_consultation)
    assert offer.status == "offered" and offer.expert == people["expert"].expert
    ingest(tus_client, people["village_doctor"], "CT_small.dcm", consultation=async_consultation.pk)
    assert Assignment.objects.filter(consultation=async_consultation).count() == 1


def test_critical_ecg_raises_the_consultation_to_stat_with_a_stat_offer(
        tus_client, people, async_consultation, on_call, settings):
    # given thresholds that make the sample ECG critical (its rate is above 40 bpm)
    settings.STUDIES_ECG_CRITICAL = {**settings.STUDIES_ECG_CRITICAL, "min_rate_bpm": 300.0}
    # when it is ingested
    ingest(tus_client, people["village_doctor"], "waveform_ecg.dcm", consultation=async_consultation.pk)
    # then the consultation is stat and offered with the stat timeout
    async_consultation.refresh_from_db()
    offer = Assignment.objects.get(consultation=async_consultation)
    assert async_consultation.urgency == "stat" and async_consultation.state == "offered"
    assert offer.expires_at - offer.offered_at <= dt.timedelta(seconds=settings.SCHEDULING_OFFER_TIMEOUTS["stat"] + 5)


def test_report_pdf_inputs_are_the_stored_ecg_trace_and_the_ct_frame(tus_client, people, async_consultation):
    # given an ECG and a CT stored for a consultation
    from studies.models import ImagingStudy
    from studies.report_inputs import load_report_inputs

    ingest(tus_client, people["village_doctor"], "waveform_ecg.dcm", consultation=async_consultation.pk)
    ingest(tus_client, people["village_doctor"], "CT_small.dcm", consultation=async_consultation.pk)
    ecg = EcgRecord.objects.get()
    ct = ImagingStudy.objects.filter(series__modality="CT").get()
    # when the reports app loads what its PDFs show
    trace, no_images = load_report_inputs(f"ecg:{ecg.pk}")
    no_trace, images = load_report_inputs(f"dicom:{ct.study_instance_uid}")
    # then the ECG has its 12 leads at the stored rate and the CT gives one PNG key image
    assert len(trace.leads) == 12 and trace.sampling_rate == ecg.sampling_rate and no_images == []
    assert no_trace is None and len(images) == 1 and images[0][:8] == b"\x89PNG\r\n\x1a\n"
    assert load_report_inputs("ecg:999999") == (None, []) and load_report_inputs("other") == (None, [])


def test_the_experts_worklist_says_what_each_case_holds_to_read(api, tus_client, people, async_consultation, on_call):
    # given an ECG (a DICOM waveform) and a CT uploaded in a consultation now offered to the on-call expert
    from studies.models import ImagingStudy

    ingest(tus_client, people["village_doctor"], "waveform_ecg.dcm", consultation=async_consultation.pk)
    ingest(tus_client, people["village_doctor"], "CT_small.dcm", consultation=async_consultation.pk)
    # when the expert opens the worklist
    response = api(people["expert"]).get("/api/scheduling/worklist/")
    # then the case lists the ECG once (not also as its DICOM study) and the CT study with its modality
    assert response.status_code == 200
    [item] = [i for i in response.json() if i["consultation"] == async_consultation.pk]
    ct = ImagingStudy.objects.get(series__modality="CT")
    ecg = EcgRecord.objects.get()
    assert item["studies"] == [{"type": "ecg", "id": ecg.pk, "critical": [f["code"] for f in ecg.critical_findings]},
                               {"type": "imaging", "id": ct.pk, "modalities": ["CT"], "description": ct.description}]


@pytest.mark.parametrize("name", ["CT_small.dcm", "waveform_ecg.dcm"])
def test_the_same_instance_sent_in_a_second_consultation_is_read_and_offered_there_too(
        name, api, tus_client, people, async_consultation, consultation_factory, on_call, cardiology):
    # given a study (a CT, or a 12-lead DICOM ECG) uploaded in one consultation and read there
    doctor, expert = people["village_doctor"], people["expert"]
    ingest(tus_client, doctor, name, consultation=async_consultation.pk)
    Assignment.objects.filter(consultation=async_consultation).update(status="declined")
    first = api(doctor).get(f"/api/consultations/{async_consultation.pk}/studies/").json()
    # when the same file (same SOP Instance UID) is uploaded in a second consultation of that patient
    second = consultation_factory(patient=async_consultation.patient, requested_by=doctor,
                                  requesting_org=async_consultation.requesting_org, specialty=cardiology,
                                  mode="async", urgency="routine")
    upload = ingest(tus_client, doctor, name, consultation=second.pk)
    # then the upload is processed and says it was linked, not silently filed under the first consultation
    assert upload.state == "ingested" and upload.result["duplicate"] is True and upload.result["linked"] is True
    assert Instance.objects.count() == 1  # the bytes are stored once
    # and the second consultation lists the study and is offered to the on-call expert
    listed = api(doctor).get(f"/api/consultations/{second.pk}/studies/").json()
    assert [row["type"] for row in listed] == [first[0]["type"]]
    offer = Assignment.objects.get(consultation=second)
    assert offer.status == "offered" and offer.expert == expert.expert
    # and the offered expert may read it there
    if name == "CT_small.dcm":
        assert listed[0]["id"] == first[0]["id"]
        assert api(expert).get(f"/api/imaging-studies/{listed[0]['id']}/").status_code == 200
    else:
        # an ECG gets a record of its own in the second consultation (same samples), which a report may name
        assert listed[0]["id"] != first[0]["id"]
        assert EcgRecord.objects.get(pk=listed[0]["id"]).consultation == second
        assert api(expert).get(f"/api/ecgs/{listed[0]['id']}/").status_code == 200
    # and sending it again in the second consultation links nothing more
    again = ingest(tus_client, doctor, name, consultation=second.pk)
    assert "linked" not in again.result and Assignment.objects.filter(consultation=second).count() == 1
    assert len(api(doctor).get(f"/api/consultations/{second.pk}/studies/").json()) == 1
