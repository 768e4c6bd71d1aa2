"""The safety net under the channel layer's fan-out for room sockets.

The layer delivers at most once: a Redis restart, or the second it takes the layer to subscribe
again afterwards, loses the events published meanwhile. A socket notices a lost event when the
next one arrives with a gap (and reads the missing ones back); but when the lost event was the
room's last, say the chat line sent just as Redis came back, nothing arrives to show the gap and
the socket would wait for the room's next event, however long that takes.

So each serving process reads, every ROOM_RESYNC_SECONDS, the last seq of the rooms its joined
sockets are in (one query for all of them), and has a socket read the rest from the database when
it has still not been sent what its room held at the previous check: an event at least one
interval old. An event merely late (a process busy with hundreds of sockets delivers seconds
behind) is left to the layer, which is still bringing it: reading it back too would add work
exactly when the process has the least to spare. The live path stays the layer's; this only heals
what it dropped, a few seconds late (between one and two intervals).
"""
import asyncio
import logging

from teleclinic.socket_db import socket_db
from teleclinic.socket_watch import SocketWatch

from .models import Room

logger = logging.getLogger(__name__)


def rooms_last_seq(room_ids: list[int]) -> dict[int, int]:
    return dict(Room.objects.filter(pk__in=room_ids).values_list("pk", "last_seq"))


class RoomWatch(SocketWatch):
    interval_setting = "ROOM_RESYNC_SECONDS"
    previous: dict[int, int]  # each room's last seq at the previous check

    def started(self) -> None:
        self.previous = {}

    async def check(self, sockets: list) -> int:
        joined = [s for s in sockets if s.delivered is not None]
        if not joined:
            self.previous = {}
            return 0
        previous, self.previous = self.previous, await socket_db(rooms_last_seq)(sorted({s.room_id for s in joined}))
        behind = [s for s in joined if s.delivered is not None and previous.get(s.room_id, 0) > s.delivered]
        for socket in behind:
            asyncio.ensure_future(socket.resync())
        if behind:
            logger.info("room resync: %d socket(s) behind their room; reading the rest back", len(behind))
        return len(behind)


def room_watch() -> RoomWatch:
    return RoomWatch.of_this_loop()
