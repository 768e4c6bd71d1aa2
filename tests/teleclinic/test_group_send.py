"""teleclinic.events.group_send_on_commit: the one fan-out of services to a Channels group (a room's sockets)."""
import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from teleclinic.events import group_send_on_commit

pytestmark = pytest.mark.django_db(transaction=True)


async def _listening():
    """A channel in a fresh group of the configured channel layer (on this event loop): (group, receive())."""
    layer = get_channel_layer()
    group, channel = f"test.fanout.{uuid.uuid4().hex}", await layer.new_channel()
    await layer.group_add(group, channel)
    return group, lambda: asyncio.wait_for(layer.receive(channel), 30)  # a guard against a hang, not a bound


def _rolled_back_then_committed(group: str) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        group_send_on_commit(group, {"type": "test.rolled_back"})
        raise RuntimeError
    with transaction.atomic():
        group_send_on_commit(group, {"type": "test.first"})
        group_send_on_commit(group, {"type": "test.second"})


async def test_a_group_hears_a_message_only_once_its_transaction_commits():
    # given a group listening
    group, receive = await _listening()
    # when a transaction registers a message and rolls back, and another registers two and commits
    await sync_to_async(_rolled_back_then_committed)(group)
    # then the group hears the committed ones, in the order registered, and nothing of the rolled-back one
    assert await receive() == {"type": "test.first"}
    assert await receive() == {"type": "test.second"}


async def test_outside_a_transaction_the_message_goes_at_once():
    group, receive = await _listening()
    # when a message is registered with no transaction open (and no socket's loop to hand it to)
    await sync_to_async(group_send_on_commit)(group, {"type": "test.now"}, hand_to_loop=True)
    # then the group hears it
    assert await receive() == {"type": "test.now"}
