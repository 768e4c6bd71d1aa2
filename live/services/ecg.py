"""Live ECG in a room: start a stream (the village side's device, or a replay of an uploaded ECG),
append its chunks, stop it, save it as an ECG study of the consultation. docs/signalling.md.

What must not be lost goes through the database: the start, the stop and the saved study are
numbered room events; every chunk is a row (EcgChunk) before it is fanned out, so a socket that
missed some reads them back, and the study is made from the rows, whatever process received them.
Chunks are not room events: a stream sends four a second, and every room event takes the room's
row lock. Locks, in this order: the room (events.lock_room), then the stream.
"""
import datetime as dt
import logging
import math

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.services import audit_record
from directory.access import VIEW, scoped
from studies.formats.ecg.model import build_ecg
from studies.formats.errors import FormatError
from studies.models import EcgRecord
from studies.selectors import ecg_signal
from studies.services.ecg_store import ecg_measure, ecg_signal_store
from studies.services.sources import Source
from studies.services.storage import files_or_nothing
from teleclinic.errors import Conflict, InvalidInput, NotFound, NotPermitted
from teleclinic.events import enqueue_on_commit, group_send_on_commit

from .. import ecg_wire
from ..models import EcgChunk, EcgStream, Participant, Room
from .events import event_append, lock_room, room_group

log = logging.getLogger(__name__)
S = EcgStream.State
SAVE_TASK = "live.tasks.ecg_stream_save_task"


# --- starting -------------------------------------------------------------------

def ecg_stream_start(*, participant_id: int, leads: list[str], sampling_rate: float) -> EcgStream:
    """The host starts streaming from a device on the village side; event ecg.started."""
    room_id = _room_id_of(participant_id)
    with transaction.atomic():
        room, by = _host_in_open_room(room_id, participant_id)
        return _start(room, by, source=EcgStream.Source.DEVICE, leads=leads, rate=float(sampling_rate))


def ecg_replay_start(*, participant_id: int, ecg_id: int) -> EcgStream:
    """The host replays an ECG study of this consultation at real time (live.ecg_replay sends it)."""
    room_id = _room_id_of(participant_id)
    with transaction.atomic():
        room, by = _host_in_open_room(room_id, participant_id)
        record = scoped(by.user, EcgRecord.objects.filter(consultation_id=room.consultation_id), VIEW).filter(
            pk=ecg_id).first()
        if record is None:
            raise NotFound("No such ECG in this consultation; choose one of its uploaded ECGs.", code="no_such_ecg")
        if not ecg_wire.MIN_RATE <= record.sampling_rate <= ecg_wire.MAX_RATE:
            raise InvalidInput(f"This ECG was sampled at {record.sampling_rate:g} Hz; a replay needs "
                               f"{ecg_wire.MIN_RATE}-{ecg_wire.MAX_RATE} Hz.", code="ecg_rate_unsupported")
        stream = _start(room, by, source=EcgStream.Source.REPLAY, leads=list(record.lead_names),
                        rate=record.sampling_rate, replay_of=record)
        # the host shows it to everyone in the room: a read of the ECG, on their account
        audit_record(actor=by.user, action="read", obj=record, interface="ws",
                     detail={"live_room": room.pk, "ecg_stream": stream.pk})
        return stream


def _start(room: Room, by: Participant, *, source: str, leads: list[str], rate: float,
           replay_of: EcgRecord | None = None) -> EcgStream:
    """Precondition: holding the room's lock."""
    current = EcgStream.objects.filter(room=room, state=S.LIVE).first()
    if current is not None:
        if _last_activity(current) > timezone.now() - dt.timedelta(seconds=settings.LIVE_ECG_IDLE_SECONDS):
            raise Conflict("An ECG is already being shown in this room; stop it first.", code="ecg_busy")
        _stop(room, current, reason="idle")  # its sender is gone; do not wait for beat's sweep
    stream = EcgStream.objects.create(room=room, started_by=by, source=source, lead_names=leads,
                                      sampling_rate=rate, replay_of=replay_of)
    event_append(room=room, kind="ecg.started", participant=by, data={
        "stream": stream.pk, "source": source, "leads": leads, "sampling_rate": rate,
        "units": "uV", "encoding": ecg_wire.ENCODING, "ecg": replay_of.pk if replay_of else None})
    return stream


def _host_in_open_room(room_id: int, participant_id: int) -> tuple[Room, Participant]:
    """Locks the room. Only the admitted host (the village side) shows an ECG; everyone may watch."""
    room = lock_room(room_id)
    if room.state != Room.State.OPEN:
        raise NotFound("This live room has ended.", code="room_closed")
    by = Participant.objects.select_related("user").get(pk=participant_id, room=room)
    if by.role != Participant.Role.HOST or by.state != Participant.State.ADMITTED:
        raise NotPermitted("Only the village doctor hosting the room shows an ECG.", code="not_host")
    return room, by


def _room_id_of(participant_id: int) -> int:
    return Participant.objects.values_list("room_id", flat=True).get(pk=participant_id)


def _last_activity(stream: EcgStream) -> dt.datetime:
    return stream.last_chunk_at or stream.started_at


# --- chunks -----------------------------------------------------------------------

def ecg_chunk_append(*, participant_id: int, stream_id: int, seq: int, leads: dict[str, np.ndarray],
                     connection: str = "") -> EcgChunk:
    """A chunk from the device of the participant who started the stream. Stored, then fanned out to
    the room's other sockets (not back to `connection`, which drew it already)."""
    with transaction.atomic():
        stream = _live_stream(stream_id)
        if stream.started_by_id != participant_id or stream.source != EcgStream.Source.DEVICE:
            raise NotPermitted("Only the device that started this ECG stream sends its samples.", code="not_streamer")
        if seq != stream.n_chunks:
            raise Conflict(f"Chunk {seq} is out of order: stream {stream.pk} expects chunk {stream.n_chunks} "
                           "next (the welcome frame's ecg.next_seq after a reconnect).", code="ecg_seq")
        _check_chunk(stream, leads)
        return _append(stream, leads, exclude=connection)


def ecg_replay_append(*, stream_id: int, leads: dict[str, np.ndarray]) -> bool:
    """The next piece of a replay (live.ecg_replay). False once the stream has ended: the replay stops."""
    with transaction.atomic():
        stream = EcgStream.objects.select_for_update().filter(pk=stream_id).first()
        if stream is None or stream.state != S.LIVE:
            return False
        _append(stream, leads, exclude="")
    return True


def _live_stream(stream_id: int) -> EcgStream:
    stream = EcgStream.objects.select_for_update().filter(pk=stream_id).first()
    if stream is None:
        raise NotFound("No such ECG stream.", code="no_such_stream")
    if stream.state != S.LIVE:
        raise Conflict("This ECG stream has ended; start a new one.", code="ecg_not_live")
    return stream


def _check_chunk(stream: EcgStream, leads: dict[str, np.ndarray]) -> None:
    if set(leads) != set(stream.lead_names):
        raise InvalidInput(f"A chunk of this stream carries exactly the leads {', '.join(stream.lead_names)}.",
                           code="ecg_leads_mismatch")
    n = len(next(iter(leads.values())))
    rate = stream.sampling_rate
    if n > math.ceil(rate * ecg_wire.MAX_CHUNK_SECONDS):
        raise InvalidInput(f"A chunk carries at most {ecg_wire.MAX_CHUNK_SECONDS:g} s of samples "
                           f"({math.ceil(rate * ecg_wire.MAX_CHUNK_SECONDS)} at {rate:g} Hz).", code="ecg_chunk_too_long")
    if stream.n_samples + n > settings.LIVE_ECG_MAX_SECONDS * rate:
        raise InvalidInput(f"A live ECG lasts at most {settings.LIVE_ECG_MAX_SECONDS} s; stop this one "
                           "(it is saved) and start another.", code="ecg_too_long")
    elapsed = (timezone.now() - stream.started_at).total_seconds()
    if stream.n_samples + n > (elapsed + settings.LIVE_ECG_AHEAD_SECONDS) * rate:
        raise InvalidInput("Samples arrive faster than real time; send them as they are recorded.",
                           code="ecg_too_fast")


def _append(stream: EcgStream, leads: dict[str, np.ndarray], *, exclude: str) -> EcgChunk:
    """Precondition: holding the stream's lock, the chunk checked."""
    raw = ecg_wire.pack(leads, stream.lead_names)
    n = len(raw) // (2 * len(stream.lead_names))
    chunk = EcgChunk.objects.create(stream=stream, seq=stream.n_chunks, start=stream.n_samples, n_samples=n,
                                    samples=raw)
    EcgStream.objects.filter(pk=stream.pk).update(n_chunks=F("n_chunks") + 1, n_samples=F("n_samples") + n,
                                                  last_chunk_at=timezone.now())
    frame = ecg_wire.chunk_frame(stream=stream.pk, seq=chunk.seq, start=chunk.start, raw=raw,
                                 lead_names=stream.lead_names)
    room_id = stream.room_id
    # The chunk is stored; a socket that misses this fan-out reads it back on the next one. Sent before the
    # thread goes on (not handed to the loop): the chunks of a stream reach the sockets in order.
    group_send_on_commit(room_group(room_id), {"type": "room.ecg_chunk", "chunk": frame, "exclude": exclude})
    return chunk


# --- stopping and saving -----------------------------------------------------------

def ecg_stream_stop(*, participant_id: int, stream_id: int) -> EcgStream:
    """The host stops the stream; event ecg.stopped, then it is saved (ecg.saved)."""
    room_id = _room_id_of(participant_id)
    with transaction.atomic():
        room, _ = _host_in_open_room(room_id, participant_id)
        stream = EcgStream.objects.select_for_update().filter(pk=stream_id, room=room).first()
        if stream is None:
            raise NotFound("No such ECG stream in this room.", code="no_such_stream")
        if stream.state != S.LIVE:
            raise Conflict("This ECG stream has ended already.", code="ecg_not_live")
        _stop(room, stream, reason="stopped")
    return stream


def ecg_stream_end(*, stream_id: int, reason: str) -> None:
    """End a stream without a host's hand: a replay played to its end (`finished`) or broke (`failed`), a
    silent one (`idle`). Nothing happens if it was stopped already."""
    room_id = EcgStream.objects.values_list("room_id", flat=True).get(pk=stream_id)
    with transaction.atomic():
        room = lock_room(room_id)
        stream = EcgStream.objects.select_for_update().get(pk=stream_id)
        if stream.state == S.LIVE:
            _stop(room, stream, reason=reason)


def ecg_streams_stop(*, room: Room, reason: str, started_by: Participant | None = None) -> None:
    """Stop the room's live stream (of `started_by` only, if given): the room closes, the host leaves.
    Precondition: holding the room's lock."""
    streams = EcgStream.objects.select_for_update().filter(room=room, state=S.LIVE)
    if started_by is not None:
        streams = streams.filter(started_by=started_by)
    for stream in streams:
        _stop(room, stream, reason=reason)


def _stop(room: Room, stream: EcgStream, *, reason: str) -> None:
    """Precondition: holding the room's lock (and the stream's). A replay's samples are in the study it
    replayed: it is not stored twice. A device stream becomes a study (ecg_stream_save, in Celery)."""
    stream.refresh_from_db(fields=["n_chunks", "n_samples"])
    stream.state, stream.stop_reason, stream.ended_at = S.ENDED, reason, timezone.now()
    event_append(room=room, kind="ecg.stopped", participant=stream.started_by, data={
        "stream": stream.pk, "reason": reason, "n_samples": stream.n_samples,
        "duration_s": round(stream.n_samples / stream.sampling_rate, 3)})
    if stream.source == EcgStream.Source.REPLAY:
        stream.state, stream.study_id = S.SAVED, stream.replay_of_id
        _saved_event(room, stream, critical=[f["code"] for f in stream.replay_of.critical_findings])
        stream.chunks.all().delete()
    elif stream.n_samples < 2:
        stream.state = S.DISCARDED
    else:
        enqueue_on_commit(SAVE_TASK, stream.pk)
    stream.save(update_fields=["state", "stop_reason", "ended_at", "study"])


def _saved_event(room: Room, stream: EcgStream, *, critical: list[str]) -> None:
    event_append(room=room, kind="ecg.saved", participant=stream.started_by, data={
        "stream": stream.pk, "study": stream.study_id, "critical": critical,
        "replayed": stream.source == EcgStream.Source.REPLAY})


def ecg_stream_save(*, stream_id: int) -> EcgStream:
    """An ended device stream -> an ECG study of the consultation, measured like an upload (critical
    findings raise it to stat; the expert is told); event ecg.saved. Safe to run twice (state guard)."""
    stream = EcgStream.objects.select_related("room__consultation__patient", "started_by__user").get(pk=stream_id)
    if stream.state != S.ENDED:
        return stream
    raws = [bytes(r) for r in stream.chunks.order_by("seq").values_list("samples", flat=True)]
    try:  # parse and measure outside the transaction: it takes a while, the room must not wait
        ecg = build_ecg(names=stream.lead_names, microvolts=ecg_wire.assemble(raws, stream.lead_names),
                        sampling_rate=stream.sampling_rate, source_format="live")
        parsed = ecg_measure(ecg, patient=stream.room.consultation.patient)
    except FormatError as exc:
        return ecg_stream_save_failed(stream_id=stream_id, code=exc.code, message=exc.message)
    by = stream.started_by.user
    with files_or_nothing() as files, transaction.atomic():
        room = lock_room(stream.room_id)
        stream = EcgStream.objects.select_for_update().get(pk=stream_id)
        if stream.state != S.ENDED:
            return stream
        consultation = room.consultation
        record = ecg_signal_store(parsed=parsed, files=files, source=Source(
            by=by, organisation=by.organisation if by else None, consultation=consultation,
            patient=consultation.patient, interface="ws"))
        stream.state, stream.study = S.SAVED, record
        stream.save(update_fields=["state", "study"])
        stream.chunks.all().delete()
        _saved_event(room, stream, critical=[f["code"] for f in record.critical_findings])
    return stream


def ecg_stream_save_failed(*, stream_id: int, code: str, message: str) -> EcgStream:
    """The samples could not be made a study: say so in the room (event ecg.save_failed); the rows stay."""
    room_id = EcgStream.objects.values_list("room_id", flat=True).get(pk=stream_id)
    with transaction.atomic():
        room = lock_room(room_id)
        stream = EcgStream.objects.select_for_update().get(pk=stream_id)
        if stream.state != S.ENDED:
            return stream
        stream.state, stream.error = S.FAILED, f"{code}: {message}"[:255]
        stream.save(update_fields=["state", "error"])
        event_append(room=room, kind="ecg.save_failed", participant=stream.started_by,
                     data={"stream": stream.pk, "code": code, "detail": message})
    return stream


def ecg_streams_sweep(*, idle_s: float | None = None, stale_s: float = 300) -> int:
    """Beat's safety net: end live streams silent for LIVE_ECG_IDLE_SECONDS (their sender or the process
    replaying them is gone), and save again those ended but unsaved after `stale_s` (a lost task)."""
    now = timezone.now()
    idle_cutoff = now - dt.timedelta(seconds=settings.LIVE_ECG_IDLE_SECONDS if idle_s is None else idle_s)
    idle = list(EcgStream.objects.annotate(active=Coalesce("last_chunk_at", "started_at")).filter(
        state=S.LIVE, active__lt=idle_cutoff).values_list("pk", flat=True)[:200])
    for stream_id in idle:
        ecg_stream_end(stream_id=stream_id, reason="idle")
    unsaved = list(EcgStream.objects.filter(state=S.ENDED, ended_at__lt=now - dt.timedelta(seconds=stale_s))
                   .values_list("pk", flat=True)[:200])
    for stream_id in unsaved:
        enqueue_on_commit(SAVE_TASK, stream_id)
    return len(idle) + len(unsaved)


def ecg_replay_signal(*, stream_id: int) -> tuple[dict[str, np.ndarray], float]:
    """The samples a replay plays: the uploaded ECG's leads (int32 microvolts) and rate."""
    stream = EcgStream.objects.select_related("replay_of").get(pk=stream_id)
    ecg = ecg_signal(stream.replay_of)
    return {name: ecg.leads[name] for name in stream.lead_names}, ecg.sampling_rate
