"""The embedded default's channel layer: an event sent from the in-process worker's thread reaches a
socket waiting on Daphne's loop at once, not when something else happens to wake that loop."""
import asyncio
import os
import queue
import subprocess
import sys
import tempfile
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer

from teleclinic.channel_layer import ThreadSafeInMemoryChannelLayer


def _idle_loop_receiving(layer, group: str):
    """A loop in its own thread (Daphne's, in `make run`) with one socket in `group`, waiting and
    doing nothing else: no timer, no I/O. Returns the queue its received messages go to."""
    got: queue.Queue = queue.Queue()
    waiting = threading.Event()

    async def socket():
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        loop = asyncio.get_running_loop()
        loop.call_soon(waiting.set)  # set once receive() below is awaiting
        got.put(await layer.receive(channel))

    threading.Thread(target=asyncio.run, args=(socket(),), daemon=True).start()
    assert waiting.wait(10)
    return got


@pytest.mark.parametrize("send", ["group_send", "send_to_user"])
def test_an_event_from_another_thread_wakes_the_idle_loop_of_the_socket(send):
    layer = ThreadSafeInMemoryChannelLayer()
    got = _idle_loop_receiving(layer, "user.7")
    message = {"type": "notify.event", "payload": {"type": "report.ready"}}
    if send == "group_send":
        async_to_sync(layer.group_send)("user.7", message)
    else:  # the worker thread's own path: a fresh loop per call, as teleclinic.events does it
        threading.Thread(target=async_to_sync(layer.group_send), args=("user.7", message)).start()
    assert got.get(timeout=10) == message


def test_the_stock_in_memory_layer_leaves_that_event_waiting():
    """Why the class exists: with Channels' own layer the same send never wakes the idle loop."""
    layer = InMemoryChannelLayer()
    got = _idle_loop_receiving(layer, "user.8")
    async_to_sync(layer.group_send)("user.8", {"type": "notify.event", "payload": {}})
    with pytest.raises(queue.Empty):
        got.get(timeout=2)


def test_the_embedded_default_uses_it():
    """`make run`'s settings (no DATABASE_URL, no REDIS_URL) build this layer."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env.update(DJANGO_SETTINGS_MODULE="teleclinic.settings", TELECLINIC_VAR_DIR=tempfile.mkdtemp())
    code = ("import django; django.setup(); from channels.layers import get_channel_layer; "
            "print(type(get_channel_layer()).__name__)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ThreadSafeInMemoryChannelLayer", out.stderr
