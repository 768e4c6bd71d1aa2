"""Cloud-clinic rosters, sessions and slots; bookings; on-demand assignments; two-way referrals."""
import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q


class Roster(models.Model):
    """A recurring cloud-clinic (云诊室) pattern: sessions are generated from it for a rolling window."""

    expert = models.ForeignKey("directory.Expert", on_delete=models.PROTECT, related_name="rosters")
    specialty = models.ForeignKey("directory.Specialty", on_delete=models.PROTECT, related_name="rosters")
    organisation = models.ForeignKey("directory.Organisation", on_delete=models.PROTECT, related_name="rosters",
                                     help_text="the lead hospital that runs the clinic")
    weekdays = models.JSONField(help_text="ISO weekdays the session runs on, 1 = Monday ... 7 = Sunday")
    start_time = models.TimeField()
    end_time = models.TimeField()
    slot_minutes = models.PositiveSmallIntegerField()
    capacity = models.PositiveSmallIntegerField(help_text="at most this many slots per session")
    reserved_share = models.PositiveSmallIntegerField(default=0, help_text="percent of slots kept for grassroots")
    reserved_for = models.ManyToManyField("directory.Organisation", blank=True, related_name="+",
                                          help_text="named grassroots organisations; empty = all of the community")
    release_hours = models.PositiveSmallIntegerField(default=24, help_text="reserved slots open this long before")
    green_channel_slots = models.PositiveSmallIntegerField(default=0, help_text="slots kept for upward referrals")
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["id"]


class RosterException(models.Model):
    class Kind(models.TextChoices):
        LEAVE = "leave", "停诊 leave"
        EXTRA = "extra", "加诊 extra session"

    roster = models.ForeignKey(Roster, on_delete=models.CASCADE, related_name="exceptions")
    date = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    start_time = models.TimeField(null=True, blank=True, help_text="extra sessions only")
    end_time = models.TimeField(null=True, blank=True, help_text="extra sessions only")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date", "id"]


class CloudClinicSession(models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled", "已排班 scheduled"
        CANCELLED = "cancelled", "已停诊 cancelled"

    roster = models.ForeignKey(Roster, on_delete=models.PROTECT, related_name="sessions")
    expert = models.ForeignKey("directory.Expert", on_delete=models.PROTECT, related_name="sessions")
    specialty = models.ForeignKey("directory.Specialty", on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey("directory.Organisation", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.SCHEDULED)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            # Generation is re-run every hour: the same pattern never makes a session twice.
            models.UniqueConstraint(fields=["roster", "starts_at"], name="session_once_per_roster_start"),
        ]
        indexes = [
            models.Index(fields=["specialty", "starts_at", "ends_at"]),
            models.Index(fields=["expert", "starts_at"]),
        ]


class Slot(models.Model):
    class Kind(models.TextChoices):
        OPEN = "open", "普通号 open"
        GRASSROOTS = "grassroots", "基层预留号 reserved for grassroots"
        GREEN_CHANNEL = "green_channel", "转诊绿色通道 green channel"

    session = models.ForeignKey(CloudClinicSession, on_delete=models.CASCADE, related_name="slots")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    kind = models.CharField(max_length=15, choices=Kind.choices, default=Kind.OPEN)
    release_at = models.DateTimeField(null=True, blank=True, help_text="reserved until; then the release task opens it")
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["kind", "released_at", "release_at"])]

    @property
    def is_reserved(self) -> bool:
        return self.kind == self.Kind.GRASSROOTS and self.released_at is None


ACTIVE_BOOKING = ("booked", "arrived")


class Booking(models.Model):
    """A patient's appointment in a slot (FHIR Appointment)."""

    class Status(models.TextChoices):
        BOOKED = "booked", "已预约 booked"
        ARRIVED = "arrived", "已到诊 arrived"
        CANCELLED = "cancelled", "已取消 cancelled"

    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="bookings")
    patient = models.ForeignKey("directory.Patient", on_delete=models.PROTECT, related_name="bookings")
    consultation = models.ForeignKey("consult.Consultation", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="bookings")
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    booked_org = models.ForeignKey("directory.Organisation", on_delete=models.PROTECT, related_name="bookings")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    rescheduled_from = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="rescheduled_to")
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["slot__starts_at", "id"]
        constraints = [
            # No double booking, ever: the database refuses a second live booking of a slot,
            # whatever the application does (the service also locks the slot row first).
            models.UniqueConstraint(fields=["slot"], condition=Q(status__in=ACTIVE_BOOKING),
                                    name="one_active_booking_per_slot"),
        ]


class OnCallShift(models.Model):
    """The on-call roster: an expert on duty for a specialty outside cloud-clinic sessions."""

    expert = models.ForeignKey("directory.Expert", on_delete=models.CASCADE, related_name="on_call_shifts")
    specialty = models.ForeignKey("directory.Specialty", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["specialty", "starts_at", "ends_at"])]


class Assignment(models.Model):
    """An offer of a consultation to an expert: accepted, declined or expired."""

    class Status(models.TextChoices):
        OFFERED = "offered", "待确认 offered"
        ACCEPTED = "accepted", "已接受 accepted"
        DECLINED = "declined", "已拒绝 declined"
        EXPIRED = "expired", "已超时 expired"
        WITHDRAWN = "withdrawn", "已撤回 withdrawn"

    class DeclineCode(models.TextChoices):
        """Why an expert declined an offer (the coordinator reads it when the case is escalated)."""

        BUSY = "busy", "手头病例已满 too many cases at hand"
        OUTSIDE_EXPERTISE = "outside_expertise", "超出本人专业范围 outside my expertise"
        UNAVAILABLE = "unavailable", "即将离岗/手术中 unavailable (leaving, in theatre)"
        CONFLICT = "conflict", "需回避 conflict of interest"
        OTHER = "other", "其他 other"

    consultation = models.ForeignKey("consult.Consultation", on_delete=models.CASCADE, related_name="assignments")
    expert = models.ForeignKey("directory.Expert", on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFFERED)
    offered_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True, help_text="a decline's reason in the expert's words")
    decline_code = models.CharField(max_length=20, choices=DeclineCode.choices, blank=True,
                                    help_text="a decline's reason among the choices")

    class Meta:
        ordering = ["-offered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["consultation"], condition=Q(status="offered"),
                                    name="one_open_offer_per_consultation"),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["expert", "status"]),
        ]


class CalendarFeed(models.Model):
    """An expert's iCalendar feed secret. Only its SHA-256 is stored; the URL is shown once."""

    expert = models.OneToOneField("directory.Expert", on_delete=models.CASCADE, related_name="calendar_feed")
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now=True)


class Referral(models.Model):
    """双向转诊: upward to the lead hospital through a green-channel slot, or downward with a plan."""

    class Direction(models.TextChoices):
        UP = "up", "上转 upward"
        DOWN = "down", "下转 downward"

    class State(models.TextChoices):
        REQUESTED = "requested", "已申请 requested"
        ACCEPTED = "accepted", "已接收 accepted"
        ARRIVED = "arrived", "已到院 arrived"
        SENT = "sent", "已下转 sent back"
        ACKNOWLEDGED = "acknowledged", "基层已接收 acknowledged"
        CANCELLED = "cancelled", "已取消 cancelled"

    direction = models.CharField(max_length=4, choices=Direction.choices)
    state = models.CharField(max_length=12, choices=State.choices)
    patient = models.ForeignKey("directory.Patient", on_delete=models.PROTECT, related_name="referrals")
    consultation = models.ForeignKey("consult.Consultation", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="referrals")
    from_org = models.ForeignKey("directory.Organisation", on_delete=models.PROTECT, related_name="+")
    to_org = models.ForeignKey("directory.Organisation", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    booking = models.OneToOneField(Booking, null=True, blank=True, on_delete=models.PROTECT, related_name="referral")
    reason = models.TextField(blank=True)
    summary = models.TextField(blank=True, help_text="downward: the discharge/consultation summary")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When it reached its end (arrived up, acknowledged down): the receiver's read of the record runs out
    # RECORD_REFERRAL_GRACE_DAYS after it (directory.access RECORD_ACCESS).
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["from_org", "state"]), models.Index(fields=["to_org", "state"])]


class FollowUpTask(models.Model):
    """One item of a downward referral's follow-up plan, for the village doctor."""

    class State(models.TextChoices):
        OPEN = "open", "待随访 open"
        DONE = "done", "已完成 done"

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="follow_ups")
    patient = models.ForeignKey("directory.Patient", on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey("directory.Organisation", on_delete=models.PROTECT, related_name="follow_ups")
    title = models.CharField(max_length=200)
    due_on = models.DateField()
    state = models.CharField(max_length=6, choices=State.choices, default=State.OPEN)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["organisation", "state", "due_on"])]


def session_bounds(date: dt.date, start: dt.time, end: dt.time, tz) -> tuple[dt.datetime, dt.datetime]:
    """A session's aware start and end on a local date."""
    return (dt.datetime.combine(date, start, tzinfo=tz), dt.datetime.combine(date, end, tzinfo=tz))
