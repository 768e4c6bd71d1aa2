"""Ingest at the Django level: upload -> ingest -> stored and indexed, or a clear error and nothing half-stored."""
import io
from pathlib import Path

import pydicom
import pytest

from audit.models import AuditEvent
from consult.models import Urgency
from directory.models import Patient
from studies.models import EcgRecord, ImagingStudy, Instance, Photo, Series, Upload
from studies.services.ingest import ingest_upload
from studies.services.storage import files_or_nothing, media_path, partial_path
from tests.studies import badfiles
from tests.studies.conftest import sample_bytes, upload_id_of
from tests.studies.ecgfiles import ecg_csv, fast_ecg_csv, make_aecg, make_wfdb_zip, reference_ecg

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def doctor(people):
    return people["village_doctor"]


@pytest.fixture
def consultation(consultation_factory, community, people, cardiology):
    return consultation_factory(patient__home_clinic=community.village_a1, requested_by=people["village_doctor"],
                                specialty=cardiology)


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "studies").rglob("*") if p.is_file()) if (root / "studies").exists() else []


def upload_and_ingest(tus_client, user, data: bytes, **metadata) -> Upload:
    url = tus_client(user).send(data, **metadata)
    return ingest_upload(upload_id=upload_id_of(url))


BAD_FILES = {
    "truncated": (badfiles.truncated_dicom, {"truncated_file"}),
    "no_meta": (badfiles.dicom_without_meta, {"dicom_missing_meta", "unsupported_format"}),
    "not_dicom_named_dcm": (badfiles.not_dicom, {"unsupported_format", "not_dicom"}),
    "bad_vr": (badfiles.dicom_with_bad_vr, {"dicom_bad_value"}),
    "deflate_bomb": (badfiles.deflate_bomb, {"decompression_bomb"}),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_dicom_gets_a_clear_error_on_the_upload_and_nothing_is_stored(case, tus_client, doctor, consultation,
                                                                         media, api):
    # given a broken or hostile file sent as "x.dcm" within a consultation
    make, codes = BAD_FILES[case]
    # when it is uploaded and ingested
    upload = upload_and_ingest(tus_client, doctor, make(), filename="x.dcm", consultation=consultation.pk)
    # then the upload failed with a code and a message the uploader sees
    assert upload.state == Upload.State.FAILED and upload.error_code in codes, upload.error_code
    status = api(doctor).get(f"/api/uploads/{upload.pk}/").json()
    assert status["state"] == "failed" and status["error"]["code"] == upload.error_code
    assert len(status["error"]["detail"]) > 20
    # and nothing is half-stored
    for model in (ImagingStudy, Series, Instance, EcgRecord, Photo):
        assert not model.objects.exists()
    assert stored_files(media) == []


def test_whole_file_sha256_mismatch_fails_the_upload(tus_client, doctor, consultation):
    client = tus_client(doctor)
    url = client.create(3, sha256="0" * 64, consultation=consultation.pk)["Location"]
    client.patch(url, 0, b"abc")
    upload = Upload.objects.get(pk=upload_id_of(url))
    assert upload.state == "failed" and upload.error_code == "sha256_mismatch"
    assert not partial_path(upload.pk).exists()


def test_executable_preamble_is_zeroed_in_the_stored_file(tus_client, doctor, consultation, media):
    # given a CT image whose preamble holds PE and ELF headers
    data = badfiles.executable_in_preamble()
    # when it is uploaded under a hostile name
    upload = upload_and_ingest(tus_client, doctor, data, filename="../../x", consultation=consultation.pk)
    # then it is stored under a generated name with the preamble zeroed, the rest intact
    assert upload.state == "ingested", upload.error_message
    instance = Instance.objects.get()
    stored = media_path(instance.file).read_bytes()
    assert stored[:128] == bytes(128) and stored[128:] == data[128:]
    assert len(Path(instance.file).stem) == 32


def test_partial_bytes_are_removed_after_ingest_commits(tus_client, doctor, consultation,
                                                      django_capture_on_commit_callbacks):
    url = tus_client(doctor).send(sample_bytes("CT_small.dcm"), consultation=consultation.pk)
    with django_capture_on_commit_callbacks(execute=True):
        ingest_upload(upload_id=upload_id_of(url))
    assert not partial_path(upload_id_of(url)).exists()


def test_hostile_names_never_reach_the_storage(tus_client, doctor, consultation, media):
    for name in ("../../x", "a\x00b.dcm", "n" * 10_000):
        upload_and_ingest(tus_client, doctor, sample_bytes("CT_small.dcm"), filename=name, consultation=consultation.pk)
    names = [p.name for p in stored_files(media)]
    assert len(names) == 1  # de-duplicated by SOP Instance UID
    assert all(len(Path(n).stem) == 32 for n in names)
    assert not any((media / "x").exists() for _ in [0]) and not (media.parent / "x").exists()


def test_ct_upload_is_indexed_under_the_consultation_patient_and_deduplicated(tus_client, doctor, consultation):
    # given a CT image uploaded twice
    first = upload_and_ingest(tus_client, doctor, sample_bytes("CT_small.dcm"), consultation=consultation.pk)
    second = upload_and_ingest(tus_client, doctor, sample_bytes("CT_small.dcm"), consultation=consultation.pk)
    # then one study/series/instance exists, under the consultation's patient
    study = ImagingStudy.objects.get()
    assert study.patient == consultation.patient and study.consultation == consultation
    assert Instance.objects.count() == 1
    assert first.result["duplicate"] is False and second.result["duplicate"] is True
    assert AuditEvent.objects.filter(object_type="Upload", action="create").count() == 2


def test_dicom_patient_id_matches_a_patient_by_health_record_number_within_reach(tus_client, doctor,
                                                                                 patient_factory, community):
    # given a patient of the doctor's clinic whose health-record number is the file's Patient ID
    patient = patient_factory(home_clinic=community.village_a1, health_record_no="1CT1")
    # when the CT is uploaded without a consultation
    upload = upload_and_ingest(tus_client, doctor, sample_bytes("CT_small.dcm"))
    # then it is filed under that patient
    assert upload.state == "ingested", upload.error_message
    assert ImagingStudy.objects.get().patient == patient


def test_dicom_patient_id_of_a_patient_outside_reach_answers_as_an_unknown_one(tus_client, doctor, patient_factory,
                                                                               community):
    # given a patient of another township's clinic whose record number is the file's Patient ID
    other = patient_factory(home_clinic=community.village_b1, health_record_no="1CT1")
    # when the doctor uploads the CT without a consultation
    upload = upload_and_ingest(tus_client, doctor, sample_bytes("CT_small.dcm"))
    # then it waits unmatched in the doctor's clinic, exactly as for an ID nobody has (no existence
    # oracle), and nothing is filed under the other clinic's patient
    assert upload.state == "ingested", upload.error_message
    assert upload.result["unmatched"] is True
    study = ImagingStudy.objects.get()
    assert study.patient is None and study.organisation_id == community.village_a1.pk
    assert not other.imaging_studies.exists()


def test_unknown_patient_id_waits_unmatched_in_the_uploaders_clinic_and_registers_nobody(tus_client, doctor,
                                                                                        community):
    # when a DICOM ECG for a Patient ID nobody has is uploaded without a consultation (it has a birth date)
    upload = upload_and_ingest(tus_client, doctor, sample_bytes("waveform_ecg.dcm"), kind="ecg")
    # then it is stored unmatched in the uploader's clinic, its ECG record waits for the match
    assert upload.state == "ingested", upload.error_message
    assert upload.result["unmatched"] is True
    study = ImagingStudy.objects.get()
    assert study.patient is None and study.organisation == community.village_a1
    assert study.dicom_patient_id == "642341" and study.dicom_patient_birth_date is not None
    assert not EcgRecord.objects.exists() and not Patient.objects.filter(health_record_no="642341").exists()


def test_dicom_ecg_is_normalised_measured_and_keeps_the_device_measurements(tus_client, doctor, consultation, api):
    # given the Mortara 12-lead ECG uploaded within a consultation
    upload = upload_and_ingest(tus_client, doctor, sample_bytes("waveform_ecg.dcm"), consultation=consultation.pk)
    # then an ECG record holds the 12 leads, device and computed measurements, labelled apart
    assert upload.state == "ingested" and upload.result["type"] == "ecg"
    ecg = EcgRecord.objects.get()
    assert len(ecg.lead_names) == 12 and ecg.instance is not None
    body = api(doctor).get(f"/api/ecgs/{ecg.pk}/").json()
    assert body["device_measurements"]["source"] == "device" and body["device_measurements"]["values"]["qtc_ms"] == 370
    assert body["computed_measurements"]["source"] == "computed"
    assert 50 < body["computed_measurements"]["values"]["heart_rate_bpm"] < 70
    assert body["critical_findings"] == []
    assert Urgency(consultation.__class__.objects.get(pk=consultation.pk).urgency) == Urgency.ROUTINE


@pytest.mark.parametrize("fmt", ["csv", "aecg", "wfdb"])
def test_ecg_in_each_text_format_is_ingested_into_the_same_model(fmt, tus_client, doctor, consultation, media):
    ecg = reference_ecg()
    data = {"csv": ecg_csv, "aecg": lambda: make_aecg(ecg), "wfdb": lambda: make_wfdb_zip(ecg)}[fmt]()
    upload = upload_and_ingest(tus_client, doctor, data, filename=f"ecg.{fmt}", consultation=consultation.pk,
                               kind="ecg")
    assert upload.state == "ingested", upload.error_message
    record = EcgRecord.objects.get()
    assert record.source_format == fmt and record.sampling_rate == ecg.sampling_rate
    assert len(stored_files(media)) == 2  # samples (npz) and the original


def test_critical_ecg_raises_the_consultation_to_stat_audited_and_notifies(tus_client, doctor, consultation,
                                                                          django_capture_on_commit_callbacks):
    # given an ECG at ~160 bpm within a routine consultation
    upload = upload_and_ingest(tus_client, doctor, fast_ecg_csv(), consultation=consultation.pk, kind="ecg")
    # then the finding is recorded and the consultation is stat, with an audit row saying why
    assert upload.state == "ingested", upload.error_message
    ecg = EcgRecord.objects.get()
    assert "tachycardia" in [f["code"] for f in ecg.critical_findings]
    consultation.refresh_from_db()
    assert consultation.urgency == Urgency.STAT
    event = AuditEvent.objects.get(object_type="Consultation", action="update", detail__has_key="urgency")
    assert event.detail["reason"] == "critical_ecg" and event.actor_username == "system:studies-ingest"


def test_ecg_without_patient_or_consultation_is_refused_clearly(tus_client, doctor):
    upload = upload_and_ingest(tus_client, doctor, ecg_csv(), kind="ecg")
    assert upload.state == "failed" and upload.error_code == "patient_unknown"
    assert not EcgRecord.objects.exists()


def test_photo_is_stored_without_its_metadata(tus_client, doctor, consultation, api):
    from PIL import Image

    buffer = io.BytesIO()
    image = Image.new("RGB", (64, 48), "red")
    exif = image.getexif()
    exif[0x010F] = "SecretPhoneMaker"
    image.save(buffer, format="JPEG", exif=exif)
    upload = upload_and_ingest(tus_client, doctor, buffer.getvalue(), kind="photo", consultation=consultation.pk)
    assert upload.state == "ingested", upload.error_message
    served = api(doctor).get(f"/api/photos/{Photo.objects.get().pk}/")
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert b"SecretPhoneMaker" not in served.content


def test_photo_kind_with_a_dicom_file_is_refused(tus_client, doctor, consultation):
    upload = upload_and_ingest(tus_client, doctor, sample_bytes("CT_small.dcm"), kind="photo", consultation=consultation.pk)
    assert upload.state == "failed" and upload.error_code == "not_a_photo"


def test_ingest_twice_is_harmless(tus_client, doctor, consultation):
    upload = upload_and_ingest(tus_client, doctor, sample_bytes("CT_small.dcm"), consultation=consultation.pk)
    again = ingest_upload(upload_id=upload.pk)
    assert again.state == "ingested" and Instance.objects.count() == 1


def test_files_written_in_a_rolled_back_transaction_are_deleted(media):
    from django.db import transaction

    with pytest.raises(RuntimeError):
        with files_or_nothing() as files, transaction.atomic():
            files.write("studies/t/a.bin", b"x")
            assert (media / "studies/t/a.bin").exists()
            raise RuntimeError("boom")
    assert not (media / "studies/t/a.bin").exists()


def test_compressed_and_multiframe_dicom_are_ingested(tus_client, doctor, consultation):
    names = ["JPEG2000.dcm", "SC_rgb_jpeg_gdcm.dcm", "MR_small_jp2klossless.dcm", "emri_small.dcm", "US1_J2KR.dcm"]
    for name in names:
        ds = pydicom.dcmread(io.BytesIO(sample_bytes(name)))
        upload = upload_and_ingest(tus_client, doctor, sample_bytes(name), consultation=consultation.pk)
        assert upload.state == "ingested", (name, upload.error_message)
        assert Instance.objects.filter(sop_instance_uid=ds.SOPInstanceUID).exists()


@pytest.mark.django_db(transaction=True)
def test_the_same_instance_ingested_concurrently_is_stored_once(people, consultation, media):
    import threading

    from django.db import connection

    from studies.services.ingest import Source, ingest_dicom_bytes

    # given four senders of the same CT instance at once (separate connections)
    source = Source(by=people["village_doctor"], organisation=people["village_doctor"].organisation,
                    consultation=consultation)
    barrier, results = threading.Barrier(4), []

    def send():
        try:
            barrier.wait()
            results.append(ingest_dicom_bytes(data=sample_bytes("CT_small.dcm"), source=source).created)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then exactly one stored it, the others were told it was already there, and one file exists
    assert sorted(results) == [False, False, False, True]
    assert Instance.objects.count() == 1 and len(stored_files(media)) == 1


def test_uploader_sees_their_failed_uploads_with_reasons_and_nobody_elses(tus_client, api, people, consultation):
    upload_and_ingest(tus_client, people["village_doctor"], badfiles.truncated_dicom(), consultation=consultation.pk)
    upload_and_ingest(tus_client, people["village_doctor"], sample_bytes("CT_small.dcm"), consultation=consultation.pk)
    mine = api(people["village_doctor"]).get("/api/uploads/?state=failed").json()["results"]
    assert [u["error"]["code"] for u in mine] == ["truncated_file"]
    assert api(people["other_village_doctor"]).get("/api/uploads/").json()["results"] == []
