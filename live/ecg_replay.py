"""Replaying an uploaded ECG into a room at real time: one asyncio task per stream, in the web
process whose socket asked for it. It sleeps between chunks; each chunk is a little numpy slicing
and one short transaction in a worker thread (services.ecg.ecg_replay_append), so Daphne's event
loop only wakes four times a second per replay.

It stops when the ECG ends, when the stream is stopped (by the host, the room closing, from any
process: the next append finds the stream ended), or when this process stops (beat's sweep then
ends the silent stream). The task outlives the socket that started it: a village doctor's dropped
4G link does not stop what everyone else is watching.
"""
import asyncio
import logging

from channels.db import database_sync_to_async
from django.conf import settings

from . import ecg_wire
from .services import ecg

log = logging.getLogger(__name__)

_running: dict[int, asyncio.Task] = {}  # stream id -> its task (a strong reference, or it may be collected)


def _db(fn):
    return database_sync_to_async(fn, thread_sensitive=False)


def replay_start(stream_id: int) -> asyncio.Task:
    """Start replaying a stream created by ecg.ecg_replay_start. Call from the event loop."""
    task = asyncio.get_running_loop().create_task(_replay(stream_id), name=f"ecg-replay-{stream_id}")
    _running[stream_id] = task
    task.add_done_callback(lambda _: _running.pop(stream_id, None))
    return task


def replay_cancel(stream_id: int) -> None:
    """Stop at once if it runs here (the stopped stream would stop it at its next chunk anyway)."""
    task = _running.get(stream_id)
    if task is not None:
        task.cancel()


async def _replay(stream_id: int) -> None:
    loop = asyncio.get_running_loop()
    try:
        leads, rate = await _db(ecg.ecg_replay_signal)(stream_id=stream_id)
        started = loop.time()
        for due, piece in ecg_wire.replay_pieces(leads, rate, settings.LIVE_ECG_CHUNK_SECONDS):
            delay = started + due - loop.time()
            if delay > 0:  # a piece is sent once its last sample "has been recorded"
                await asyncio.sleep(delay)
            if not await _db(ecg.ecg_replay_append)(stream_id=stream_id, leads=piece):
                return  # stopped meanwhile
        await _db(ecg.ecg_stream_end)(stream_id=stream_id, reason="finished")
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("replay of ECG stream %s failed", stream_id)
        try:
            await _db(ecg.ecg_stream_end)(stream_id=stream_id, reason="failed")
        except Exception:  # beat's sweep ends it when it falls silent
            log.exception("could not end ECG stream %s", stream_id)
