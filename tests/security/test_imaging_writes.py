"""Finding 3 and 4: another clinic could file instances into a patient's existing imaging study
(STOW-RS, tus naming its own patient, C-STORE with a guessable AE title), and DICOM writes were
not audited."""
import io

import pydicom
import pytest
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage

from audit.models import AuditEvent
from studies import dicom_scp
from studies.models import ImagingStudy, Instance
from studies.services.ingest import Source, ingest_dicom_batch, ingest_upload
from tests.studies.conftest import sample_bytes, upload_id_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def victim_study(community, people, patient_factory):
    """A CT of a patient of village A1, sent by its doctor over STOW-RS."""
    patient_factory(home_clinic=community.village_a1, health_record_no="1CT1", name="李桂兰")
    [stored] = ingest_dicom_batch(datas=[sample_bytes("CT_small.dcm")], source=Source(
        by=people["village_doctor"], organisation=community.village_a1, interface="dicomweb"))
    return stored.instance.series.study


def injected(study: ImagingStudy, patient_id: str = "X9") -> bytes:
    """A new series and instance naming the victim's StudyInstanceUID, with another Patient ID."""
    ds = pydicom.dcmread(io.BytesIO(sample_bytes("CT_small.dcm")))
    ds.StudyInstanceUID = study.study_instance_uid
    ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientID = patient_id
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def refusals_audited(study: ImagingStudy) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="refused", object_type="ImagingStudy", object_id=str(study.pk),
                                          patient_id=study.patient_id))


def test_stow_rs_from_another_clinic_into_an_existing_study_is_refused_and_audited(victim_study, community, people,
                                                                                     patient_factory):
    # given a doctor of another village, with a patient of their own
    patient_factory(home_clinic=community.village_a2, health_record_no="X9")
    # when they STOW an instance naming the victim's study
    [result] = ingest_dicom_batch(datas=[injected(victim_study)], source=Source(
        by=people["other_village_doctor"], organisation=community.village_a2, interface="dicomweb"))
    # then it is refused with a reason, nothing is filed into the study, and the attempt is audited
    assert result.code == "study_out_of_reach"
    assert Instance.objects.filter(series__study=victim_study).count() == 1
    [audit] = refusals_audited(victim_study)
    assert audit.actor == people["other_village_doctor"] and audit.interface == "dicomweb"


def test_a_stored_instance_is_not_confirmed_to_a_sender_out_of_reach(victim_study, community, people):
    # when another clinic sends the very same instance again
    [result] = ingest_dicom_batch(datas=[sample_bytes("CT_small.dcm")], source=Source(
        by=people["other_village_doctor"], organisation=community.village_a2, interface="dicomweb"))
    # then it is refused, not answered "already stored" with the victim's study
    assert result.code == "study_out_of_reach" and len(refusals_audited(victim_study)) == 1


def test_tus_upload_naming_another_patient_cannot_join_an_existing_study(victim_study, community, people,
                                                                          patient_factory, tus_client):
    # given a patient of the same clinic as the victim (the doctor reaches both)
    other = patient_factory(home_clinic=community.village_a1, health_record_no="X9")
    # when the doctor uploads an instance of the victim's study naming that other patient
    url = tus_client(people["village_doctor"]).send(injected(victim_study), filename="x.dcm", patient=other.pk)
    upload = ingest_upload(upload_id=upload_id_of(url))
    # then the upload fails with the reason, the study is untouched, the attempt audited
    assert (upload.state, upload.error_code) == ("failed", "study_patient_mismatch")
    assert Instance.objects.filter(series__study=victim_study).count() == 1
    assert len(refusals_audited(victim_study)) == 1


def c_store(port: int, calling: str, data: bytes, bind: str = "127.0.0.1") -> int:
    ae = AE(ae_title=calling)
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    assoc = ae.associate("127.0.0.1", port, ae_title="TELECLINIC", bind_address=(bind, 0))
    assert assoc.is_established
    try:
        return assoc.send_c_store(pydicom.dcmread(io.BytesIO(data))).Status
    finally:
        assoc.release()


def test_c_store_from_another_organisation_into_an_existing_study_is_refused_and_audited(victim_study, community,
                                                                                            receiver, patient_factory):
    # given township B's modality, known by its title and address, with a patient of its own
    community.township_b.dicom_ae_title, community.township_b.dicom_peers = "TOWNB_CT", "127.0.0.1"
    community.township_b.save()
    patient_factory(home_clinic=community.village_b1, health_record_no="X9")
    # when it sends an instance naming the victim's study
    status = c_store(receiver, "TOWNB_CT", injected(victim_study))
    # then it is refused, nothing filed, and the attempt audited under the victim's study
    assert status == dicom_scp.CANNOT_UNDERSTAND
    assert Instance.objects.filter(series__study=victim_study).count() == 1
    [audit] = refusals_audited(victim_study)
    assert audit.actor is None and audit.actor_username == "dicom-node:town-b" and audit.interface == "dicom"


def test_c_store_with_a_known_ae_title_from_another_address_is_refused(community, receiver, patient_factory):
    # given township A's CT, allowed from 127.0.0.1 only
    community.township_a.dicom_ae_title, community.township_a.dicom_peers = "TOWNA_CT", "127.0.0.1"
    community.township_a.save()
    patient_factory(home_clinic=community.township_a, health_record_no="1CT1")
    # when someone else uses its title from another address
    assert c_store(receiver, "TOWNA_CT", sample_bytes("CT_small.dcm"), bind="127.0.0.2") == dicom_scp.NOT_AUTHORISED
    assert not Instance.objects.exists()
    # while the CT itself is heard, and the write is audited
    assert c_store(receiver, "TOWNA_CT", sample_bytes("CT_small.dcm")) == dicom_scp.SUCCESS
    study = ImagingStudy.objects.get()
    [audit] = AuditEvent.objects.filter(action="create", object_type="ImagingStudy", object_id=str(study.pk))
    assert audit.interface == "dicom" and audit.detail["instances"] == 1 and audit.patient_id == study.patient_id


def test_stow_rs_writes_are_audited(victim_study, people):
    # the fixture's STOW-RS wrote a study: one audit row names the doctor, the study and its patient
    [audit] = AuditEvent.objects.filter(action="create", object_type="ImagingStudy", object_id=str(victim_study.pk))
    assert (audit.actor, audit.interface, audit.patient_id) == (people["village_doctor"], "dicomweb",
                                                                 victim_study.patient_id)
    assert audit.detail["instances"] == 1 and audit.detail["study_created"] is True
