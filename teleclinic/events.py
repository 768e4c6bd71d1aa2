"""Live events to users' sockets, sent only after the transaction that caused them commits.

Channels delivers at most once: anything that must not be lost is stored first (an outbox
or a pending list) and the event is only a nudge.
"""
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def send_to_users_now(*, user_ids, payload: dict) -> None:
    """Push one event to each user's notification group. Call outside a transaction."""
    layer = get_channel_layer()
    for user_id in sorted(set(user_ids)):
        async_to_sync(layer.group_send)(user_group(user_id), {"type": "notify.event", "payload": payload})


def send_event_on_commit(*, user_ids, payload: dict) -> None:
    """The one way services push live events: after commit, never for a rolled-back change.

    Best effort: the change is committed already, so a channel layer that is down (Redis
    restarting) is logged, not raised into the request that made the change. Whatever must
    reach the user is read back from the database when their socket reconnects.
    """
    ids = list(user_ids)

    def send() -> None:
        try:
            send_to_users_now(user_ids=ids, payload=payload)
        except Exception:
            log.warning("live event %s not sent to users %s", payload.get("type"), ids, exc_info=True)

    transaction.on_commit(send)


def send_events_on_commit(*, events: list[tuple[list[int], dict]]) -> None:
    """Several events of one action (one per study of a STOW-RS batch): after commit, sent together.

    Same rules as send_event_on_commit; one event loop and one channel-layer connection carry
    them all, where one helper call per event would open one per event and user.
    """
    events = [(sorted(set(user_ids)), payload) for user_ids, payload in events if user_ids]

    def send() -> None:
        try:
            async_to_sync(_send_all)(events)
        except Exception:
            log.warning("%d live events not sent", len(events), exc_info=True)

    if events:
        transaction.on_commit(send)


async def _send_all(events: list[tuple[list[int], dict]]) -> None:
    layer = get_channel_layer()
    for user_ids, payload in events:
        try:
            for user_id in user_ids:
                await layer.group_send(user_group(user_id), {"type": "notify.event", "payload": payload})
        except Exception:
            log.warning("live event %s not sent to users %s", payload.get("type"), user_ids, exc_info=True)


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """The one way services start Celery tasks: after commit, with ids only.

    Best effort, like the live events: the change is committed, so a broker that is down
    (Redis restarting) must not turn the request that made it into an error. Every task
    started here has a sweep in beat that finds its work undone and starts it again
    (reports' outbox, studies' stalled ingests, scheduling's expired offers).
    """

    def enqueue() -> None:
        try:
            task.delay(*args, **kwargs)
        except Exception:
            log.warning("task %s%r not queued; beat's sweep will start it", getattr(task, "name", task), args,
                        exc_info=True)

    transaction.on_commit(enqueue)
