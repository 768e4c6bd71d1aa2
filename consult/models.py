"""The consultation: one case a village doctor asks the lead hospital about."""
from django.conf import settings
from django.db import models


class Urgency(models.TextChoices):
    STAT = "stat", "危急 stat"
    URGENT = "urgent", "加急 urgent"
    ROUTINE = "routine", "常规 routine"


class Consultation(models.Model):
    class Mode(models.TextChoices):
        LIVE = "live", "实时 live"
        ASYNC = "async", "存储转发 async"

    class State(models.TextChoices):
        REQUESTED = "requested", "已申请 requested"
        OFFERED = "offered", "待接诊 offered"
        ASSIGNED = "assigned", "已接诊 assigned"
        IN_PROGRESS = "in_progress", "进行中 in progress"
        REPORTED = "reported", "已出报告 reported"
        CLOSED = "closed", "已完成 closed"
        CANCELLED = "cancelled", "已取消 cancelled"
        ESCALATED = "escalated", "已上报协调员 escalated"

    patient = models.ForeignKey("directory.Patient", on_delete=models.PROTECT, related_name="consultations")
    requesting_org = models.ForeignKey("directory.Organisation", on_delete=models.PROTECT, related_name="consultations")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    specialty = models.ForeignKey("directory.Specialty", on_delete=models.PROTECT, related_name="consultations")
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.ASYNC)
    reason = models.TextField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.REQUESTED)
    assigned_expert = models.ForeignKey(
        "directory.Expert", null=True, blank=True, on_delete=models.PROTECT, related_name="consultations"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    # When the expert's part ended: the first signed report, else the close. An amendment does not move it;
    # the expert's read of the patient's record (directory.access RECORD_ACCESS) runs out a grace after it.
    ended_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True, help_text="turnaround target")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["requesting_org", "state"]),
            models.Index(fields=["assigned_expert", "state"]),
            models.Index(fields=["specialty", "state"]),
        ]

    def __str__(self):
        return f"#{self.pk} {self.patient.name} {self.get_urgency_display()}"
