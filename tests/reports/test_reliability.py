"""Reliability of delivery, for real: a SIGKILLed worker, a rolled-back signature, a Redis restart.

Each test runs its own Celery worker processes on a private queue, the Redis channel layer,
and the clinic's real /ws/notifications/ socket.
"""
import asyncio
import re
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from reports.models import Delivery
from reports.services import drafting
from reports.services.delivery import deliveries_sweep
from teleclinic.asgi import application
from tests import redis_server
from tests.conftest import postgres_url

from .conftest import MEASUREMENTS, fill
from .realdata import stored_real_ecg_ref
from .smtp import StallingSmtpServer
from .workers import kill_group, reports_tasks_routed_to, start_worker, stop_worker, wait_for_other_sessions_to_end

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(cookie: bytes) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/notifications/",
                                         headers=[(b"cookie", cookie), (b"origin", b"http://localhost")])
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    assert (await communicator.receive_json_from(timeout=10))["type"] == "hello"
    return communicator


async def _frames(communicator, *, until=None, quiet_s: float, deadline_s: float) -> list[dict]:
    """Frames received until `until(frames)` holds and nothing more came for quiet_s, or the deadline."""
    frames, end = [], time.monotonic() + deadline_s
    while time.monotonic() < end:
        # receive_nothing, not a receive timeout: the latter cancels the consumer under test
        if await communicator.receive_nothing(timeout=quiet_s, interval=0.05):
            if until is None or until(frames):
                break
            continue
        frames.append(await communicator.receive_json_from(timeout=5))
    return frames


def _drafts(people, assigned, count: int) -> list[int]:
    """`count` filled-in ECG reports of the expert, not yet signed; their ids."""
    ids = []
    for _ in range(count):
        consultation = assigned(urgency="stat")
        report = drafting.report_start(consultation_id=consultation.pk, kind="ecg", by=people["expert"],
                                       study_ref=stored_real_ecg_ref(consultation), measurements=MEASUREMENTS)
        drafting.draft_save(report_id=report.pk, by=people["expert"], content=fill("ecg"))
        ids.append(report.pk)
    return ids


def _delivered_count() -> int:
    return Delivery.objects.filter(state=Delivery.State.DELIVERED).count()


async def _wait_delivered(count: int, deadline_s: float) -> int:
    end = time.monotonic() + deadline_s
    while (done := await sync_to_async(_delivered_count)()) < count and time.monotonic() < end:
        await asyncio.sleep(0.2)
    return done


@pytest.fixture
def relay():
    server = StallingSmtpServer()
    yield server
    server.close()


@pytest.fixture
def worker_env(tmp_path, relay):
    return {"MEDIA_ROOT": str(tmp_path / "media"), "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(relay.port), "EMAIL_TIMEOUT": "120",
            "REPORTS_OUTBOUND_CHANNELS": "email,sms"}  # the product's study loader: the stored ECG


@pytest.fixture
def queue():
    name = f"reports-test-{uuid.uuid4().hex[:8]}"
    with reports_tasks_routed_to(name):
        yield name


@pytest.fixture
def clinic(people):
    doctor = people["village_doctor"]
    doctor.email, doctor.phone = "vdoc@clinic.example", "13900000001"
    doctor.save()
    return doctor


async def test_workers_killed_while_rendering_and_while_delivering_still_deliver_each_report_exactly_once(
        people, assigned, clinic, queue, worker_env, relay, tmp_path, settings):
    # given the village clinic's open socket, a worker on the test database, and 10 signed reports
    # (plus one signature that rolled back)
    settings.MEDIA_ROOT = worker_env["MEDIA_ROOT"]
    n = 10
    report_ids = await sync_to_async(_drafts)(people, assigned, n + 1)
    socket = await _connect(await sync_to_async(_cookie)(clinic))
    database_url = await sync_to_async(postgres_url)()
    workers, logs = [], [tmp_path / f"w{i}.log" for i in (1, 2, 3)]

    async def start(log):
        workers.append(await sync_to_async(start_worker)(database_url=database_url, queue=queue, log=log,
                                                         env=worker_env))
        return workers[-1]

    try:
        first = await start(logs[0])
        await sync_to_async(_sign_one_then_roll_back)(people["expert"], report_ids[-1])
        for report_id in report_ids[:n]:
            await sync_to_async(drafting.report_sign)(report_id=report_id, by=people["expert"])
        # when the first worker is SIGKILLed (with its pool child) in the middle of rendering a PDF
        await _wait_for_log(logs[0], lambda text: len(_in_flight(text, "render_pdf")) == 1
                            and text.count("render_pdf[") >= 5)
        kill_group(first)
        killed_rendering = _in_flight(logs[0].read_text(), "render_pdf")
        # and the second is SIGKILLed in the middle of a delivery, its mail relay hanging after 3 deliveries
        # (the relay hangs on the 4th message itself: the deliveries come in a burst once the
        # renders are done, faster than the test could react between two of them)
        relay.stall_after = 3
        second = await start(logs[1])
        await sync_to_async(deliveries_sweep)(stale_after_s=0)  # what beat runs every 15 s
        assert await sync_to_async(relay.stalled.wait)(90)
        kill_group(second)
        killed_delivering = _in_flight(logs[1].read_text(), "deliver")
        at_kill = await sync_to_async(_delivered_count)()
        # and a third worker starts and the sweeper runs
        await start(logs[2])
        await sync_to_async(deliveries_sweep)(stale_after_s=0)
        assert await _wait_delivered(n, deadline_s=120) == n
        frames = await _frames(socket, quiet_s=2.0, deadline_s=30,
                               until=lambda fs: len([f for f in fs if f["type"] == "report.arrived"]) >= n)
    finally:
        for proc in workers:
            await sync_to_async(stop_worker)(proc)
        await socket.disconnect()
        await sync_to_async(wait_for_other_sessions_to_end)()
    assert len(killed_rendering) == 1 and len(killed_delivering) == 1 and 3 <= at_kill < n
    # then the socket was notified of each report exactly once, each with its PDF ready
    arrived = [f["report"] for f in frames if f["type"] == "report.arrived"]
    assert sorted(arrived) == sorted(report_ids[:n])
    assert all(f["pdf"] for f in frames if f["type"] == "report.arrived")
    # and the relay accepted exactly one e-mail per report, and one SMS went out per report
    mailed = [int(m) for m in re.findall(rb"Message-ID: <delivery-(\d+)@", b"".join(relay.accepted))]
    delivery_ids = await sync_to_async(lambda: sorted(Delivery.objects.values_list("id", flat=True)))()
    assert sorted(mailed) == delivery_ids and len(delivery_ids) == n
    text = "".join(log.read_text() for log in logs)
    texted = [int(m) for m in re.findall(r"SMS to 139\*\*\*\*0001: .*?报告 #(\d+) 第 1 版", text)]
    assert sorted(texted) == sorted(report_ids[:n])
    print(f"killed while rendering ({killed_rendering}) and while delivering ({killed_delivering}), "
          f"{at_kill}/{n} delivered at the second kill")


async def _wait_for_log(log, condition, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while not condition(log.read_text()):
        assert time.monotonic() < end, log.read_text()[-2000:]
        await asyncio.sleep(0.01)


def _sign_one_then_roll_back(expert, report_id: int) -> None:
    try:
        with transaction.atomic():
            drafting.report_sign(report_id=report_id, by=expert)
            raise RuntimeError("the request fails after the signature")
    except RuntimeError:
        pass


def _in_flight(text: str, task: str) -> list[str]:
    """Ids of `task` runs a worker's log shows received and not finished."""
    received = re.findall(rf"Task reports\.{task}\[([0-9a-f-]+)\] received", text)
    return [task_id for task_id in received if f"[{task_id}] succeeded" not in text]


async def test_after_a_redis_restart_the_clinic_gets_every_report_through_the_pending_list(
        people, assigned, clinic, queue, worker_env, tmp_path, settings):
    # given the clinic connected and report A delivered to its socket live
    settings.MEDIA_ROOT = worker_env["MEDIA_ROOT"]
    first_id, second_id = await sync_to_async(_drafts)(people, assigned, 2)
    cookie = await sync_to_async(_cookie)(clinic)
    socket = await _connect(cookie)
    worker = await sync_to_async(start_worker)(database_url=await sync_to_async(postgres_url)(), queue=queue,
                                               log=tmp_path / "w.log", env=worker_env)
    reconnected = None
    try:
        await sync_to_async(drafting.report_sign)(report_id=first_id, by=people["expert"])
        live = await _frames(socket, quiet_s=1.0, deadline_s=60,
                             until=lambda fs: any(f.get("report") == first_id for f in fs))
        assert [f["report"] for f in live if f["type"] == "report.arrived"] == [first_id]
        # when Redis restarts (the channel layer's subscriptions and queued messages are gone)
        # and report B is signed and delivered after it
        outage = await sync_to_async(redis_server.restart)()  # REDIS_URL's Redis (about a second)
        await sync_to_async(drafting.report_sign)(report_id=second_id, by=people["expert"])
        await sync_to_async(deliveries_sweep)(stale_after_s=0)  # the beat's sweep, in case the enqueue was lost
        assert await _wait_delivered(2, deadline_s=90) == 2
        live += await _frames(socket, quiet_s=1.0, deadline_s=3)
        await socket.disconnect()
        # and the clinic reconnects
        reconnected = await _connect(cookie)
        pending = await _frames(reconnected, quiet_s=1.0, deadline_s=10)
    finally:
        await sync_to_async(stop_worker)(worker)
        await socket.disconnect()
        if reconnected is not None:
            await reconnected.disconnect()
    # then both reports are in the pending list pushed on reconnect, each once, with their PDFs
    assert sorted(f["report"] for f in pending if f["type"] == "report.pending") == sorted([first_id, second_id])
    assert all(f["pdf"] for f in pending)
    print(f"Redis was down {outage:.2f} s; live frames after the restart: "
          f"{[f['report'] for f in live if f['type'] == 'report.arrived']}")
