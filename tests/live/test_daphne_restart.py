"""A client resumes from its last seq after the Daphne process itself restarts (real subprocesses)."""
import asyncio
import json
import time

import pytest
import websockets
from asgiref.sync import sync_to_async

from live.models import Participant
from live.services import rooms
from tests.conftest import postgres_url
from tests.live.conftest import session_cookie
from tests.live.servers import server_env, start_daphne, stop

pytestmark = pytest.mark.django_db(transaction=True)


async def _join(port: int, room_id: int, cookie: bytes, last_seq=None):
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/rooms/{room_id}/", origin=f"http://127.0.0.1:{port}",
                                  additional_headers={"Cookie": cookie.decode()})
    await ws.send(json.dumps({"type": "join"} if last_seq is None else {"type": "join", "last_seq": last_seq}))
    welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome"
    return ws, welcome


async def _events_until(ws, seq: int) -> list[dict]:
    events = []
    while not events or events[-1]["seq"] < seq:
        frame = json.loads(await ws.recv())
        if frame["type"] == "event":
            events.append(frame)
    return events


async def test_client_resumes_without_gaps_after_a_daphne_restart(room, people, tmp_path):
    env = await sync_to_async(lambda: server_env(postgres_url()))()
    cookie = await sync_to_async(session_cookie)(people["expert"])
    daphne, port = await sync_to_async(start_daphne)(env, tmp_path / "daphne-1.log")
    try:
        # given the expert's socket has seen every event so far
        ws, welcome = await _join(port, room.pk, cookie)
        seen = (await _events_until(ws, welcome["last_seq"]))[-1]["seq"]
    finally:
        # when the Daphne process goes away (a restart, a deploy)
        await sync_to_async(stop)(daphne)
    # and the room goes on meanwhile (another Daphne process would serve the host)
    host = await sync_to_async(Participant.objects.get)(room=room, role="host")
    for n in range(3):
        await sync_to_async(rooms.chat_post)(participant_id=host.pk, text=f"重启期间 {n}")
    daphne, port = await sync_to_async(start_daphne)(env, tmp_path / "daphne-2.log")
    try:
        # then the client reconnects to the new process with its last seq and gets every missed event once
        ws, welcome = await _join(port, room.pk, cookie, last_seq=seen)
        events = await _events_until(ws, welcome["last_seq"])
        assert [e["seq"] for e in events] == list(range(seen + 1, welcome["last_seq"] + 1))
        chats = [e["data"]["text"] for e in events if e["kind"] == "chat"]
        assert chats == ["重启期间 0", "重启期间 1", "重启期间 2"]
        await ws.close()
        deadline = time.monotonic() + 10  # let the server record the disconnect before the flush
        while await sync_to_async(Participant.objects.filter(connected=True, role="expert").exists)():
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await sync_to_async(stop)(daphne)
