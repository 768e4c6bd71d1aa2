"""The threads where WebSocket consumers do their database work (authentication, room events).

Channels' default (`database_sync_to_async`, thread-sensitive) runs every socket's ORM calls on one
shared thread, one after the other: after a Daphne process dies, hundreds of sockets reconnecting
to the survivor would authenticate in single file. Here they run on SOCKET_DB_THREADS threads of
their own, side by side: each call owns its transaction, and rows are locked per room, so calls
for different sockets may overlap.

Most urgent first: the traffic of sockets that are in (a chat line, a join), then sockets being
let in, then new handshakes' authentication; the oldest first within each. After a Daphne process
dies its clients all knock on the survivor at once: each is let in as soon as its own steps are
done, instead of every one of them waiting until all have authenticated, while the sockets already
there keep their latency.

`socket_db(fn, urgency)` wraps a sync function as a coroutine function. While it runs,
`serving_loop()` is the event loop that awaits it: a service may hand work back to that loop (a
fan-out after commit) instead of blocking its thread until the loop has done it.

Connections: while calls are queued for these threads, a thread keeps its connection from one
call to the next (no connect, no pool checkout per call); a thread that finds nothing to do gives
it back (to the pool with DB_POOL) before it waits, so an idle process holds none. A connection that saw an error or was
left inside a transaction is closed at once.
"""
import asyncio
import contextvars
import functools
import itertools
import logging
import queue
import threading
from concurrent.futures import Executor, Future

from asgiref.sync import SyncToAsync
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections

IN, ENTERING, KNOCKING = 0, 1, 2  # urgency: a socket that is in, being let in, authenticating

_urgency: contextvars.ContextVar[int] = contextvars.ContextVar("socket_db_urgency", default=IN)
_local = threading.local()
logger = logging.getLogger(__name__)


class _Threads(Executor):
    """A fixed number of daemon threads taking the most urgent call first, then the oldest."""

    def __init__(self, count: int):
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        for n in range(count):
            threading.Thread(target=self._work, name=f"socket-db-{n}", daemon=True).start()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        self._queue.put((_urgency.get(), next(self._order), future, fn, args, kwargs))
        return future

    def _work(self) -> None:
        while True:
            try:
                _, _, future, fn, args, kwargs = self._queue.get_nowait()
            except queue.Empty:
                _give_back_connections()
                _, _, future, fn, args, kwargs = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                future.set_exception(exc)
            else:
                future.set_result(result)


_executor: _Threads | None = None
_lock = threading.Lock()


def _threads() -> _Threads:
    global _executor
    with _lock:
        if _executor is None:
            _executor = _Threads(settings.SOCKET_DB_THREADS)
        return _executor


@functools.cache
def socket_db(fn, urgency: int = IN):
    """`fn` as a coroutine function run on the socket threads (made once per function)."""

    def run(loop, args, kwargs):
        _close_unusable()
        _local.loop = loop
        try:
            return fn(*args, **kwargs)
        finally:
            _local.loop = None
            _close_unusable()

    in_thread = None

    async def call(*args, **kwargs):
        nonlocal in_thread
        if in_thread is None:
            in_thread = SyncToAsync(run, thread_sensitive=False, executor=_threads())
        token = _urgency.set(urgency)  # read by the executor's submit, in this task
        try:
            return await in_thread(asyncio.get_running_loop(), args, kwargs)
        finally:
            _urgency.reset(token)

    return call


def _give_back_connections() -> None:
    """Idle: give the connection back (to the pool) rather than sit on it. Never ends the thread."""
    try:
        connections.close_all()
    except Exception:  # noqa: BLE001 - a broken connection is dropped anyway
        logger.warning("socket thread: closing its database connection failed", exc_info=True)


def _close_unusable() -> None:
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and (conn.errors_occurred or conn.in_atomic_block or not conn.get_autocommit()):
            conn.close()


def serving_loop():
    """The event loop waiting for the current socket_db call, or None outside one (a request, a
    Celery task, a management command)."""
    return getattr(_local, "loop", None)


class SocketDbConsumer:
    """Mixin for async consumers whose database work all goes through socket_db (or
    database_sync_to_async): both close stale connections around each call in the thread that ran
    it. Channels' dispatch also does so before every message (a hop to its one shared thread and
    back, for each frame and each group message): with hundreds of sockets in a process that hop
    is most of a message's cost, and it closes nothing this consumer opened.

    Messages are handed to `dispatch` one at a time, the client's frames and the channel layer's
    alike, as Channels does, but without its per-message cost (`dispatch_in_turn`)."""

    async def __call__(self, scope, receive, send):
        # AsyncConsumer.__call__ (channels 4.3), its await_many_dispatch replaced.
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            sources.append(self.channel_receive)
        self.base_send = send
        try:
            await dispatch_in_turn(sources, self.dispatch)
        except StopConsumer:
            pass

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class _Failed:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException):
        self.exc = exc


async def dispatch_in_turn(sources, dispatch) -> None:
    """Channels' await_many_dispatch, leaner: each source (the client's `receive`, the channel
    layer's) is read by a task of its own into one inbox, and the messages are dispatched one at a
    time, in the order they came. Channels makes a new task and an asyncio.wait for every message: at
    600 room sockets that was 18 % of a Daphne process's event loop (py-spy). As there, a source
    that fails ends the consumer with its exception, and the readers are cancelled on the way out
    (the pub/sub layer unsubscribes a channel whose receive is cancelled)."""
    inbox: asyncio.Queue = asyncio.Queue()

    async def read(source) -> None:
        try:
            while True:
                inbox.put_nowait(await source())
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - raised in the consumer's own task, below
            inbox.put_nowait(_Failed(exc))

    readers = [asyncio.ensure_future(read(source)) for source in sources]
    try:
        while True:
            message = await inbox.get()
            if type(message) is _Failed:
                raise message.exc
            await dispatch(message)
    finally:
        for reader in readers:
            reader.cancel()
            try:
                await reader
            except asyncio.CancelledError:
                pass
