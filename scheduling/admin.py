"""Admin for coordinators: rosters and their exceptions, sessions, slots, on-call shifts."""
from django.contrib import admin

from .models import Assignment, Booking, CloudClinicSession, OnCallShift, Referral, Roster, RosterException, Slot


class RosterExceptionInline(admin.TabularInline):
    model = RosterException
    extra = 0


@admin.register(Roster)
class RosterAdmin(admin.ModelAdmin):
    list_display = ["id", "expert", "specialty", "weekdays", "start_time", "end_time", "capacity", "reserved_share",
                    "active"]
    list_filter = ["specialty", "active"]
    inlines = [RosterExceptionInline]
    filter_horizontal = ["reserved_for"]


@admin.register(CloudClinicSession)
class SessionAdmin(admin.ModelAdmin):
    list_display = ["id", "expert", "specialty", "starts_at", "ends_at", "state"]
    list_filter = ["specialty", "state"]


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = ["id", "session", "starts_at", "kind", "release_at", "released_at"]
    list_filter = ["kind"]


@admin.register(OnCallShift)
class OnCallShiftAdmin(admin.ModelAdmin):
    list_display = ["id", "expert", "specialty", "starts_at", "ends_at"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "consultation", "expert", "status", "offered_at", "expires_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in Assignment._meta.fields]


admin.site.register(Booking, list_display=["id", "slot", "booked_org", "status", "created_at"],
                    readonly_fields=["slot", "patient", "consultation", "booked_by", "booked_org", "rescheduled_from"])
admin.site.register(Referral, list_display=["id", "direction", "state", "from_org", "to_org", "created_at"])
