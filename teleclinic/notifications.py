"""Per-user notification socket (/ws/notifications/): live offers, report arrivals, progress."""
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from reports.selectors import pending_report_events

from .events import user_group
from .socket_db import SocketDbConsumer

CLOSE_UNAUTHENTICATED = 4401


class NotificationConsumer(SocketDbConsumer, AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "user": user.username})
        # Live events are at most once: on every (re)connect the clinic gets its pending reports.
        for payload in await database_sync_to_async(pending_report_events)(user=user):
            await self.send_json(payload)

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
            return
        await self.send_json({"type": "error", "code": "unknown_type", "detail": "Only 'ping' is accepted here."})

    async def notify_event(self, event):
        await self.send_json(event["payload"])
