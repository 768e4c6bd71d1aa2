"""Restart Redis during live use: reports signed in the outage are committed and reach the clinic,
and the room's sockets resume with no gap in seq.

Everything real: a Daphne process serving the clinic's /ws/notifications/ and two /ws/rooms/<id>/
sockets, a Celery worker rendering and delivering on a private queue, the machine's Redis
(broker and channel layer: the one REDIS_URL names), shut down and started again. Redis is shared
with other suites, so this is one of two tests that restart it, and the outage lasts about a second.
"""
import asyncio
import json
import re
import time
import uuid
from collections import Counter

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from reports.models import Delivery
from reports.services import drafting
from reports.services.delivery import deliveries_sweep
from tests.conftest import postgres_url
from tests.ops.processes import daphne
from tests.ops.test_scaled_stack import session_cookie
from tests.reports.conftest import MEASUREMENTS, fill
from tests import redis_server
from tests.reports.workers import (reports_tasks_routed_to, start_worker, stop_worker,
                                   wait_for_other_sessions_to_end)
from tests.reports.realdata import stored_real_ecg_ref

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


class Socket:
    """A browser's socket through Daphne: every frame it receives, and whether it is still open."""

    def __init__(self, url: str, cookie: str):
        self.url, self.cookie, self.frames, self.closed = url, cookie, [], False

    async def open(self) -> "Socket":
        origin = self.url.split("/ws/")[0].replace("ws://", "http://")
        self.socket = await connect(self.url, origin=origin, additional_headers={"Cookie": self.cookie},
                                    open_timeout=10)
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for raw in self.socket:
                self.frames.append(json.loads(raw))
        except ConnectionClosed:
            pass
        self.closed = True

    async def send(self, frame: dict) -> None:
        await self.socket.send(json.dumps(frame))

    async def wait_for(self, predicate, deadline_s: float = 30) -> dict:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            for frame in self.frames:
                if predicate(frame):
                    return frame
            await asyncio.sleep(0.05)
        raise AssertionError(f"no such frame within {deadline_s} s; got {self.frames[-10:]}")

    async def close(self) -> None:
        await self.socket.close()
        await self.reader

    def seqs(self) -> list[int]:
        return [f["seq"] for f in self.frames if f.get("type") == "event"]

    def chats(self) -> list[str]:
        return [f["data"]["text"] for f in self.frames if f.get("type") == "event" and f["kind"] == "chat"]

    def reports(self, kind: str) -> list[int]:
        return [f["report"] for f in self.frames if f.get("type") == kind]


def _drafts(expert, assigned, count: int) -> list[int]:
    ids = []
    for _ in range(count):
        consultation = assigned()
        report = drafting.report_start(consultation_id=consultation.pk, kind="ecg", by=expert,
                                       study_ref=stored_real_ecg_ref(consultation), measurements=MEASUREMENTS)
        drafting.draft_save(report_id=report.pk, by=expert, content=fill("ecg"))
        ids.append(report.pk)
    return ids


def _delivered() -> int:
    return Delivery.objects.filter(state=Delivery.State.DELIVERED).count()


async def _wait_delivered(count: int, deadline_s: float = 90) -> int:
    """Wait for `count` deliveries, running the outbox sweep (beat: every 15 s) whenever none is made for 3 s."""
    end, last, since = time.monotonic() + deadline_s, -1, time.monotonic()
    while (done := await asyncio.to_thread(_delivered)) < count and time.monotonic() < end:
        if done != last:
            last, since = done, time.monotonic()
        elif time.monotonic() - since > 3:
            await asyncio.to_thread(deliveries_sweep, stale_after_s=0)
            since = time.monotonic()
        await asyncio.sleep(0.2)
    return done


def test_after_a_redis_restart_no_signed_report_is_lost_and_room_sockets_resume_without_a_gap(
        people, assigned, room, settings, tmp_path):
    # given a Daphne process, a Celery worker delivering reports (e-mail to files), four drafted reports
    expert, doctor = people["expert"], people["village_doctor"]
    doctor.email = "vdoc@clinic.example"
    doctor.save()
    media, mail = tmp_path / "media", tmp_path / "mail"
    settings.MEDIA_ROOT = str(media)
    worker_env = {"MEDIA_ROOT": str(media), "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                  "EMAIL_FILE_PATH": str(mail), "REPORTS_OUTBOUND_CHANNELS": "email"}  # the product's study loader
    report_ids = _drafts(expert, assigned, 4)
    cookies = {"doctor": session_cookie(doctor), "expert": session_cookie(expert)}
    queue = f"ops-redis-{uuid.uuid4().hex[:8]}"
    redis_start = redis_server.start_command()  # REDIS_URL's server, as it runs now
    with reports_tasks_routed_to(queue), daphne(tmp_path, MEDIA_ROOT=str(media)) as server:
        worker = start_worker(database_url=postgres_url(), queue=queue, log=tmp_path / "worker.log", env=worker_env)
        try:
            result = asyncio.run(_scenario(server, cookies, report_ids, expert, room.pk))
        finally:
            stop_worker(worker)
            if not redis_server.ping():  # never leave the Redis down
                redis_server.up(redis_start)
    wait_for_other_sessions_to_end()
    print(json.dumps({k: v for k, v in result.items() if k not in ("doctor_room", "expert_room")}))
    # then the signatures made while Redis was down were committed, and every report was delivered once
    assert result["signed_during_outage"] == report_ids[1:3]
    deliveries = list(Delivery.objects.select_related("version").order_by("id"))
    assert sorted(d.version.report_id for d in deliveries) == sorted(report_ids)
    assert all(d.state == Delivery.State.DELIVERED and d.attempts == 1 for d in deliveries)
    mailed = Counter(m for p in mail.glob("*") for m in re.findall(r"Message-ID: <(delivery-\d+)@", p.read_text()))
    assert mailed == Counter({f"delivery-{d.pk}": 1 for d in deliveries})
    # and the clinic, reconnecting, is sent every report once in its pending list, each with its PDF
    assert Counter(result["pending_on_reconnect"]) == Counter(report_ids)
    assert result["pending_pdfs"] == len(report_ids)
    # and the socket it kept open through the restart still hears reports signed after it
    assert report_ids[0] in result["live_arrived"] and report_ids[3] in result["live_arrived"]
    # and each room socket saw every event once, in order, with no gap, the chats of the outage included
    for name in ("doctor_room", "expert_room"):
        seqs = result[name]["seqs"]
        assert seqs == list(range(1, len(seqs) + 1)), (name, seqs)
        assert result[name]["chats"] == ["before", "during-1", "during-2", "after"], result[name]


async def _scenario(server, cookies: dict, report_ids: list[int], expert, room_id: int) -> dict:
    ws = server.url.replace("http://", "ws://")
    clinic = await Socket(f"{ws}/ws/notifications/", cookies["doctor"]).open()
    doctor_room = await Socket(f"{ws}/ws/rooms/{room_id}/", cookies["doctor"]).open()
    expert_room = await Socket(f"{ws}/ws/rooms/{room_id}/", cookies["expert"]).open()
    sign = lambda report_id: asyncio.to_thread(  # noqa: E731
        lambda: drafting.report_sign(report_id=report_id, by=expert).report_id)
    try:
        for socket in (doctor_room, expert_room):
            await socket.send({"type": "join"})
        # and report 1 arrives at the clinic live, and a chat reaches the room
        await sign(report_ids[0])
        await clinic.wait_for(lambda f: f.get("type") == "report.arrived" and f["report"] == report_ids[0], 60)
        await expert_room.send({"type": "chat", "text": "before"})
        await doctor_room.wait_for(lambda f: f.get("kind") == "chat")
        # when Redis goes down; reports 2 and 3 are signed and two chats are sent meanwhile; Redis comes back
        began = time.monotonic()
        redis_start = await asyncio.to_thread(redis_server.down)
        signed_during = [await sign(report_ids[1]), await sign(report_ids[2])]
        for text in ("during-1", "during-2"):
            await expert_room.send({"type": "chat", "text": text})
        await asyncio.sleep(0.3)
        await asyncio.to_thread(redis_server.up, redis_start)
        outage_s = time.monotonic() - began
        # and report 4 is signed and a chat sent after it
        await sign(report_ids[3])
        await expert_room.send({"type": "chat", "text": "after"})
        delivered = await _wait_delivered(len(report_ids))
        await asyncio.sleep(2)  # live frames still on their way
        # and the clinic reconnects (its page reloads), and the doctor's room socket resumes from its last seq
        reconnected = await Socket(f"{ws}/ws/notifications/", cookies["doctor"]).open()
        await reconnected.wait_for(lambda f: f.get("type") == "hello")
        await asyncio.sleep(1.5)
        await doctor_room.close()
        resumed = await Socket(f"{ws}/ws/rooms/{room_id}/", cookies["doctor"]).open()
        await resumed.send({"type": "join", "last_seq": max(doctor_room.seqs(), default=0)})
        await asyncio.sleep(1.5)
        return {
            "outage_s": round(outage_s, 2), "signed_during_outage": signed_during, "delivered": delivered,
            "live_arrived": clinic.reports("report.arrived"), "clinic_socket_closed_by_restart": clinic.closed,
            "pending_on_reconnect": reconnected.reports("report.pending"),
            "pending_pdfs": sum(1 for f in reconnected.frames if f.get("type") == "report.pending" and f["pdf"]),
            "doctor_room": {"seqs": doctor_room.seqs() + resumed.seqs(),
                            "chats": doctor_room.chats() + resumed.chats()},
            "doctor_frames_before_resume": [(f["seq"], f["kind"], f["data"].get("text")) for f in doctor_room.frames
                                            if f.get("type") == "event"],
            "doctor_seqs_on_resume": resumed.seqs(),
            "expert_room": {"seqs": expert_room.seqs(), "chats": expert_room.chats()},
            "expert_room_socket_closed_by_restart": expert_room.closed,
        }
    finally:
        for socket in (clinic, doctor_room, expert_room, locals().get("reconnected"), locals().get("resumed")):
            if socket is not None and not socket.closed:
                await socket.close()
