"""Admin views of live rooms, read-only: rooms change through the room socket and the API."""
from django.contrib import admin

from .models import EcgStream, Participant, RelayWorker, Room, RoomEvent


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Room)
class RoomAdmin(ReadOnly):
    list_display = ("id", "consultation", "host", "state", "last_seq", "relay_worker", "created_at", "closed_at")
    list_filter = ("state",)


@admin.register(Participant)
class ParticipantAdmin(ReadOnly):
    list_display = ("id", "room", "display_name", "role", "state", "connected", "updated_at")
    list_filter = ("role", "state")


@admin.register(RoomEvent)
class RoomEventAdmin(ReadOnly):
    list_display = ("room", "seq", "kind", "participant", "at")
    list_filter = ("kind",)


@admin.register(RelayWorker)
class RelayWorkerAdmin(ReadOnly):
    list_display = ("name", "channel", "last_seen", "started_at")


@admin.register(EcgStream)
class EcgStreamAdmin(ReadOnly):
    list_display = ("id", "room", "source", "state", "n_chunks", "n_samples", "sampling_rate", "stop_reason",
                    "study", "started_at", "ended_at")
    list_filter = ("source", "state")
