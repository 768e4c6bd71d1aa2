from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Searchable, read-only: no interface can edit or delete the audit log."""

    list_display = ("at", "actor_username", "action", "object_type", "object_id", "patient_id", "consultation_id", "ip", "interface")
    list_filter = ("action", "interface", "object_type")
    search_fields = ("actor_username", "object_id", "=patient_id", "=consultation_id", "ip")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        return {}
