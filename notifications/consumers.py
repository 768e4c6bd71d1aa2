"""Per-user notification socket (/ws/notifications/): live offers, report arrivals, progress.

Live events are at most once. A report's arrival must not be missed by a clinic whose page stays
open through a Redis restart: on every (re)connect the socket sends the pending reports, and every
NOTIFY_RESYNC_SECONDS each serving process asks the database, in one query for all its sockets,
which reports were delivered since its last look, and sends each socket the arrivals it was not
sent live (what live/resync.py does for room events). Each arrival reaches a socket once.
"""
import datetime as dt
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from reports.selectors import arrivals_since, pending_report_events

from teleclinic.events import user_group
from teleclinic.socket_db import SocketDbConsumer, socket_db
from teleclinic.socket_watch import SocketWatch

CLOSE_UNAUTHENTICATED = 4401
# A delivery commits a moment after it is stamped: look back this much further than the last look.
LOOK_BACK = dt.timedelta(seconds=30)
logger = logging.getLogger(__name__)


class NotificationConsumer(SocketDbConsumer, AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.id
        self.arrived: set[int] = set()  # deliveries this socket was told of (pending or arrived)
        self.group = user_group(user.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "user": user.username})
        # Live events are at most once: on every (re)connect the clinic gets its pending reports.
        for payload in await database_sync_to_async(pending_report_events)(user=user):
            self.arrived.add(payload["delivery"])
            await self.send_json(payload)
        # Watched only now: the resync must know what the pending list said (an arrival made since
        # is still found: each look reaches LOOK_BACK further back).
        _watch().add(self)

    async def disconnect(self, code):
        if hasattr(self, "group"):
            _watch().discard(self)
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
            return
        await self.send_json({"type": "error", "code": "unknown_type", "detail": "Only 'ping' is accepted here."})

    async def notify_event(self, event):
        payload = event["payload"]
        delivery = payload.get("delivery") if payload.get("type") == "report.arrived" else None
        if delivery is not None:
            if delivery in self.arrived:
                return  # sent already by the resync
            self.arrived.add(delivery)
        await self.send_json(payload)


class _ArrivalsWatch(SocketWatch):
    """Resends the report arrivals the channel layer lost to the notification sockets of one loop."""

    interval_setting = "NOTIFY_RESYNC_SECONDS"
    last_look: dt.datetime

    def started(self) -> None:
        self.last_look = timezone.now()

    async def check(self, sockets: list) -> int:
        look = timezone.now()
        found = await socket_db(arrivals_since)(user_ids=sorted({s.user_id for s in sockets}),
                                                since=self.last_look - LOOK_BACK)
        self.last_look = look
        sent = 0
        for user_id, payload in found:
            for socket in sockets:
                if socket.user_id == user_id and payload["delivery"] not in socket.arrived:
                    socket.arrived.add(payload["delivery"])
                    try:
                        await socket.send_json(payload)
                    except Exception:  # noqa: BLE001 - closing as we sent: it gets its pending list when back
                        continue
                    sent += 1
        if sent:
            logger.info("notification resync: %d report arrival(s) the channel layer lost were sent", sent)
        return sent


def _watch() -> _ArrivalsWatch:
    return _ArrivalsWatch.of_this_loop()
