"""Reconciliation: a modality's study for a patient nobody here knows waits in the sender's unmatched
list, the township doctor files it under a patient, and it reaches the radiologist's worklist."""
import subprocess

import pytest

from audit.models import AuditEvent
from studies.models import EcgRecord, ImagingStudy, Instance
from studies.services.ingest import Source, ingest_dicom_batch
from pydicom.data import get_testdata_file

from tests.studies.conftest import sample_bytes
from tests.studies.test_dicom_scp import receiver, send  # noqa: F401 - the C-STORE receiver fixture
from tests.factories.scheduling import OnCallShiftFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ct_centre(community):
    """Township A's CT, known by its AE title; no patient here has the files' Patient IDs."""
    community.township_a.dicom_ae_title = "TOWNA_CT"
    community.township_a.dicom_peers = "127.0.0.1"
    community.township_a.save()
    return community.township_a


@pytest.fixture
def on_call(people, cardiology):
    return OnCallShiftFactory(expert=people["expert"].expert, specialty=cardiology)


def storescu(port: int, path, calling: str) -> subprocess.CompletedProcess:
    return subprocess.run(["storescu", "-aet", calling, "-aec", "TELECLINIC", "127.0.0.1", str(port), str(path)],
                          capture_output=True, text=True, timeout=60)


def match_and_read(api, people, cardiology, study_id: int) -> dict:
    """The township doctor registers the patient, asks for a reading and files the study there;
    returns the on-call expert's worklist."""
    doctor = api(people["township_doctor"])
    patient = doctor.post("/api/patients/", {"name": "王建国", "sex": "M", "birth_date": "1960-03-01"},
                          format="json")
    assert patient.status_code == 201, patient.content
    consultation = doctor.post("/api/consultations/", {
        "patient": patient.json()["id"], "specialty": cardiology.code, "urgency": "routine", "mode": "async",
        "reason": "CT read"}, format="json")
    assert consultation.status_code == 201, consultation.content
    matched = doctor.post(f"/api/imaging-studies/{study_id}/match/", {
        "patient": patient.json()["id"], "consultation": consultation.json()["id"]}, format="json")
    assert matched.status_code == 200, matched.content
    assert matched.json()["patient"] == patient.json()["id"]
    return {"consultation": consultation.json()["id"], "patient": patient.json()["id"],
            "worklist": api(people["expert"]).get("/api/scheduling/worklist/").json()}


def assert_on_the_worklist(outcome, study_id):
    rows = [r for r in outcome["worklist"] if r["consultation"] == outcome["consultation"]]
    assert rows, outcome["worklist"]
    assert [s["id"] for s in rows[0]["studies"] if s["type"] == "imaging"] == [study_id]


def test_c_store_for_an_unknown_patient_waits_unmatched_then_reaches_the_worklist(
        receiver, ct_centre, people, api, cardiology, on_call):  # noqa: F811
    # when the township CT sends a study whose Patient ID nobody here has (and no birth date)
    assert send(receiver, ["CT_small.dcm"], "TOWNA_CT") == [0]
    # then it is stored, unmatched, in the township's list with what the file says about the patient
    study = ImagingStudy.objects.get()
    assert study.patient is None and study.organisation == ct_centre and Instance.objects.count() == 1
    listed = api(people["township_doctor"]).get("/api/imaging-studies/unmatched/").json()
    assert [(r["id"], r["dicom_patient_id"], r["modalities"], r["instances"]) for r in listed] == [
        (study.pk, "1CT1", ["CT"], 1)]
    # and a doctor of another clinic does not see it
    assert api(people["other_village_doctor"]).get("/api/imaging-studies/unmatched/").json() == []
    # when the township doctor matches it to a newly registered patient within a consultation
    outcome = match_and_read(api, people, cardiology, study.pk)
    # then it joins their record, audited with the DICOM identity, and the on-call expert has it to read
    study.refresh_from_db()
    assert study.patient_id == outcome["patient"] and study.matched_at is not None
    event = AuditEvent.objects.get(object_type="ImagingStudy", action="update", object_id=str(study.pk))
    assert event.detail["dicom_patient"]["id"] == "1CT1" and event.actor_username == "tdoc"
    assert_on_the_worklist(outcome, study.pk)
    assert api(people["township_doctor"]).get("/api/imaging-studies/unmatched/").json() == []


def test_dcmtk_storescu_for_an_unknown_patient_waits_unmatched_then_reaches_the_worklist(
        receiver, ct_centre, people, api, cardiology, on_call):  # noqa: F811
    # when DCMTK's storescu sends an MR for a patient nobody here knows
    done = storescu(receiver, get_testdata_file("MR_small.dcm"), "TOWNA_CT")
    # then it succeeds, unmatched, and once matched it reaches the worklist
    assert done.returncode == 0, done.stderr
    study = ImagingStudy.objects.get()
    assert study.patient is None and study.dicom_patient_id == "4MR1"
    outcome = match_and_read(api, people, cardiology, study.pk)
    assert_on_the_worklist(outcome, study.pk)


def test_stow_outcome_does_not_depend_on_part_order(people, community):
    # given a batch with a file that has a birth date and one that has none, both for unknown patients
    source = Source(by=people["township_doctor"], organisation=community.township_a, interface="dicomweb")
    files = [sample_bytes("waveform_ecg.dcm"), sample_bytes("CT_small.dcm")]
    # when sent in one order, then (after clearing) in the other
    first = ingest_dicom_batch(datas=files, source=source)
    outcome_1 = sorted((s.dicom_patient_id, s.patient_id) for s in ImagingStudy.objects.all())
    Instance.objects.all().delete()
    ImagingStudy.objects.all().delete()
    second = ingest_dicom_batch(datas=list(reversed(files)), source=source)
    outcome_2 = sorted((s.dicom_patient_id, s.patient_id) for s in ImagingStudy.objects.all())
    # then both store both instances, unmatched, and no patient was registered from a header
    assert all(not isinstance(r, Exception) for r in [*first, *second])
    assert outcome_1 == outcome_2 == [("1CT1", None), ("642341", None)]
    assert not EcgRecord.objects.exists()


def test_an_unmatched_ecg_becomes_an_ecg_record_of_the_patient_when_matched(people, community, api, cardiology,
                                                                           on_call):
    source = Source(by=None, organisation=community.township_a, interface="dicom")
    ingest_dicom_batch(datas=[sample_bytes("waveform_ecg.dcm")], source=source)
    study = ImagingStudy.objects.get()
    outcome = match_and_read(api, people, cardiology, study.pk)
    ecg = EcgRecord.objects.get()
    assert ecg.patient_id == outcome["patient"] and ecg.consultation_id == outcome["consultation"]
    rows = [r for r in outcome["worklist"] if r["consultation"] == outcome["consultation"]]
    assert [s["type"] for s in rows[0]["studies"]] == ["ecg"]


def test_matching_twice_conflicts_and_outsiders_get_404(people, community, api, patient_factory):
    ingest_dicom_batch(datas=[sample_bytes("CT_small.dcm")],
                       source=Source(by=None, organisation=community.township_a, interface="dicom"))
    study = ImagingStudy.objects.get()
    mine = patient_factory(home_clinic=community.village_a1)
    theirs = patient_factory(home_clinic=community.village_b1)
    doctor = api(people["township_doctor"])
    # a patient out of the doctor's reach, or a doctor out of the study's, is refused
    assert doctor.post(f"/api/imaging-studies/{study.pk}/match/", {"patient": theirs.pk}, format="json"
                       ).status_code == 404
    assert api(people["other_village_doctor"]).post(f"/api/imaging-studies/{study.pk}/match/", {"patient": mine.pk},
                                                    format="json").status_code == 404
    assert api(people["expert"]).post(f"/api/imaging-studies/{study.pk}/match/", {"patient": mine.pk},
                                      format="json").status_code == 404
    # the first match wins; a second one is a conflict
    assert doctor.post(f"/api/imaging-studies/{study.pk}/match/", {"patient": mine.pk},
                       format="json").status_code == 200
    again = doctor.post(f"/api/imaging-studies/{study.pk}/match/", {"patient": mine.pk}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_matched"


def test_another_organisation_cannot_add_to_an_unmatched_study(people, community):
    ingest_dicom_batch(datas=[sample_bytes("CT_small.dcm")],
                       source=Source(by=None, organisation=community.township_a, interface="dicom"))
    ds_bytes = sample_bytes("CT_small.dcm")
    import io

    import pydicom

    ds = pydicom.dcmread(io.BytesIO(ds_bytes))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6.7.8"
    out = io.BytesIO()
    ds.save_as(out)
    result = ingest_dicom_batch(datas=[out.getvalue()],
                                source=Source(by=None, organisation=community.township_b, interface="dicom"))[0]
    assert getattr(result, "code", "") == "study_unmatched_elsewhere"
    assert Instance.objects.count() == 1
