"""Ingest in a real Celery worker: unmodified tuspy over a live Daphne, a bomb, and the worker surviving it."""
import asyncio
import io
import threading

import pytest
from channels.layers import get_channel_layer
from tusclient import client as tus

from consult.models import Consultation
from studies.models import EcgRecord, Instance
from teleclinic.events import user_group
from tests.studies import badfiles
from tests.studies.conftest import sample_bytes, upload_id_of, wait_for_upload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


class Listener(threading.Thread):
    """Subscribes to a user's notification group on the Redis channel layer, collects events."""

    def __init__(self, user_id: int, wanted: str):
        super().__init__(daemon=True)
        self.user_id, self.wanted, self.events = user_id, wanted, []
        self.ready, self.done = threading.Event(), threading.Event()

    def run(self):
        asyncio.run(self._listen())

    async def _listen(self):
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(user_group(self.user_id), channel)
        self.ready.set()
        try:
            while not self.done.is_set():
                message = await asyncio.wait_for(layer.receive(channel), 60)
                self.events.append(message["payload"])
                if message["payload"].get("type") == self.wanted:
                    self.done.set()
        finally:
            await layer.group_discard(user_group(self.user_id), channel)


@pytest.fixture
def ecg_consultation(consultation_factory, community, people, cardiology):
    return consultation_factory(patient__home_clinic=community.village_a1, requested_by=people["village_doctor"],
                                specialty=cardiology, assigned_expert=people["expert"].expert,
                                state=Consultation.State.ASSIGNED)


def test_tuspy_uploads_an_ecg_the_worker_ingests_it_and_the_expert_is_notified(
        celery_worker_process, daphne_server, people, token_for, ecg_consultation):
    # given the assigned expert listening on their notification group, and the uploader on theirs
    expert_ears = Listener(people["expert"].id, "study.ready")
    uploader_ears = Listener(people["village_doctor"].id, "upload.ingested")
    for ears in (expert_ears, uploader_ears):
        ears.start()
        assert ears.ready.wait(10)
    # when the village doctor uploads the 12-lead ECG with unmodified tuspy, in small checksummed chunks
    client = tus.TusClient(f"{daphne_server.url}/api/uploads/",
                           headers={"Authorization": f"Token {token_for(people['village_doctor'])}"})
    uploader = client.uploader(file_stream=io.BytesIO(sample_bytes("waveform_ecg.dcm")), chunk_size=64 * 1024,
                               upload_checksum=True, metadata={"filename": "ecg.dcm", "kind": "ecg",
                                                               "consultation": str(ecg_consultation.pk)})
    uploader.upload()
    # then the worker ingests it into an ECG record with measurements
    upload = wait_for_upload(upload_id_of(uploader.url))
    assert upload.state == "ingested", (upload.error_code, upload.error_message)
    ecg = EcgRecord.objects.get()
    assert ecg.computed_measurements["heart_rate_bpm"] > 0 and ecg.device_measurements["qtc_ms"] == 370
    # and the expert and the uploader hear of it live
    assert expert_ears.done.wait(30), expert_ears.events
    ready = [e for e in expert_ears.events if e.get("type") == "study.ready"][0]
    assert ready["ecg"] == ecg.pk and ready["consultation"] == ecg_consultation.pk
    assert uploader_ears.done.wait(30), uploader_ears.events
    assert any(e.get("type") == "upload.progress" for e in uploader_ears.events)


def test_deflate_bomb_is_refused_by_the_worker_and_the_worker_survives(celery_worker_process, tus_client, people,
                                                                      ecg_consultation):
    doctor = people["village_doctor"]
    # given a deflated DICOM of ~400 KB that inflates to 400 MB
    url = tus_client(doctor).send(badfiles.deflate_bomb(), chunk=1024 * 1024, consultation=ecg_consultation.pk)
    # when the worker ingests it
    upload = wait_for_upload(upload_id_of(url))
    # then it is refused with a clear reason and nothing is stored
    assert upload.state == "failed" and upload.error_code == "decompression_bomb", upload.error_message
    assert not Instance.objects.exists()
    # and the same worker goes on to ingest the next file
    url = tus_client(doctor).send(sample_bytes("CT_small.dcm"), consultation=ecg_consultation.pk)
    assert wait_for_upload(upload_id_of(url)).state == "ingested"
    assert celery_worker_process.poll() is None


def test_every_broken_file_fails_cleanly_in_the_worker_and_it_keeps_working(celery_worker_process, tus_client,
                                                                           people, ecg_consultation):
    doctor = people["village_doctor"]
    ids = [upload_id_of(tus_client(doctor).send(make(), consultation=ecg_consultation.pk)) for make in (
        badfiles.truncated_dicom, badfiles.dicom_without_meta, badfiles.not_dicom, badfiles.dicom_with_bad_vr)]
    codes = [wait_for_upload(i).error_code for i in ids]
    assert codes[0] == "truncated_file" and codes[3] == "dicom_bad_value"
    assert codes[1] in ("dicom_missing_meta", "unsupported_format") and codes[2] in ("not_dicom", "unsupported_format")
    good = tus_client(doctor).send(sample_bytes("MR_small.dcm"), consultation=ecg_consultation.pk)
    assert wait_for_upload(upload_id_of(good)).state == "ingested"
    assert celery_worker_process.poll() is None
