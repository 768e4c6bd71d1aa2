"""The audit log row as the API shows it (the search view is directory/audit_api.py, which names patients)."""
from rest_framework import serializers

from .models import AuditEvent


class AuditEventOut(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "actor_username", "action", "object_type", "object_id", "patient_id",
                  "consultation_id", "ip", "interface", "detail"]
