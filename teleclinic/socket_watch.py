"""A per-process safety net under the channel layer: the sockets of one event loop, checked
against the database every few seconds by one task (live/resync.py for room events,
notifications/consumers.py for report arrivals).

The layer delivers at most once and loses what is published while Redis restarts, or in the
second it takes to subscribe again: a subclass's `check` finds, in one query for all the
sockets, what they were not sent, and sends it.
"""
import asyncio
import logging
import weakref

from django.conf import settings

logger = logging.getLogger(__name__)


class SocketWatch:
    interval_setting: str  # the setting naming the seconds between checks

    def __init__(self):
        self.sockets: weakref.WeakSet = weakref.WeakSet()
        self.task: asyncio.Task | None = None

    def add(self, consumer) -> None:
        self.sockets.add(consumer)
        if self.task is None or self.task.done():
            self.started()
            self.task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, consumer) -> None:
        self.sockets.discard(consumer)

    def started(self) -> None:
        """The first socket came (again): the task starts."""

    async def check(self, sockets: list) -> int:
        """Send `sockets` what they missed; return how many were behind."""
        raise NotImplementedError

    async def _run(self) -> None:
        while self.sockets:
            await asyncio.sleep(getattr(settings, self.interval_setting))
            try:
                await self.check(list(self.sockets))
            except Exception:  # noqa: BLE001 - the database blinked too: try again next round
                logger.warning("%s: the check failed", type(self).__name__, exc_info=True)

    @classmethod
    def of_this_loop(cls) -> "SocketWatch":
        """The watch of the running event loop (one per Daphne process; one per test's loop)."""
        watches = cls.__dict__.get("_watches")
        if watches is None:
            watches = cls._watches = weakref.WeakKeyDictionary()
        loop = asyncio.get_running_loop()
        if loop not in watches:
            watches[loop] = cls()
        return watches[loop]
