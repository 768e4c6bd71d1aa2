"""REST API of scheduling: rosters, slots, bookings, assignments, worklist, referrals, calendar and FHIR views."""
from django.http import HttpResponse
from django.urls import reverse
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from teleclinic.api import StrictSerializer, validated
from teleclinic.errors import InvalidInput

from . import fhir, ical, selectors, services
from .models import Assignment, Booking, CloudClinicSession, FollowUpTask, Referral, Roster, RosterException, Slot


# --- output -------------------------------------------------------------------------------
class RosterOut(serializers.ModelSerializer):
    specialty = serializers.CharField(source="specialty.code")

    class Meta:
        model = Roster
        fields = ["id", "expert", "specialty", "organisation", "weekdays", "start_time", "end_time", "slot_minutes",
                  "capacity", "reserved_share", "reserved_for", "release_hours", "green_channel_slots", "valid_from",
                  "valid_until", "active"]


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


class BookingOut(serializers.ModelSerializer):
    starts_at = serializers.DateTimeField(source="slot.starts_at")
    patient_name = serializers.CharField(source="patient.name")

    class Meta:
        model = Booking
        fields = ["id", "slot", "starts_at", "patient", "patient_name", "consultation", "booked_by", "booked_org",
                  "status", "rescheduled_from", "created_at", "cancelled_at"]


class AssignmentOut(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = ["id", "consultation", "expert", "status", "offered_at", "expires_at", "decided_at", "reason"]


class FollowUpOut(serializers.ModelSerializer):
    class Meta:
        model = FollowUpTask
        fields = ["id", "referral", "patient", "organisation", "title", "due_on", "state", "done_at", "note"]


class ReferralOut(serializers.ModelSerializer):
    slot_starts_at = serializers.DateTimeField(source="booking.slot.starts_at", default=None)
    follow_ups = FollowUpOut(many=True, read_only=True)

    class Meta:
        model = Referral
        fields = ["id", "direction", "state", "patient", "consultation", "from_org", "to_org", "created_by",
                  "booking", "slot_starts_at", "reason", "summary", "created_at", "follow_ups"]


class WorklistItemOut(serializers.Serializer):
    consultation = serializers.IntegerField(source="consultation.pk")
    patient_name = serializers.CharField(source="consultation.patient.name")
    specialty = serializers.CharField(source="consultation.specialty.code")
    urgency = serializers.CharField(source="consultation.urgency")
    mode = serializers.CharField(source="consultation.mode")
    state = serializers.CharField(source="consultation.state")
    due_at = serializers.DateTimeField(source="consultation.due_at")
    status = serializers.CharField()
    assignment = serializers.IntegerField(source="assignment.pk", default=None)
    offer_expires_at = serializers.DateTimeField(source="assignment.expires_at", default=None)
    overdue = serializers.BooleanField()
    slot_starts_at = serializers.DateTimeField()


# --- input --------------------------------------------------------------------------------
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


class RosterExceptionIn(StrictSerializer):
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=RosterException.Kind.choices)
    start_time = serializers.TimeField(required=False, allow_null=True, default=None)
    end_time = serializers.TimeField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class BookingIn(StrictSerializer):
    slot = serializers.IntegerField()
    patient = serializers.IntegerField()
    consultation = serializers.IntegerField(required=False, allow_null=True, default=None)


class RescheduleIn(StrictSerializer):
    slot = serializers.IntegerField()


class DeclineIn(StrictSerializer):
    reason = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


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


def _when(request, name: str):
    raw = request.query_params.get(name)
    if not raw:
        return None
    value = parse_datetime(raw)
    if value is None and parse_date(raw) is not None:
        value = parse_datetime(raw + "T00:00:00+08:00")
    if value is None:
        raise InvalidInput(f"{name}: an ISO 8601 date or date-time.", code="bad_date")
    return value


def _page(view, request, rows, out, audit: bool = False):
    paginator = LimitOffsetPagination()
    page = paginator.paginate_queryset(rows, request, view=view)
    if audit:
        selectors.audit_listed(user=request.user, rows=page, request=request)
    return paginator.get_paginated_response(out(page, many=True).data)


WINDOW = [OpenApiParameter("from", str), OpenApiParameter("to", str)]


# --- rosters and calendars ----------------------------------------------------------------
class RosterListView(APIView):
    @extend_schema(responses=RosterOut(many=True))
    def get(self, request):
        return _page(self, request, selectors.roster_list(user=request.user), RosterOut)

    @extend_schema(request=RosterIn, responses={201: RosterOut})
    def post(self, request):
        d = validated(RosterIn, request.data)
        roster = services.roster_create(
            by=request.user, expert_id=d["expert"], specialty_code=d["specialty"], weekdays=d["weekdays"],
            start_time=d["start_time"], end_time=d["end_time"], slot_minutes=d["slot_minutes"],
            capacity=d["capacity"], valid_from=d["valid_from"], valid_until=d["valid_until"],
            reserved_share=d["reserved_share"], reserved_for_ids=d["reserved_for"], release_hours=d["release_hours"],
            green_channel_slots=d["green_channel_slots"])
        return Response(RosterOut(roster).data, status=status.HTTP_201_CREATED)


class RosterExceptionView(APIView):
    @extend_schema(request=RosterExceptionIn, responses={201: None})
    def post(self, request, roster_id: int):
        d = validated(RosterExceptionIn, request.data)
        exc = services.roster_exception_add(by=request.user, roster_id=roster_id, **d)
        return Response({"id": exc.pk, "roster": roster_id, "date": exc.date, "kind": exc.kind}, status=201)


class SessionListView(APIView):
    @extend_schema(parameters=[*WINDOW, OpenApiParameter("expert", int), OpenApiParameter("specialty", str)],
                   responses=SessionOut(many=True))
    def get(self, request):
        rows = selectors.session_list(user=request.user, expert_id=request.query_params.get("expert"),
                                      specialty=request.query_params.get("specialty", ""),
                                      start=_when(request, "from"), end=_when(request, "to"))
        return _page(self, request, rows, SessionOut)


class SlotListView(APIView):
    @extend_schema(parameters=[*WINDOW, OpenApiParameter("specialty", str), OpenApiParameter("expert", int),
                               OpenApiParameter("free", bool)], responses=SlotOut(many=True))
    def get(self, request):
        q = request.query_params
        rows = selectors.slot_list(user=request.user, specialty=q.get("specialty", ""), expert_id=q.get("expert"),
                                   start=_when(request, "from"), end=_when(request, "to"),
                                   free_only=q.get("free") in ("1", "true"))
        return _page(self, request, rows, SlotOut)


class MyCalendarView(APIView):
    """The calling expert's own sessions, with the patients booked in each slot."""

    @extend_schema(parameters=WINDOW, responses=None)
    def get(self, request):
        sessions = selectors.expert_calendar(user=request.user, start=_when(request, "from"), end=_when(request, "to"))
        bookings = [b for s in sessions for slot in s.slots.all() for b in slot.live_bookings]
        selectors.audit_listed(user=request.user, rows=bookings, request=request)
        return Response([{**SessionOut(s).data, "slots": [
            {"id": slot.id, "starts_at": slot.starts_at, "ends_at": slot.ends_at, "kind": slot.kind,
             "bookings": BookingOut(slot.live_bookings, many=True).data} for slot in s.slots.all()]}
            for s in sessions])


class CalendarFeedTokenView(APIView):
    """Issue a new secret iCalendar URL for the calling expert (the previous one stops working)."""

    @extend_schema(request=EmptyIn, responses={201: None})
    def post(self, request):
        validated(EmptyIn, request.data or {})
        token = services.calendar_feed_rotate(by=request.user)
        url = request.build_absolute_uri(reverse("scheduling-ical", kwargs={"token": token}))
        return Response({"url": url}, status=201)


class CalendarFeedView(APIView):
    """GET /api/scheduling/calendar/<token>.ics: the token is the credential (calendar apps send no session)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "text/calendar"): bytes})
    def get(self, request, token: str):
        expert, sessions = selectors.calendar_feed_sessions(token=token)
        body = ical.sessions_calendar(expert=expert, sessions=sessions, host=request.get_host())
        return HttpResponse(body, content_type="text/calendar; charset=utf-8")


# --- bookings -----------------------------------------------------------------------------
class BookingListView(APIView):
    @extend_schema(parameters=[OpenApiParameter("status", str)], responses=BookingOut(many=True))
    def get(self, request):
        rows = selectors.booking_list(user=request.user, status=request.query_params.get("status", ""))
        return _page(self, request, rows, BookingOut, audit=True)

    @extend_schema(request=BookingIn, responses={201: BookingOut})
    def post(self, request):
        d = validated(BookingIn, request.data)
        booking = services.booking_create(slot_id=d["slot"], patient_id=d["patient"],
                                          consultation_id=d["consultation"], by=request.user, request=request)
        return Response(BookingOut(booking).data, status=status.HTTP_201_CREATED)


class BookingCancelView(APIView):
    @extend_schema(request=EmptyIn, responses=BookingOut)
    def post(self, request, booking_id: int):
        validated(EmptyIn, request.data or {})
        return Response(BookingOut(services.booking_cancel(booking_id=booking_id, by=request.user,
                                                           request=request)).data)


class BookingRescheduleView(APIView):
    @extend_schema(request=RescheduleIn, responses={201: BookingOut})
    def post(self, request, booking_id: int):
        d = validated(RescheduleIn, request.data)
        booking = services.booking_reschedule(booking_id=booking_id, slot_id=d["slot"], by=request.user,
                                              request=request)
        return Response(BookingOut(booking).data, status=status.HTTP_201_CREATED)


# --- assignments and worklist -------------------------------------------------------------
class ConsultationAssignmentView(APIView):
    """Ask for an on-duty expert now (requesting doctor or coordinator)."""

    @extend_schema(request=EmptyIn, responses={201: AssignmentOut, 202: None})
    def post(self, request, consultation_id: int):
        validated(EmptyIn, request.data or {})
        offer = services.assignment_request(consultation_id=consultation_id, by=request.user)
        if offer is None:
            return Response({"state": "escalated", "detail": "No expert on duty: the coordinators were told."},
                            status=202)
        return Response(AssignmentOut(offer).data, status=201)


class ConsultationAssignView(APIView):
    @extend_schema(request=AssignIn, responses={201: AssignmentOut})
    def post(self, request, consultation_id: int):
        d = validated(AssignIn, request.data)
        assignment = services.consultation_assign(consultation_id=consultation_id, expert_id=d["expert"],
                                                  by=request.user, request=request)
        return Response(AssignmentOut(assignment).data, status=201)


class ConsultationEscalateView(APIView):
    @extend_schema(request=EscalateIn, responses=None)
    def post(self, request, consultation_id: int):
        d = validated(EscalateIn, request.data or {})
        consultation = services.consultation_escalate(consultation_id=consultation_id, reason=d["reason"],
                                                      by=request.user)
        return Response({"consultation": consultation.pk, "state": consultation.state})


class AssignmentListView(APIView):
    @extend_schema(parameters=[OpenApiParameter("status", str)], responses=AssignmentOut(many=True))
    def get(self, request):
        rows = selectors.assignment_list(user=request.user, status=request.query_params.get("status", ""))
        return _page(self, request, rows, AssignmentOut)


class AssignmentAcceptView(APIView):
    @extend_schema(request=EmptyIn, responses=AssignmentOut)
    def post(self, request, assignment_id: int):
        validated(EmptyIn, request.data or {})
        return Response(AssignmentOut(services.assignment_accept(assignment_id=assignment_id, by=request.user,
                                                                 request=request)).data)


class AssignmentDeclineView(APIView):
    @extend_schema(request=DeclineIn, responses=AssignmentOut)
    def post(self, request, assignment_id: int):
        d = validated(DeclineIn, request.data or {})
        return Response(AssignmentOut(services.assignment_decline(
            assignment_id=assignment_id, by=request.user, reason=d["reason"], request=request)).data)


class WorklistView(APIView):
    @extend_schema(responses=WorklistItemOut(many=True))
    def get(self, request):
        return Response(WorklistItemOut(selectors.worklist_for(request.user, request=request), many=True).data)


# --- referrals ----------------------------------------------------------------------------
class ReferralListView(APIView):
    @extend_schema(parameters=[OpenApiParameter("direction", str)], responses=ReferralOut(many=True))
    def get(self, request):
        rows = selectors.referral_list(user=request.user, direction=request.query_params.get("direction", ""))
        return _page(self, request, rows, ReferralOut, audit=True)

    @extend_schema(request=ReferralUpIn, responses={201: ReferralOut})
    def post(self, request):
        d = validated(ReferralUpIn, request.data)
        referral = services.referral_up_create(
            by=request.user, patient_id=d["patient"], consultation_id=d["consultation"], slot_id=d["slot"],
            specialty_code=d["specialty"], reason=d["reason"], request=request)
        return Response(ReferralOut(referral).data, status=201)


class ReferralDownView(APIView):
    @extend_schema(request=ReferralDownIn, responses={201: ReferralOut})
    def post(self, request):
        d = validated(ReferralDownIn, request.data)
        referral = services.referral_down_create(
            by=request.user, patient_id=d["patient"], consultation_id=d["consultation"], summary=d["summary"],
            plan=[dict(item) for item in d["plan"]], request=request)
        return Response(ReferralOut(referral).data, status=201)


class ReferralDetailView(APIView):
    @extend_schema(responses=ReferralOut)
    def get(self, request, referral_id: int):
        return Response(ReferralOut(selectors.referral_get(user=request.user, referral_id=referral_id,
                                                           request=request)).data)


def _referral_step(service):
    class View(APIView):
        @extend_schema(request=EmptyIn, responses=ReferralOut)
        def post(self, request, referral_id: int):
            validated(EmptyIn, request.data or {})
            return Response(ReferralOut(service(referral_id=referral_id, by=request.user, request=request)).data)

    View.__name__ = View.__qualname__ = f"Referral_{service.__name__}_View"
    return View


ReferralAcceptView = _referral_step(services.referral_accept)
ReferralArriveView = _referral_step(services.referral_arrive)
ReferralAcknowledgeView = _referral_step(services.referral_acknowledge)


class FollowUpListView(APIView):
    @extend_schema(parameters=[OpenApiParameter("state", str)], responses=FollowUpOut(many=True))
    def get(self, request):
        rows = selectors.followup_list(user=request.user, state=request.query_params.get("state", "open"))
        return _page(self, request, rows, FollowUpOut, audit=True)


class FollowUpCompleteView(APIView):
    @extend_schema(request=NoteIn, responses=FollowUpOut)
    def post(self, request, task_id: int):
        d = validated(NoteIn, request.data or {})
        return Response(FollowUpOut(services.followup_complete(task_id=task_id, by=request.user, note=d["note"],
                                                               request=request)).data)


# --- FHIR R4 read views -------------------------------------------------------------------
FHIR_JSON = "application/fhir+json"


class FhirScheduleView(APIView):
    @extend_schema(responses={(200, FHIR_JSON): dict})
    def get(self, request, pk: int):
        return Response(fhir.schedule(selectors.session_get(user=request.user, session_id=pk)), content_type=FHIR_JSON)


class FhirSlotView(APIView):
    @extend_schema(responses={(200, FHIR_JSON): dict})
    def get(self, request, pk: int):
        row = selectors.slot_get(user=request.user, slot_id=pk)
        return Response(fhir.slot(row, taken=row.taken), content_type=FHIR_JSON)


class FhirAppointmentView(APIView):
    @extend_schema(responses={(200, FHIR_JSON): dict})
    def get(self, request, pk: int):
        booking = selectors.booking_get(user=request.user, booking_id=pk, request=request, interface="fhir")
        return Response(fhir.appointment(booking), content_type=FHIR_JSON)
