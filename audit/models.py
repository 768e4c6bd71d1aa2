"""The append-only audit log of every read and write of patient data.

Rows are only ever inserted: the model refuses save-over and delete, the queryset refuses
update and delete, and a database trigger (migration 0002) refuses UPDATE and DELETE from
any client, so not even a raw SQL statement from the application can rewrite history.
"""
from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    pass


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("The audit log is append-only.")

    def delete(self):
        raise AppendOnlyError("The audit log is append-only.")


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        READ = "read", "read"
        CREATE = "create", "create"
        UPDATE = "update", "update"
        DELETE = "delete", "delete"
        REFUSED = "refused", "refused"  # a write refused for reaching past the sender's rights (security)

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # No real foreign keys: a user or patient removed later must not rewrite (or block) history.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_username = models.CharField(max_length=150)
    action = models.CharField(max_length=10, choices=Action.choices)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    patient_id = models.BigIntegerField(null=True, db_index=True)
    consultation_id = models.BigIntegerField(null=True, db_index=True)
    ip = models.GenericIPAddressField(null=True)
    interface = models.CharField(max_length=10, help_text="api, admin, page, ws, task")
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["actor", "at"]), models.Index(fields=["object_type", "object_id"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("The audit log is append-only.")
