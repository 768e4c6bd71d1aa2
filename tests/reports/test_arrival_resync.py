"""A report delivered while the channel layer lost its live nudge still reaches the clinic's open socket, once."""
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from reports.models import Delivery
from teleclinic.asgi import application
from teleclinic.events import send_to_users_now
from tests.ops.test_scaled_stack import session_cookie
from tests.reports.workers import reports_tasks_routed_to

pytestmark = pytest.mark.django_db(transaction=True)


async def _notifications(user) -> WebsocketCommunicator:
    cookie = await sync_to_async(session_cookie)(user)
    communicator = WebsocketCommunicator(application, "/ws/notifications/",
                                         headers=[(b"cookie", cookie.encode()), (b"origin", b"http://localhost")])
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
    return communicator


def _deliver_without_nudge(delivery_id: int) -> None:
    """What delivery_deliver leaves when Redis is down as it sends the live event: the row delivered, no event."""
    Delivery.objects.filter(pk=delivery_id).update(state=Delivery.State.DELIVERED, delivered_at=timezone.now())


async def test_an_arrival_whose_live_event_was_lost_reaches_the_open_socket_once(people, signed_report, settings):
    # given the requesting doctor's socket and another clinic's doctor's socket, open, checking every 0.3 s
    settings.NOTIFY_RESYNC_SECONDS = 0.3
    doctor = await _notifications(people["village_doctor"])
    other = await _notifications(people["other_village_doctor"])
    try:
        # and a report signed (its tasks on a queue no worker reads), then delivered while Redis was down
        with reports_tasks_routed_to(f"nobody-{uuid.uuid4().hex[:8]}"):
            version = await sync_to_async(signed_report)()
        delivery_id = await sync_to_async(lambda: Delivery.objects.get(version=version).pk)()
        await sync_to_async(_deliver_without_nudge)(delivery_id)
        # then the doctor's socket was told the reading started (the report_start commit's live event)
        started = await doctor.receive_json_from(timeout=5)
        assert started["type"] == "consultation.started" and started["state"] == "in_progress"
        # and is sent its arrival within seconds, though no live event came
        frame = await doctor.receive_json_from(timeout=5)
        assert frame["type"] == "report.arrived" and frame["delivery"] == delivery_id
        assert frame["report"] == version.report_id
        # and only once, even when the lost live event turns up late after all
        await sync_to_async(send_to_users_now)(user_ids=[people["village_doctor"].pk], payload=frame)
        assert await doctor.receive_nothing(timeout=1.5)
        # and the other clinic's doctor is told nothing of it
        assert await other.receive_nothing(timeout=0.5)
    finally:
        await doctor.disconnect()
        await other.disconnect()


async def test_a_report_pending_at_connect_is_not_sent_again_as_an_arrival(people, signed_report, settings):
    # given a report delivered while the clinic's page was closed
    settings.NOTIFY_RESYNC_SECONDS = 0.3
    with reports_tasks_routed_to(f"nobody-{uuid.uuid4().hex[:8]}"):
        version = await sync_to_async(signed_report)()
    delivery_id = await sync_to_async(lambda: Delivery.objects.get(version=version).pk)()
    await sync_to_async(_deliver_without_nudge)(delivery_id)
    # when the page opens its socket
    doctor = await _notifications(people["village_doctor"])
    try:
        # then the report comes in the pending list, and the resync does not repeat it
        frame = await doctor.receive_json_from(timeout=5)
        assert frame["type"] == "report.pending" and frame["delivery"] == delivery_id
        assert await doctor.receive_nothing(timeout=1.5)
    finally:
        await doctor.disconnect()
