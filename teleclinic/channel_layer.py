"""The embedded default's channel layer: Channels' in-memory layer, safe to send to from another thread.

In `make run` the sockets live on Daphne's event loop, while the in-process worker and beat
(teleclinic/inprocess_tasks.py, inprocess_beat.py) send their events from threads of their own,
each `async_to_sync` call on a loop of its own. The stock layer's queues are asyncio queues of
Daphne's loop: a message put from another thread wakes the waiting socket's future without waking
the loop, so the event sat until some other I/O or timer woke Daphne (a report's "PDF ready"
waited for the next socket frame), and two threads changed the layer's dicts at once.

Here a send or group send made from any loop other than the one the sockets receive on is run on
that loop (`run_coroutine_threadsafe`), so it wakes it at once and only one thread touches the
layer. The Redis layer of the scaled stack needs none of this.
"""
import asyncio

from channels.layers import InMemoryChannelLayer

HOME_TIMEOUT = 10.0  # seconds; the callers log a send that fails (events are best effort)


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    _home: asyncio.AbstractEventLoop | None = None

    async def receive(self, channel):
        self._home = asyncio.get_running_loop()  # the loop the sockets (Daphne's) wait on
        return await super().receive(channel)

    async def send(self, channel, message):
        await self._on_home(super().send, channel, message)

    async def group_send(self, group, message):
        await self._on_home(super().group_send, group, message)

    async def _on_home(self, method, *args) -> None:
        home = self._home
        if home is None or home is asyncio.get_running_loop() or not home.is_running():
            await method(*args)
            return
        done = asyncio.run_coroutine_threadsafe(method(*args), home)
        await asyncio.wait_for(asyncio.wrap_future(done), HOME_TIMEOUT)  # a loop shutting down: raise, never hang
