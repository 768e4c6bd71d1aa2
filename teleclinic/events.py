"""Live events to sockets (users' notification sockets, a room's sockets), sent only after the transaction
that caused them commits, and tasks started the same way.

Channels delivers at most once: anything that must not be lost is stored first (an outbox,
a pending list, a room's event log) and the event is only a nudge.
"""
import asyncio
import datetime as dt
import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from . import inprocess_tasks
from .socket_db import serving_loop

log = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def send_to_users_now(*, user_ids, payload: dict) -> None:
    """Push one event to each user's notification group. Call outside a transaction."""
    for user_id in sorted(set(user_ids)):
        group_send_now(user_group(user_id), {"type": "notify.event", "payload": payload})


def group_send_now(group: str, message: dict) -> None:
    """Send a message to a Channels group from synchronous code, waiting until it is sent; raises if the
    channel layer is down. Call outside a transaction (services: group_send_on_commit)."""
    async_to_sync(get_channel_layer().group_send)(group, message)


def group_send_on_commit(group: str, message: dict, *, hand_to_loop: bool = False) -> None:
    """The one way services fan out to a Channels group other than a user's (a room's sockets): after the
    transaction commits (at once outside one), best effort, logged if the channel layer is down. What is
    sent must be stored first: a socket that misses it reads it back from the database.

    Messages of one transaction go out in the order registered. hand_to_loop: on a socket's database
    thread (teleclinic.socket_db), hand the send to that socket's event loop and free the thread at once
    instead of waiting; for messages whose receivers restore their order (room events carry their seq).
    """
    # a closure, not functools.partial: Django names the callable when logging a robust one's error
    transaction.on_commit(lambda: _group_send(group, message, hand_to_loop), robust=True)


def channel_send_on_commit(channel: str, message: dict) -> None:
    """group_send_on_commit for one channel (a relay worker's) rather than a group: after commit, best effort."""
    transaction.on_commit(lambda: _channel_send(channel, message), robust=True)


def _channel_send(channel: str, message: dict) -> None:
    try:
        async_to_sync(get_channel_layer().send)(channel, message)
    except Exception:
        log.warning("%s not sent to channel %s", message.get("type"), channel, exc_info=True)


_sending: set[asyncio.Task] = set()  # sends handed to a socket's event loop, held until done


def _group_send(group: str, message: dict, hand_to_loop: bool) -> None:
    loop = serving_loop() if hand_to_loop else None
    if loop is not None:
        loop.call_soon_threadsafe(_send_from_loop, group, message)
        return
    try:
        group_send_now(group, message)
    except Exception:
        log.warning("%s not sent to group %s (its sockets read it back from the database)", message.get("type"),
                    group, exc_info=True)


def _send_from_loop(group: str, message: dict) -> None:
    task = asyncio.ensure_future(get_channel_layer().group_send(group, message))
    _sending.add(task)
    task.add_done_callback(_sent)


def _sent(task: asyncio.Task) -> None:
    _sending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("a message was not sent to its group (its sockets read it back from the database)",
                    exc_info=task.exception())


def send_best_effort(*, user_ids, payload: dict) -> None:
    """send_to_users_now, logging instead of raising when the channel layer is down (Redis restarting):
    for events whose cause is committed (or sent) already; what must reach the user is read back from
    the database when their socket reconnects."""
    ids = list(user_ids)
    try:
        send_to_users_now(user_ids=ids, payload=payload)
    except Exception:
        log.warning("live event %s not sent to users %s", payload.get("type"), ids, exc_info=True)


def send_event_on_commit(*, user_ids, payload: dict) -> None:
    """The one way services push live events: after commit, never for a rolled-back change (best effort)."""
    ids = list(user_ids)
    transaction.on_commit(lambda: send_best_effort(user_ids=ids, payload=payload))


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


def enqueue_on_commit(task_name: str, *args, eta: dt.datetime | None = None) -> None:
    """The one way services start Celery tasks: by the task's name (a service never imports its
    tasks module), after commit, with ids only; `eta` for a task due later.

    Best effort, like the live events: the change is committed, so a broker that is down
    (Redis restarting) must not turn the request that made it into an error. Every task
    started here has a sweep in beat that finds its work undone and starts it again
    (reports' outbox, studies' stalled ingests, scheduling's expired offers). An unknown
    name is a bug and raises at once, in the service that asked.
    """
    task = _task(task_name)

    def enqueue() -> None:
        try:
            if inprocess_tasks.running():  # the embedded default: after the request, on its own thread
                inprocess_tasks.submit(task, args, eta=eta)
            else:
                task.apply_async(args, eta=eta)
        except Exception:
            log.warning("task %s%r not queued; beat's sweep will start it", task_name, args, exc_info=True)

    transaction.on_commit(enqueue)


_IMPORTING_TASKS = threading.Lock()


def _task(name: str):
    """The registered task of that name; the apps' tasks modules are imported the first time.

    Under a lock: a Daphne's socket threads enqueue side by side, and a thread that asked while
    another was importing the tasks modules found its task not registered yet (NotRegistered: a
    host's first ECG stop in a fresh process failed so in 4 rooms of 10, leaving the stream live)."""
    from .celery import app

    if name not in app.tasks:
        with _IMPORTING_TASKS:
            app.loader.import_default_modules()
    return app.tasks[name]
