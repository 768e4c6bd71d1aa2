"""Input (strict) and output serializers of the scheduling API, and the small helpers its views share."""
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from teleclinic.api import Pagination, StrictSerializer, date_in_range
from teleclinic.errors import InvalidInput

from .. import selectors
from ..models import (Assignment, Booking, CloudClinicSession, FollowUpTask, OnCallShift, Referral, Roster,
                      RosterException, Slot)


class RosterOut(serializers.ModelSerializer):
    specialty = serializers.CharField(source="specialty.code")
    expert_name = serializers.CharField(source="expert.user.__str__")

    class Meta:
        model = Roster
        fields = ["id", "expert", "expert_name", "specialty", "organisation", "weekdays", "start_time", "end_time",
                  "slot_minutes", "capacity", "reserved_share", "reserved_for", "release_hours", "green_channel_slots",
                  "valid_from", "valid_until", "active"]


class SessionOut(serializers.ModelSerializer):
    specialty = serializers.CharField(source="specialty.code")
    expert_name = serializers.CharField(source="expert.user.__str__")

    class Meta:
        model = CloudClinicSession
        fields = ["id", "roster", "expert", "expert_name", "specialty", "organisation", "starts_at", "ends_at", "state"]


class SlotOut(serializers.ModelSerializer):
    specialty = serializers.CharField(source="session.specialty.code")
    expert = serializers.IntegerField(source="session.expert_id")
    reserved = serializers.BooleanField(source="is_reserved")
    taken = serializers.BooleanField()

    class Meta:
        model = Slot
        fields = ["id", "session", "expert", "specialty", "starts_at", "ends_at", "kind", "reserved", "release_at",
                  "taken"]


class SlotBookingOut(serializers.ModelSerializer):
    """A booking as listed under its slot (the expert's calendar)."""

    starts_at = serializers.DateTimeField(source="slot.starts_at")
    patient_name = serializers.CharField(source="patient.name")

    class Meta:
        model = Booking
        fields = ["id", "slot", "starts_at", "patient", "patient_name", "consultation", "booked_by", "booked_org",
                  "status", "rescheduled_from", "created_at", "cancelled_at"]


class BookingOut(SlotBookingOut):
    """A booking with what a clinic needs to show and move it: its session, expert and specialty."""

    ends_at = serializers.DateTimeField(source="slot.ends_at")
    kind = serializers.CharField(source="slot.kind")
    session = serializers.IntegerField(source="slot.session_id")
    specialty = serializers.CharField(source="slot.session.specialty.code")
    expert_name = serializers.CharField(source="slot.session.expert.user.__str__")

    class Meta(SlotBookingOut.Meta):
        fields = [*SlotBookingOut.Meta.fields[:3], "ends_at", "kind", "session", "specialty", "expert_name",
                  *SlotBookingOut.Meta.fields[3:]]


class AssignmentOut(serializers.ModelSerializer):
    expert_name = serializers.CharField(source="expert.user.__str__", read_only=True)

    class Meta:
        model = Assignment
        fields = ["id", "consultation", "expert", "expert_name", "status", "offered_at", "expires_at", "decided_at",
                  "reason", "decline_code"]


class FollowUpOut(serializers.ModelSerializer):
    class Meta:
        model = FollowUpTask
        fields = ["id", "referral", "patient", "organisation", "title", "due_on", "state", "done_at", "note"]


class ReferralOut(serializers.ModelSerializer):
    slot_starts_at = serializers.DateTimeField(source="booking.slot.starts_at", default=None, allow_null=True)
    follow_ups = FollowUpOut(many=True, read_only=True)

    class Meta:
        model = Referral
        fields = ["id", "direction", "state", "patient", "consultation", "from_org", "to_org", "created_by",
                  "booking", "slot_starts_at", "reason", "summary", "created_at", "follow_ups"]


class ExpertToAssignOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="user")
    title = serializers.CharField()
    load = serializers.IntegerField(help_text="cases held plus offers pending")
    max_open_assignments = serializers.IntegerField()
    on_duty = serializers.BooleanField(help_text="in a cloud-clinic session or on call now")
    declined = serializers.BooleanField(help_text="declined an offer of the consultation asked about")


class EscalationDeclineOut(serializers.Serializer):
    expert = serializers.IntegerField()
    expert_name = serializers.CharField()
    decline_code = serializers.CharField(help_text="the reason the expert chose (Assignment.DeclineCode), may be empty")
    reason = serializers.CharField(help_text="the expert's own words (may be empty)")
    at = serializers.DateTimeField(allow_null=True)


class EscalationOut(serializers.Serializer):
    """An escalated consultation and why it is with the coordinators."""

    id = serializers.IntegerField()
    patient = serializers.IntegerField(source="patient_id")
    patient_name = serializers.CharField(source="patient.name")
    requesting_org_name = serializers.CharField(source="requesting_org.name")
    specialty = serializers.CharField(source="specialty.code")
    urgency = serializers.CharField()
    mode = serializers.CharField()
    reason = serializers.CharField(help_text="the village doctor's reason for the consultation")
    created_at = serializers.DateTimeField()
    escalated_at = serializers.DateTimeField()
    escalation_reason = serializers.CharField(help_text="no_expert_available, requested, or a coordinator's text")
    declines = EscalationDeclineOut(many=True)
    expired = serializers.IntegerField(help_text="offers that lapsed unanswered")


class WorklistStudyOut(serializers.Serializer):
    type = serializers.ChoiceField(choices=["ecg", "imaging"])
    id = serializers.IntegerField()
    modalities = serializers.ListField(child=serializers.CharField(), required=False)
    description = serializers.CharField(required=False)
    critical = serializers.ListField(child=serializers.CharField(), required=False,
                                     help_text="an ECG's critical-value findings (codes): why the case is stat")


class WorklistItemOut(serializers.Serializer):
    consultation = serializers.IntegerField(source="consultation.pk")
    patient = serializers.IntegerField(source="consultation.patient_id", help_text="for the patient record page")
    patient_name = serializers.CharField(source="consultation.patient.name")
    reason = serializers.CharField(source="consultation.reason", help_text="the requesting doctor's question")
    clinic = serializers.CharField(source="consultation.requesting_org.name", help_text="the requesting clinic")
    specialty = serializers.CharField(source="consultation.specialty.code")
    urgency = serializers.CharField(source="consultation.urgency")
    mode = serializers.CharField(source="consultation.mode")
    state = serializers.CharField(source="consultation.state")
    due_at = serializers.DateTimeField(source="consultation.due_at", allow_null=True)
    status = serializers.ChoiceField(choices=["assigned", "offered"])
    assignment = serializers.IntegerField(source="assignment.pk", default=None, allow_null=True)
    offer_expires_at = serializers.DateTimeField(source="assignment.expires_at", default=None, allow_null=True)
    overdue = serializers.BooleanField()
    slot_starts_at = serializers.DateTimeField(allow_null=True)
    studies = WorklistStudyOut(many=True, help_text="what there is to read, oldest first")


class CalendarSlotOut(serializers.ModelSerializer):
    bookings = SlotBookingOut(source="live_bookings", many=True)

    class Meta:
        model = Slot
        fields = ["id", "starts_at", "ends_at", "kind", "bookings"]


class CalendarSessionOut(SessionOut):
    """A session of the expert's own calendar (selectors.expert_calendar) with its slots' live bookings."""

    slots = CalendarSlotOut(many=True)

    class Meta(SessionOut.Meta):
        fields = [*SessionOut.Meta.fields, "slots"]


class RosterExceptionOut(serializers.Serializer):
    id = serializers.IntegerField()
    roster = serializers.IntegerField(source="roster_id")
    date = serializers.DateField()
    kind = serializers.CharField()
    start_time = serializers.TimeField(allow_null=True, required=False)
    end_time = serializers.TimeField(allow_null=True, required=False)
    note = serializers.CharField(required=False)


class CalendarFeedUrlOut(serializers.Serializer):
    url = serializers.URLField()


class EscalatedOut(serializers.Serializer):
    consultation = serializers.IntegerField()
    state = serializers.CharField()


class NoExpertOnDutyOut(serializers.Serializer):
    state = serializers.CharField(help_text="escalated")
    detail = serializers.CharField()


class RosterIn(StrictSerializer):
    expert = serializers.IntegerField()
    specialty = serializers.SlugField()
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=7), min_length=1)
    start_time = serializers.TimeField()
    end_time = serializers.TimeField()
    slot_minutes = serializers.IntegerField(min_value=5, max_value=480)
    capacity = serializers.IntegerField(min_value=1, max_value=200)
    valid_from = serializers.DateField()
    valid_until = serializers.DateField(required=False, allow_null=True, default=None)
    reserved_share = serializers.IntegerField(min_value=0, max_value=100, default=0)
    reserved_for = serializers.ListField(child=serializers.IntegerField(), default=list)
    release_hours = serializers.IntegerField(min_value=0, max_value=24 * 14, default=24)
    green_channel_slots = serializers.IntegerField(min_value=0, default=0)


class RosterPatch(StrictSerializer):
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=7), min_length=1,
                                     required=False)
    start_time = serializers.TimeField(required=False)
    end_time = serializers.TimeField(required=False)
    slot_minutes = serializers.IntegerField(min_value=5, max_value=480, required=False)
    capacity = serializers.IntegerField(min_value=1, max_value=200, required=False)
    valid_until = serializers.DateField(required=False, allow_null=True)
    reserved_share = serializers.IntegerField(min_value=0, max_value=100, required=False)
    release_hours = serializers.IntegerField(min_value=0, max_value=24 * 14, required=False)
    green_channel_slots = serializers.IntegerField(min_value=0, required=False)
    active = serializers.BooleanField(required=False)


class RosterExceptionIn(StrictSerializer):
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=RosterException.Kind.choices)
    start_time = serializers.TimeField(required=False, allow_null=True, default=None)
    end_time = serializers.TimeField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class ExceptionRemoveIn(StrictSerializer):
    cancel_bookings = serializers.BooleanField(required=False, default=False,
                                               help_text="undoing an extra session: cancel its bookings, telling each booker")


class ExceptionRemoveOut(serializers.Serializer):
    sessions = serializers.IntegerField(help_text="sessions brought back (leave) or removed (extra session)")
    bookings_cancelled = serializers.IntegerField()


class OnCallShiftIn(StrictSerializer):
    expert = serializers.IntegerField()
    specialty = serializers.SlugField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class OnCallShiftOut(serializers.ModelSerializer):
    specialty = serializers.CharField(source="specialty.code")
    expert_name = serializers.CharField(source="expert.user.__str__")

    class Meta:
        model = OnCallShift
        fields = ["id", "expert", "expert_name", "specialty", "starts_at", "ends_at"]


class BookingIn(StrictSerializer):
    slot = serializers.IntegerField()
    patient = serializers.IntegerField()
    consultation = serializers.IntegerField(required=False, allow_null=True, default=None)


class RescheduleIn(StrictSerializer):
    slot = serializers.IntegerField()


class DeclineIn(StrictSerializer):
    reason = serializers.CharField(max_length=200, required=False, default="", allow_blank=True,
                                   help_text="in the expert's words (required with code other)")
    code = serializers.ChoiceField(choices=Assignment.DeclineCode.choices, required=False, default="",
                                   help_text="why, among the choices")

    def validate(self, data):
        if data["code"] == Assignment.DeclineCode.OTHER and not data["reason"].strip():
            raise serializers.ValidationError({"reason": ["Say why in a few words."]})
        return data


class AssignIn(StrictSerializer):
    expert = serializers.IntegerField()


class EscalateIn(StrictSerializer):
    reason = serializers.CharField(max_length=200, required=False, default="requested")


class ReferralUpIn(StrictSerializer):
    patient = serializers.IntegerField(required=False, allow_null=True, default=None)
    consultation = serializers.IntegerField(required=False, allow_null=True, default=None)
    slot = serializers.IntegerField(required=False, allow_null=True, default=None)
    specialty = serializers.SlugField(required=False, default="")
    reason = serializers.CharField(max_length=4000, required=False, default="", allow_blank=True)


class PlanItemIn(StrictSerializer):
    title = serializers.CharField(max_length=200)
    due_in_days = serializers.IntegerField(min_value=0, max_value=3650)


class ReferralDownIn(StrictSerializer):
    patient = serializers.IntegerField(required=False, allow_null=True, default=None)
    consultation = serializers.IntegerField(required=False, allow_null=True, default=None)
    summary = serializers.CharField(max_length=8000)
    plan = PlanItemIn(many=True)


class NoteIn(StrictSerializer):
    note = serializers.CharField(max_length=4000, required=False, default="", allow_blank=True)


class EmptyIn(StrictSerializer):
    pass


def when_param(request, name: str):
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:  # parse_* raise ValueError for a well-formed but impossible value ("2026-02-30")
        value = parse_datetime(raw)
        if value is None and parse_date(raw) is not None:
            value = parse_datetime(raw + "T00:00:00+08:00")
    except ValueError:
        value = None
    if value is None:
        raise InvalidInput(f"{name}: an ISO 8601 date or date-time.", code="bad_date")
    return date_in_range(value, name)


def id_param(request, name: str) -> int | None:
    """An optional id filter; a 400 with the reason for anything but a positive integer."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_ID:
        raise InvalidInput(f"{name}: an id (a positive integer).", code="bad_filter")
    return int(raw)


def choice_param(request, name: str, choices, default: str = "") -> str:
    """An optional filter among `choices` ("" means no filter); a 400 naming the choices otherwise."""
    value = request.query_params.get(name, default)
    if value and value not in choices:
        raise InvalidInput(f"{name}: one of {', '.join(choices)}.", code="bad_filter")
    return value


def filter_param(name: str, choices) -> OpenApiParameter:
    return OpenApiParameter(name, str, enum=list(choices))


def page_of(view, request, rows, out, audit: bool = False):
    paginator = Pagination()
    page = paginator.paginate_queryset(rows, request, view=view)
    if audit:
        selectors.audit_listed(user=request.user, rows=page, request=request)
    return paginator.get_paginated_response(out(page, many=True).data)


MAX_ID = 2**63 - 1  # PostgreSQL bigint
WINDOW = [OpenApiParameter("from", str, description="ISO 8601 date or date-time"),
          OpenApiParameter("to", str, description="ISO 8601 date or date-time")]
