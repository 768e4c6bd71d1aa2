"""How a socket's messages reach its handlers (teleclinic/socket_db.py, dispatch_in_turn): one at a
time, in the order they came, the client's frames and the channel layer's alike; a source that fails
ends the consumer with its error; on the way out the readers are cancelled."""
import asyncio

import pytest

from teleclinic.socket_db import dispatch_in_turn


class Source:
    """A receive callable fed by the test."""

    def __init__(self):
        self.queue: asyncio.Queue = asyncio.Queue()
        self.cancelled = False

    async def __call__(self):
        try:
            item = await self.queue.get()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        if isinstance(item, BaseException):
            raise item
        return item


class Stop(Exception):
    pass


async def test_messages_are_dispatched_one_at_a_time_in_arrival_order():
    client, layer = Source(), Source()
    seen, running = [], []

    async def dispatch(message):
        running.append(message)
        assert len(running) == 1, "two messages dispatched at once"
        await asyncio.sleep(0.01 if message["n"] == 1 else 0)  # the first one's handler waits
        seen.append(message["n"])
        running.remove(message)
        if message["n"] == 5:
            raise Stop

    client.queue.put_nowait({"n": 1})
    task = asyncio.ensure_future(dispatch_in_turn([client, layer], dispatch))
    await asyncio.sleep(0.002)  # the first one is being handled
    for n, source in [(2, layer), (3, client), (4, layer), (5, client)]:
        source.queue.put_nowait({"n": n})  # each arrives (is read) before the next, while the first is handled
        await asyncio.sleep(0)
    assert seen == []
    with pytest.raises(Stop):
        await asyncio.wait_for(task, 5)
    assert seen == [1, 2, 3, 4, 5]
    assert client.cancelled and layer.cancelled  # the pub/sub layer unsubscribes on this


async def test_a_failing_source_ends_the_consumer_with_its_error():
    client, layer = Source(), Source()
    seen = []

    async def dispatch(message):
        seen.append(message)

    layer.queue.put_nowait({"n": 1})
    layer.queue.put_nowait(ConnectionError("redis went away"))
    with pytest.raises(ConnectionError, match="redis went away"):
        await asyncio.wait_for(dispatch_in_turn([client, layer], dispatch), 5)
    assert seen == [{"n": 1}] and client.cancelled


async def test_cancelling_the_consumer_cancels_its_readers():
    client, layer = Source(), Source()
    task = asyncio.ensure_future(dispatch_in_turn([client, layer], lambda message: asyncio.sleep(0)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.cancelled and layer.cancelled
