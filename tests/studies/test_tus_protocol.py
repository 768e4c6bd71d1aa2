"""tus 1.0.0 under /api/uploads/: core, creation, expiration, termination, checksum; ownership; limits."""
import datetime as dt
import hashlib
import threading

import pytest
from django.db import connection
from django.utils import timezone

from studies.models import Upload
from studies.services.storage import partial_path
from tests.studies.conftest import upload_id_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def doctor(people):
    return people["village_doctor"]


def test_options_advertises_version_extensions_and_sha256_without_auth(api):
    # given no credentials (a browser's CORS preflight)
    # when the client asks what the server supports
    response = api().options("/api/uploads/")
    # then the tus capabilities are listed
    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    assert set(response["Tus-Extension"].split(",")) == {"creation", "expiration", "termination", "checksum"}
    assert "sha256" in response["Tus-Checksum-Algorithm"].split(",")
    assert int(response["Tus-Max-Size"]) > 0
    assert "Upload-Offset" in response["Access-Control-Expose-Headers"]


def test_creation_returns_location_and_expiry_and_head_reports_offset(tus_client, doctor):
    # given a logged-in village doctor
    client = tus_client(doctor)
    # when they create an upload of 10 bytes
    created = client.create(10, filename="ecg.xml", kind="ecg")
    # then they get its URL, an expiry, and HEAD reports offset 0 of 10
    assert created.status_code == 201
    assert created["Tus-Resumable"] == "1.0.0" and created["Upload-Expires"].endswith("GMT")
    head = client.head(created["Location"])
    assert head.status_code == 200
    assert (head["Upload-Offset"], head["Upload-Length"], head["Cache-Control"]) == ("0", "10", "no-store")


def test_request_without_tus_resumable_is_refused_with_412(api, doctor):
    response = api(doctor).post("/api/uploads/", HTTP_UPLOAD_LENGTH="10")
    assert response.status_code == 412 and response["Tus-Version"] == "1.0.0"


def test_declared_size_above_the_limit_is_refused_at_creation_with_413(tus_client, doctor, settings):
    # given a 1 MB limit
    settings.STUDIES_MAX_UPLOAD_BYTES = 1024 * 1024
    # when an upload of 1 MB + 1 byte is created
    response = tus_client(doctor).create(1024 * 1024 + 1, filename="big.dcm")
    # then it is refused before any byte is sent
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert not Upload.objects.exists()


def test_chunks_append_and_the_whole_file_completes(tus_client, doctor):
    # given a created upload
    client = tus_client(doctor)
    url = client.create(6, filename="x.csv")["Location"]
    # when two chunks arrive in order
    first = client.patch(url, 0, b"abc", hashlib.sha256(b"abc").digest())
    second = client.patch(url, 3, b"def")
    # then the offset advances and the upload is received with the file's sha256
    assert (first.status_code, first["Upload-Offset"]) == (204, "3")
    assert (second.status_code, second["Upload-Offset"]) == (204, "6")
    upload = Upload.objects.get(pk=upload_id_of(url))
    assert upload.sha256 == hashlib.sha256(b"abcdef").hexdigest()
    assert upload.state in ("received", "failed", "ingested")  # eager ingest may already have run


def test_chunk_with_wrong_checksum_gets_460_and_the_offset_is_unchanged(tus_client, doctor):
    # given an upload with 3 bytes received
    client = tus_client(doctor)
    url = client.create(6)["Location"]
    client.patch(url, 0, b"abc")
    # when a chunk arrives whose checksum does not match
    response = client.patch(url, 3, b"def", hashlib.sha256(b"xyz").digest())
    # then it is refused with 460 and nothing of it is kept
    assert response.status_code == 460 and response.json()["code"] == "checksum_mismatch"
    assert client.head(url)["Upload-Offset"] == "3"
    assert partial_path(upload_id_of(url)).read_bytes() == b"abc"


def test_patch_at_a_stale_offset_gets_409(tus_client, doctor):
    client = tus_client(doctor)
    url = client.create(6)["Location"]
    client.patch(url, 0, b"abc")
    # when a retried PATCH comes with the old offset
    response = client.patch(url, 0, b"abc")
    # then it conflicts and the file is unchanged
    assert response.status_code == 409 and response.json()["code"] == "offset_mismatch"
    assert client.head(url)["Upload-Offset"] == "3"


def test_patch_with_the_wrong_content_type_gets_415(api, tus_client, doctor):
    url = tus_client(doctor).create(3)["Location"]
    response = api(doctor).generic("PATCH", url, b"abc", content_type="application/octet-stream",
                                   HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_OFFSET="0")
    assert response.status_code == 415


def test_chunk_past_the_declared_length_is_refused_and_not_kept(tus_client, doctor):
    client = tus_client(doctor)
    url = client.create(3)["Location"]
    response = client.patch(url, 0, b"abcdef")
    assert response.status_code == 400 and response.json()["code"] == "past_length"
    assert client.head(url)["Upload-Offset"] == "0"


def test_expired_upload_gets_410(tus_client, doctor):
    # given an upload whose expiry has passed
    client = tus_client(doctor)
    url = client.create(6)["Location"]
    Upload.objects.filter(pk=upload_id_of(url)).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    # then HEAD and PATCH say it is gone
    assert client.head(url).status_code == 410
    response = client.patch(url, 0, b"abc")
    assert response.status_code == 410 and response.json()["code"] == "upload_gone"


def test_purge_marks_expired_uploads_and_deletes_their_bytes(tus_client, doctor):
    from studies.services.uploads import uploads_purge_expired

    client = tus_client(doctor)
    url = client.create(6)["Location"]
    client.patch(url, 0, b"abc")
    Upload.objects.filter(pk=upload_id_of(url)).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    # when the periodic purge runs (its file deletion runs on commit)
    from django.db import transaction
    with transaction.atomic():
        uploads_purge_expired()
    # then the upload is expired
    assert Upload.objects.get(pk=upload_id_of(url)).state == "expired"


def test_upload_of_another_user_is_404_for_head_patch_delete_and_status(tus_client, people, doctor):
    # given an upload created by one doctor
    url = tus_client(doctor).create(6)["Location"]
    # when another doctor (same township) tries to see or continue it
    other = tus_client(people["other_village_doctor"])
    # then it does not exist for them
    assert other.head(url).status_code == 404
    assert other.patch(url, 0, b"abc").status_code == 404
    assert other.client.delete(url, HTTP_TUS_RESUMABLE="1.0.0").status_code == 404
    assert other.client.get(url).status_code == 404
    assert tus_client(doctor).head(url)["Upload-Offset"] == "0"


def test_anonymous_client_cannot_create_uploads(api):
    response = api().post("/api/uploads/", HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH="3")
    assert response.status_code in (401, 403)


def test_termination_deletes_the_bytes_and_later_requests_get_410(tus_client, doctor, django_capture_on_commit_callbacks):
    client = tus_client(doctor)
    url = client.create(6)["Location"]
    client.patch(url, 0, b"abc")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.client.delete(url, HTTP_TUS_RESUMABLE="1.0.0")
    assert response.status_code == 204
    assert not partial_path(upload_id_of(url)).exists()
    assert client.head(url).status_code == 410


def test_method_override_lets_post_act_as_patch(tus_client, doctor):
    client = tus_client(doctor)
    url = client.create(3)["Location"]
    response = client.client.post(url, b"abc", content_type="application/offset+octet-stream",
                                  HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_OFFSET="0", HTTP_X_HTTP_METHOD_OVERRIDE="PATCH")
    assert response.status_code == 204 and response["Upload-Offset"] == "3"


def test_hostile_file_names_are_kept_only_as_sanitised_display_names(tus_client, doctor):
    client = tus_client(doctor)
    for hostile, expected in (("../../x", "x"), ("a\x00b.dcm", "ab.dcm"), ("n" * 10_000, "n" * 255)):
        url = client.create(3, filename=hostile)["Location"]
        assert Upload.objects.get(pk=upload_id_of(url)).filename == expected
        assert partial_path(upload_id_of(url)).name == f"{upload_id_of(url)}.part"


def test_malformed_metadata_is_refused_with_a_reason(api, doctor):
    response = api(doctor).post("/api/uploads/", HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH="3",
                                HTTP_UPLOAD_METADATA="filename not-base64!")
    assert response.status_code == 400 and response.json()["code"] == "bad_metadata"


def test_consultation_outside_reach_is_refused_at_creation(tus_client, people, consultation_factory, community):
    # given a consultation of another village clinic
    foreign = consultation_factory(patient__home_clinic=community.village_b1)
    # when a doctor of village A1 names it in the metadata
    response = tus_client(people["village_doctor"]).create(3, consultation=foreign.pk)
    # then it does not exist for them
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_patches_at_the_same_offset_cannot_both_write(tus_client, doctor):
    # given an upload of 2 x 64 KiB and two clients racing at offset 0 (separate DB connections)
    url = tus_client(doctor).create(128 * 1024)["Location"]
    results = []

    def send(byte):
        try:
            results.append(tus_client(doctor).patch(url, 0, bytes([byte]) * 64 * 1024).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(b,)) for b in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then exactly one wins and the file holds only its bytes
    assert sorted(results) == [204, 409]
    data = partial_path(upload_id_of(url)).read_bytes()
    assert len(data) == 64 * 1024 and len(set(data)) == 1


def test_progress_is_pushed_about_every_5_percent_not_per_chunk(tus_client, doctor, django_capture_on_commit_callbacks):
    # given an upload of 100 bytes sent in 99 one-byte chunks within a few seconds
    client = tus_client(doctor)
    url = client.create(100)["Location"]
    with django_capture_on_commit_callbacks() as callbacks:
        for offset in range(99):
            assert client.patch(url, offset, b"x").status_code == 204
    # then about one progress event per 5 % went out (plus one per elapsed second), not 99
    assert 19 <= len(callbacks) <= 30
    assert Upload.objects.get(pk=upload_id_of(url)).progress_percent >= 95
