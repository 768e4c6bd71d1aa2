"""Relay workers and which one hosts each room (least-loaded among those alive)."""
import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from ..models import RelayWorker, Room
from .events import lock_room, relay_moved_on_commit


def _alive_since() -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=settings.LIVE_RELAY_WORKER_TIMEOUT)


def worker_heartbeat(*, name: str, channel: str) -> None:
    """A worker says it is alive (and where it listens)."""
    RelayWorker.objects.update_or_create(name=name, defaults={"channel": channel, "last_seen": timezone.now()})


def worker_beat(*, name: str) -> bool:
    """A registered worker is still alive. Never creates the row: a beat that was already on its
    way when the worker stopped must not bring it back after worker_forget. False if unknown."""
    return RelayWorker.objects.filter(name=name).update(last_seen=timezone.now()) == 1


def worker_forget(*, name: str) -> None:
    """A worker stops: its rooms' clients are told to publish again, which places each room anew."""
    with transaction.atomic():
        hosted = list(Room.objects.filter(relay_worker__name=name).order_by("pk").values_list("pk", flat=True))
        Room.objects.filter(pk__in=hosted).update(relay_worker=None)
        RelayWorker.objects.filter(name=name).delete()
        for room_id in hosted:
            relay_moved_on_commit(room_id)


def rooms_release_dead(*, by: str) -> list[int]:
    """Rooms on workers that stopped beating lose their placement, and their sockets are told
    (`relay_moved`) to publish again: the first publish places the room on a live worker.
    Live workers call this on every beat (`by` is the caller, never released). Returns the rooms."""
    stale = (Room.objects.filter(state=Room.State.OPEN, relay_worker__last_seen__lt=_alive_since())
             .exclude(relay_worker__name=by).order_by("pk").values_list("pk", flat=True))
    released = []
    for room_id in stale:
        with transaction.atomic():
            room = lock_room(room_id)  # another worker may have released (or re-placed) it meanwhile
            if room.relay_worker_id is None or RelayWorker.objects.filter(
                    pk=room.relay_worker_id, last_seen__gte=_alive_since()).exists():
                continue
            room.relay_worker = None
            room.save(update_fields=["relay_worker"])
            relay_moved_on_commit(room_id)
            released.append(room_id)
    return released


def room_place(*, room_id: int) -> str | None:
    """The channel of the worker hosting the room; places the room if its worker is gone.
    None when no worker is alive."""
    room = Room.objects.select_related("relay_worker").get(pk=room_id)
    if room.relay_worker is not None and room.relay_worker.last_seen >= _alive_since():
        return room.relay_worker.channel
    with transaction.atomic():
        room = lock_room(room_id)
        if room.relay_worker_id is not None:
            worker = RelayWorker.objects.get(pk=room.relay_worker_id)
            if worker.last_seen >= _alive_since():
                return worker.channel  # placed concurrently by another socket
        worker = (RelayWorker.objects.filter(last_seen__gte=_alive_since())
                  .annotate(load=Count("rooms", filter=Q(rooms__state=Room.State.OPEN)))
                  .order_by("load", "name").first())
        if worker is None:
            return None
        room.relay_worker = worker
        room.save(update_fields=["relay_worker"])
        return worker.channel


def room_channel(*, room_id: int) -> str | None:
    """The channel of the worker the room is placed on, if any (no placement is made)."""
    return Room.objects.filter(pk=room_id).values_list("relay_worker__channel", flat=True).first()
