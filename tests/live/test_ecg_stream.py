"""Live ECG in a room, through the room socket on the real Redis layer: a device stream reaches every
admitted participant in order, bad messages change nothing, a reconnecting viewer gets what it
missed, a replay plays an uploaded ECG at real time, and an ended stream becomes a measured study
(saved by a real Celery worker)."""
import asyncio
import base64
import contextlib
import datetime as dt
import json

import numpy as np
import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.db import transaction

from audit.models import AuditEvent
from live import ecg_replay
from live.models import EcgChunk, EcgStream, Room
from live.services import ecg as ecg_service
from live.services import rooms
from studies.formats.ecg.model import Ecg
from studies.models import EcgRecord
from studies.selectors import ecg_signal
from studies.services.ingest import Source, ecg_measure, ecg_signal_store
from studies.services.storage import files_or_nothing
from tests.live.conftest import joined, patient_ticket, receive_until, socket
from tests.studies.ecgfiles import reference_ecg

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK = 500  # samples per lead per chunk: 0.5 s of the 1000 Hz reference record
FRAME_TIMEOUT = 10


def _b64(samples: np.ndarray) -> str:
    return base64.b64encode(np.asarray(samples, dtype="<i2").tobytes()).decode()


def _decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<i2")


def _chunks(ecg: Ecg, size: int = CHUNK) -> list[dict[str, str]]:
    leads = {n: np.clip(v, -32767, 32767).astype("<i2") for n, v in ecg.leads.items()}
    return [{n: _b64(v[i:i + size]) for n, v in leads.items()} for i in range(0, ecg.n_samples, size)]


def _is_event(kind):
    return lambda f: f.get("type") == "event" and f["kind"] == kind


def _state(room_id: int) -> tuple:
    """What a refused message must leave as it was."""
    return (Room.objects.get(pk=room_id).last_seq, EcgStream.objects.filter(room_id=room_id).count(),
            EcgChunk.objects.filter(stream__room_id=room_id).count(),
            list(EcgStream.objects.filter(room_id=room_id).values_list("n_chunks", "n_samples", "state")))


@pytest.fixture
def fast_devices(settings):
    """The tests send a recorded ECG as fast as the socket takes it rather than at real time."""
    settings.LIVE_ECG_AHEAD_SECONDS = 60


@contextlib.asynccontextmanager
async def three_in_room(room, invite, cookies):
    """The host (village doctor), the assigned expert and the admitted patient, joined, history drained."""
    ticket = await sync_to_async(patient_ticket)(room.pk, invite[1])
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host, \
            socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert, \
            socket(f"/ws/rooms/{room.pk}/?ticket={ticket}") as patient:
        await joined(host)
        await joined(expert)
        me = (await joined(patient))["me"]
        await host.send_json_to({"type": "admit", "participant": me["id"]})
        admitted = lambda f: f.get("kind") == "participant.admitted"  # noqa: E731
        for communicator in (host, expert, patient):
            await receive_until(communicator, admitted, FRAME_TIMEOUT)
        yield host, expert, patient


async def _start(host, others, leads, rate=1000) -> int:
    await host.send_json_to({"type": "ecg_start", "leads": leads, "sampling_rate": rate, "units": "uV"})
    started = (await receive_until(host, _is_event("ecg.started"), FRAME_TIMEOUT))[-1]
    for other in others:
        assert (await receive_until(other, _is_event("ecg.started"), FRAME_TIMEOUT))[-1] == started
    return started["data"]["stream"]


async def _chunk_frames(communicator, count: int) -> list[dict]:
    frames = []
    while len(frames) < count:
        frame = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
        if frame["type"] == "ecg_chunk":
            frames.append(frame)
    return frames


def _joined_samples(frames: list[dict], lead: str) -> np.ndarray:
    return np.concatenate([_decode(f["leads"][lead]) for f in frames])


async def test_a_device_stream_reaches_the_two_others_in_order_and_is_saved_as_a_measured_study(
        room, invite, cookies, fast_devices, celery_worker_process):
    ecg = reference_ecg()
    pieces = _chunks(ecg)
    async with three_in_room(room, invite, cookies) as (host, expert, patient):
        # given the village doctor started a 12-lead stream at 1000 Hz
        stream = await _start(host, [expert, patient], ecg.lead_names)
        # when the device sends its 20 chunks
        for seq, leads in enumerate(pieces):
            await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": seq, "leads": leads})
        # then the expert and the patient each receive all of them, in order, with the samples sent
        for viewer in (expert, patient):
            frames = await _chunk_frames(viewer, len(pieces))
            assert [f["seq"] for f in frames] == list(range(len(pieces)))
            assert [f["start"] for f in frames] == [i * CHUNK for i in range(len(pieces))]
            for lead in ecg.lead_names:
                assert np.array_equal(_joined_samples(frames, lead), ecg.leads[lead])
        # when the host stops it
        await host.send_json_to({"type": "ecg_stop", "stream": stream})
        # then everyone is told it stopped, then that it is saved as a study of the consultation
        stopped = (await receive_until(expert, _is_event("ecg.stopped"), FRAME_TIMEOUT))[-1]
        assert stopped["data"] == {"stream": stream, "reason": "stopped", "n_samples": ecg.n_samples,
                                   "duration_s": 10.0}
        saved = (await receive_until(patient, _is_event("ecg.saved"), 60))[-1]["data"]
        assert (await receive_until(host, _is_event("ecg.saved"), FRAME_TIMEOUT))[-1]["data"] == saved
    record = await sync_to_async(EcgRecord.objects.get)(pk=saved["study"])
    # and the study holds exactly the samples sent, measured like an upload
    assert record.consultation_id == room.consultation_id and record.source_format == "live"
    assert record.sampling_rate == 1000 and record.n_samples == ecg.n_samples
    stored = await sync_to_async(ecg_signal)(record)
    for lead in ecg.lead_names:
        assert np.array_equal(stored.leads[lead], ecg.leads[lead]), lead
    assert 50 < record.computed_measurements["heart_rate_bpm"] < 70  # the reference record beats at ~61/min
    assert record.computed_measurements["qrs_ms"] and not record.measurement_error
    assert saved == {"stream": stream, "study": record.pk, "critical": [], "replayed": False}
    # and the stream's rows gave way to the study
    assert await sync_to_async(EcgChunk.objects.filter(stream_id=stream).count)() == 0


async def test_the_sender_does_not_get_its_own_chunks_back(room, cookies, fast_devices):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host, \
            socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
        await joined(host)
        await joined(expert)
        stream = await _start(host, [expert], ["II"])
        await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": 0, "leads": {"II": _b64([1, 2, 3])}})
        await _chunk_frames(expert, 1)
        # then the host's socket carries nothing but the pong after it: no echo of its own chunk
        await host.send_json_to({"type": "ping"})
        assert (await receive_until(host, lambda f: f["type"] in ("pong", "ecg_chunk")))[-1] == {"type": "pong"}


async def test_patients_and_experts_may_watch_but_not_start_a_stream(room, invite, cookies):
    async with three_in_room(room, invite, cookies) as (host, expert, patient):
        before = await sync_to_async(_state)(room.pk)
        for viewer in (patient, expert):
            # when a viewer tries to start a stream or replay an ECG
            for message in ({"type": "ecg_start", "leads": ["II"], "sampling_rate": 500, "units": "uV"},
                            {"type": "ecg_replay", "ecg": 1}):
                await viewer.send_json_to(message)
                # then it is refused and nothing is stored
                error = (await receive_until(viewer, lambda f: f["type"] == "error"))[-1]
                assert error["code"] == "not_host", error
        assert await sync_to_async(_state)(room.pk) == before


async def test_a_waiting_participant_sees_no_samples_until_admitted(room, invite, cookies, fast_devices):
    ticket = await sync_to_async(patient_ticket)(room.pk, invite[1])
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host, \
            socket(f"/ws/rooms/{room.pk}/?ticket={ticket}") as patient:
        await joined(host)
        me = (await joined(patient))["me"]
        # (a waiting participant is told nothing of the room, the stream's start included: issue 13)
        stream = await _start(host, [], ["II"])
        await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": 0, "leads": {"II": _b64([5] * 10)}})
        await host.send_json_to({"type": "ping"})
        await receive_until(host, lambda f: f["type"] == "pong")
        assert await patient.receive_nothing(timeout=0.2)
        # when the host admits the patient after the first chunk
        await host.send_json_to({"type": "admit", "participant": me["id"]})
        await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": 1, "leads": {"II": _b64([6] * 10)}})
        # then the patient got no chunk while waiting, and on admission the stored one before the new one
        frames = await receive_until(patient, lambda f: f.get("seq") == 1 and f["type"] == "ecg_chunk")
        kinds = [f.get("kind") or f["type"] for f in frames]
        assert kinds[0] == "welcome" and frames[0]["ecg"]["stream"] == stream  # told of the room only now
        assert kinds.index("participant.admitted") < kinds.index("ecg_chunk")
        assert [f["seq"] for f in frames if f["type"] == "ecg_chunk"] == [0, 1]


async def test_a_reconnecting_viewer_gets_the_chunks_it_missed_then_the_live_ones(room, cookies, fast_devices):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host:
        await joined(host)
        async with socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
            await joined(expert)
            stream = await _start(host, [expert], ["I", "II"])
            for seq in range(3):
                await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": seq,
                                         "leads": {"I": _b64([seq] * 4), "II": _b64([-seq] * 4)}})
            seen = await _chunk_frames(expert, 3)
        # given the expert's socket is gone while the device sends chunks 3 and 4
        for seq in (3, 4):
            await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": seq,
                                     "leads": {"I": _b64([seq] * 4), "II": _b64([-seq] * 4)}})
        await host.send_json_to({"type": "ping"})
        await receive_until(host, lambda f: f["type"] == "pong")
        last_seq = await sync_to_async(lambda: Room.objects.get(pk=room.pk).last_seq)()
        # when it comes back saying the last chunk it has
        async with socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
            welcome = await joined(expert, last_seq=last_seq)
            assert welcome["ecg"]["stream"] == stream and welcome["ecg"]["next_seq"] == 5
            await expert.send_json_to({"type": "ping"})  # (a frame in between changes nothing)
            await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": 5,
                                     "leads": {"I": _b64([5] * 4), "II": _b64([-5] * 4)}})
            # (join above did not say ecg_seq: it gets the recent part of the stream, all of it here)
            frames = await _chunk_frames(expert, 6)
    assert [f["seq"] for f in seen] == [0, 1, 2]
    assert [f["seq"] for f in frames] == [0, 1, 2, 3, 4, 5]


async def test_a_viewer_resuming_with_its_chunk_seq_gets_only_what_it_missed(room, cookies, fast_devices):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host:
        await joined(host)
        stream = await _start(host, [], ["II"])
        for seq in range(5):
            await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": seq, "leads": {"II": _b64([seq] * 8)}})
        await host.send_json_to({"type": "ping"})
        await receive_until(host, lambda f: f["type"] == "pong")
        last_seq = await sync_to_async(lambda: Room.objects.get(pk=room.pk).last_seq)()
        # when the expert resumes having seen the stream start and chunks up to 2
        async with socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
            await expert.send_json_to({"type": "join", "last_seq": last_seq, "ecg_seq": 2})
            assert (await expert.receive_json_from(timeout=FRAME_TIMEOUT))["type"] == "welcome"
            await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": 5, "leads": {"II": _b64([5] * 8)}})
            # then it gets 3 and 4 from the database, then 5 live: no gap, no duplicate
            frames = await _chunk_frames(expert, 3)
    assert [f["seq"] for f in frames] == [3, 4, 5]
    assert [int(_decode(f["leads"]["II"])[0]) for f in frames] == [3, 4, 5]


def _store_without_fan_out(stream_id: int, count: int) -> None:
    """Chunks stored but never fanned out: what a channel layer that dropped them leaves behind."""
    with transaction.atomic():
        stream = EcgStream.objects.select_for_update().get(pk=stream_id)
        for _ in range(count):
            raw = np.full(4, 77, dtype="<i2").tobytes()
            EcgChunk.objects.create(stream=stream, seq=stream.n_chunks, start=stream.n_samples, n_samples=4, samples=raw)
            stream.n_chunks += 1
            stream.n_samples += 4
        stream.save(update_fields=["n_chunks", "n_samples"])


async def test_chunks_the_channel_layer_dropped_are_read_back_from_the_database(room, cookies, fast_devices):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host, \
            socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
        await joined(host)
        await joined(expert)
        stream = await _start(host, [expert], ["II"])
        await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": 0, "leads": {"II": _b64([1] * 4)}})
        await _chunk_frames(expert, 1)
        # given two chunks whose fan-out was lost
        await sync_to_async(_store_without_fan_out)(stream, 2)
        # when the next one arrives through the layer
        await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": 3, "leads": {"II": _b64([3] * 4)}})
        # then the expert gets the two lost ones first, then the new one
        frames = await _chunk_frames(expert, 3)
        assert [f["seq"] for f in frames] == [1, 2, 3]
        assert [f["start"] for f in frames] == [4, 8, 12]


# --- bad messages --------------------------------------------------------------------

def _bad_chunk(**change):
    message = {"type": "ecg_chunk", "seq": 1, "leads": {"I": _b64([1, 2]), "II": _b64([3, 4])}}
    message.update(change)
    return message


BAD_MESSAGES = [
    ({"type": "ecg_start", "leads": ["II", "II"], "sampling_rate": 500, "units": "uV"}, "invalid"),
    ({"type": "ecg_start", "leads": ["Lead 7"], "sampling_rate": 500, "units": "uV"}, "invalid"),
    ({"type": "ecg_start", "leads": [], "sampling_rate": 500, "units": "uV"}, "invalid"),
    ({"type": "ecg_start", "leads": ["II"], "sampling_rate": 20000, "units": "uV"}, "invalid"),
    ({"type": "ecg_start", "leads": ["II"], "sampling_rate": True, "units": "uV"}, "invalid"),
    ({"type": "ecg_start", "leads": ["II"], "sampling_rate": 500, "units": "mV"}, "invalid"),
    ({"type": "ecg_start", "leads": ["II"], "sampling_rate": 500}, "invalid"),
    ({"type": "ecg_start", "leads": ["II"], "sampling_rate": 500, "units": "uV", "gain": 2}, "invalid"),
    ({"type": "ecg_start", "leads": ["II"], "sampling_rate": 500, "units": "uV"}, "ecg_busy"),
    (_bad_chunk(leads={"I": "not base64!", "II": _b64([3, 4])}), "invalid"),
    (_bad_chunk(leads={"I": base64.b64encode(b"\x01\x02\x03").decode(), "II": _b64([3, 4])}), "invalid"),
    (_bad_chunk(leads={"I": _b64([1, 2, 3]), "II": _b64([3, 4])}), "invalid"),
    (_bad_chunk(leads={"X": _b64([1, 2]), "II": _b64([3, 4])}), "invalid"),
    (_bad_chunk(leads={"I": 12, "II": _b64([3, 4])}), "invalid"),
    (_bad_chunk(leads={}), "invalid"),
    (_bad_chunk(leads={"I": _b64([0] * 1001), "II": _b64([0] * 1001)}), "invalid"),
    (_bad_chunk(leads={"II": _b64([3, 4])}), "ecg_leads_mismatch"),
    (_bad_chunk(leads={"I": _b64([0] * 600), "II": _b64([0] * 600)}), "ecg_chunk_too_long"),
    (_bad_chunk(seq=0), "ecg_seq"),
    (_bad_chunk(seq=5), "ecg_seq"),
    (_bad_chunk(seq=-1), "invalid"),
    (_bad_chunk(stream=10**9), "no_such_stream"),
    ({"type": "ecg_stop", "stream": 10**9}, "no_such_stream"),
    ({"type": "ecg_stop"}, "invalid"),
    ({"type": "ecg_replay", "ecg": 10**9}, "no_such_ecg"),
    ({"type": "ecg_replay", "ecg": "1"}, "invalid"),
    ({"type": "join", "ecg_seq": -2}, "invalid"),
]


@pytest.mark.parametrize("message,code", BAD_MESSAGES, ids=[f"{c}{i}" for i, (_, c) in enumerate(BAD_MESSAGES)])
async def test_a_bad_ecg_message_gets_an_error_frame_and_changes_nothing(room, cookies, message, code):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host:
        await joined(host)
        # given a live 2-lead stream at 500 Hz that has received its chunk 0
        stream = await _start(host, [], ["I", "II"], rate=500)
        await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": 0,
                                 "leads": {"I": _b64([1, 2]), "II": _b64([3, 4])}})
        await host.send_json_to({"type": "ping"})
        await receive_until(host, lambda f: f["type"] == "pong")
        before = await sync_to_async(_state)(room.pk)
        # when the host sends a bad message
        if message["type"] == "ecg_chunk" and "stream" not in message:
            message = {**message, "stream": stream}
        await host.send_to(text_data=json.dumps(message))
        # then it gets an error frame with the reason, nothing is stored, and the socket still works
        reply = (await receive_until(host, lambda f: f["type"] == "error"))[-1]
        assert reply["code"] == code and reply["detail"], reply
        assert await sync_to_async(_state)(room.pk) == before
        await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": 1,
                                 "leads": {"I": _b64([5, 6]), "II": _b64([7, 8])}})
        await host.send_json_to({"type": "ping"})
        await receive_until(host, lambda f: f["type"] == "pong")
        assert (await sync_to_async(_state)(room.pk))[2] == before[2] + 1


async def test_a_device_cannot_send_faster_than_real_time(room, cookies):
    # the clock stands still (a slow machine must not earn the device a second of allowance meanwhile)
    with time_machine.travel(dt.datetime.now(dt.timezone.utc), tick=False):
        await _eleven_seconds_at_once(room, cookies)


async def _eleven_seconds_at_once(room, cookies):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host:
        await joined(host)
        stream = await _start(host, [], ["II"], rate=100)
        # given the allowance of LIVE_ECG_AHEAD_SECONDS (10 s) ahead of the clock: 10 chunks of 1 s
        for seq in range(10):
            await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": seq, "leads": {"II": _b64([0] * 100)}})
        # when the device sends an 11th second at once
        await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": 10, "leads": {"II": _b64([0] * 100)}})
        # then it is refused
        error = (await receive_until(host, lambda f: f["type"] == "error"))[-1]
        assert error["code"] == "ecg_too_fast"
        assert await sync_to_async(lambda: EcgStream.objects.get(pk=stream).n_chunks)() == 10


async def test_a_chunk_after_the_stream_stopped_is_refused(room, cookies):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host:
        await joined(host)
        stream = await _start(host, [], ["II"])
        await host.send_json_to({"type": "ecg_stop", "stream": stream})
        stopped = (await receive_until(host, _is_event("ecg.stopped")))[-1]
        assert stopped["data"]["n_samples"] == 0
        await host.send_json_to({"type": "ecg_chunk", "stream": stream, "seq": 0, "leads": {"II": _b64([1])}})
        assert (await receive_until(host, lambda f: f["type"] == "error"))[-1]["code"] == "ecg_not_live"
        # an empty stream leaves no study behind
        assert await sync_to_async(lambda: EcgStream.objects.get(pk=stream).state)() == "discarded"


# --- replay ------------------------------------------------------------------------

def _uploaded_ecg(consultation, by, seconds: float) -> EcgRecord:
    """An ECG study of the consultation: the first `seconds` of the reference record, stored by ingest."""
    full = reference_ecg()
    n = int(seconds * full.sampling_rate)
    ecg = Ecg(leads={k: v[:n].copy() for k, v in full.leads.items()}, sampling_rate=full.sampling_rate,
              source_format="csv")
    with files_or_nothing() as files, transaction.atomic():
        return ecg_signal_store(parsed=ecg_measure(ecg), files=files, source=Source(
            by=by, organisation=by.organisation, consultation=consultation, patient=consultation.patient))


async def test_replaying_an_uploaded_ecg_plays_it_to_everyone_then_names_the_study(room, invite, cookies, people):
    record = await sync_to_async(_uploaded_ecg)(room.consultation, people["village_doctor"], 1.5)
    original = await sync_to_async(ecg_signal)(record)
    async with three_in_room(room, invite, cookies) as (host, expert, patient):
        # when the village doctor replays the consultation's ECG
        await host.send_json_to({"type": "ecg_replay", "ecg": record.pk})
        started = (await receive_until(expert, _is_event("ecg.started"), FRAME_TIMEOUT))[-1]["data"]
        assert started["source"] == "replay" and started["ecg"] == record.pk
        assert started["leads"] == record.lead_names and started["sampling_rate"] == 1000
        # then every participant, the host included, receives the whole record in 250 ms chunks
        for viewer in (host, expert, patient):
            frames = await _chunk_frames(viewer, 6)
            assert [f["n"] for f in frames] == [250] * 6
            for lead in record.lead_names:
                assert np.array_equal(_joined_samples(frames, lead), original.leads[lead])
            # and is told it finished, and that its samples are the study it replayed (not stored twice)
            stopped = (await receive_until(viewer, _is_event("ecg.stopped"), FRAME_TIMEOUT))[-1]["data"]
            assert stopped["reason"] == "finished" and stopped["n_samples"] == 1500
            saved = (await receive_until(viewer, _is_event("ecg.saved"), FRAME_TIMEOUT))[-1]["data"]
            assert saved["study"] == record.pk and saved["replayed"] is True
    assert await sync_to_async(EcgRecord.objects.filter(consultation=room.consultation).count)() == 1
    # and showing it to the room is audited as the host's read of that ECG
    assert await sync_to_async(AuditEvent.objects.filter(
        object_type="EcgRecord", object_id=str(record.pk), action="read", interface="ws",
        actor=people["village_doctor"]).exists)()


async def test_a_replay_stops_when_the_room_closes(room, cookies, people):
    record = await sync_to_async(_uploaded_ecg)(room.consultation, people["village_doctor"], 10)
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host, \
            socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
        await joined(host)
        await joined(expert)
        await host.send_json_to({"type": "ecg_replay", "ecg": record.pk})
        stream = (await receive_until(expert, _is_event("ecg.started"), FRAME_TIMEOUT))[-1]["data"]["stream"]
        await _chunk_frames(expert, 1)
        # when the host ends the room mid-replay
        await sync_to_async(rooms.room_close)(by=people["village_doctor"], room_id=room.pk)
        # then the stream is stopped before the room closes, and the replay task ends
        frames = await receive_until(expert, _is_event("room.closed"), FRAME_TIMEOUT)
        stopped = [f for f in frames if f.get("kind") == "ecg.stopped"]
        assert stopped and stopped[0]["data"]["reason"] == "room_closed"
        task = ecg_replay._running.get(stream)
        if task is not None:
            await task
    assert ecg_replay._running.get(stream) is None
    assert await sync_to_async(lambda: EcgStream.objects.get(pk=stream).state)() == "saved"


async def test_the_host_stops_a_replay(room, cookies, people):
    record = await sync_to_async(_uploaded_ecg)(room.consultation, people["village_doctor"], 10)
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host:
        await joined(host)
        await host.send_json_to({"type": "ecg_replay", "ecg": record.pk})
        stream = (await receive_until(host, _is_event("ecg.started"), FRAME_TIMEOUT))[-1]["data"]["stream"]
        await _chunk_frames(host, 1)
        task = ecg_replay._running[stream]
        # when the host stops it after its first chunk
        await host.send_json_to({"type": "ecg_stop", "stream": stream})
        # then the stream stops short of the record's end, and the replay task is cancelled
        stopped = (await receive_until(host, _is_event("ecg.stopped"), FRAME_TIMEOUT))[-1]["data"]
        assert stopped["reason"] == "stopped" and 0 < stopped["n_samples"] < 10_000
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert task.cancelled() and ecg_replay._running.get(stream) is None


async def test_a_replay_of_another_consultations_ecg_is_refused(room, cookies, people, consultation_factory):
    other = await sync_to_async(consultation_factory)(requested_by=people["village_doctor"])
    record = await sync_to_async(_uploaded_ecg)(other, people["village_doctor"], 1)
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host:
        await joined(host)
        await host.send_json_to({"type": "ecg_replay", "ecg": record.pk})
        assert (await receive_until(host, lambda f: f["type"] == "error"))[-1]["code"] == "no_such_ecg"
    assert not await sync_to_async(EcgStream.objects.exists)()


# --- the sweep -----------------------------------------------------------------------

def test_a_silent_stream_is_ended_and_saved_by_the_sweep(room, people, celery_worker_process, settings):
    # given a device stream whose sender vanished after 6 s of samples
    host = room.participants.get(role="host")
    stream = ecg_service.ecg_stream_start(participant_id=host.pk, leads=["II"], sampling_rate=500)
    settings.LIVE_ECG_AHEAD_SECONDS = 60
    lead = reference_ecg().leads["II"][::2][:3000]  # 6 s at 500 Hz
    for seq, first in enumerate(range(0, 3000, 500)):
        ecg_service.ecg_chunk_append(participant_id=host.pk, stream_id=stream.pk, seq=seq,
                                     leads={"II": lead[first:first + 500].astype("<i2")})
    # when beat's sweep runs with the stream past its idle time
    assert ecg_service.ecg_streams_sweep(idle_s=0) == 1
    # then it is stopped as idle and saved as a study by the worker
    import time

    deadline = time.monotonic() + 60
    while EcgStream.objects.get(pk=stream.pk).state != "saved":
        assert time.monotonic() < deadline, EcgStream.objects.get(pk=stream.pk).state
        time.sleep(0.2)
    stream.refresh_from_db()
    assert stream.stop_reason == "idle" and stream.study.n_samples == 3000
    assert ecg_service.ecg_streams_sweep(idle_s=0) == 0  # and a second run finds nothing to do


def test_the_ecg_sweep_is_on_the_beat_schedule():
    import live.tasks  # noqa: F401  (the worker finds it by autodiscovery: the save test runs it there)
    from teleclinic.celery import app, beat_schedule

    assert beat_schedule()["live-sweep-ecg-streams"]["task"] == "live.tasks.sweep_ecg_streams"
    assert {"live.tasks.sweep_ecg_streams", "live.tasks.ecg_stream_save_task"} <= set(app.tasks)
