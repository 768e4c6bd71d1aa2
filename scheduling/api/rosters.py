"""Rosters, sessions, slots and the expert's calendars (including the iCalendar feed)."""
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from teleclinic.api import PAGE_PARAMETERS, paginated, validated

from .. import ical, selectors, services
from .serializers import (WINDOW, CalendarFeedUrlOut, CalendarSessionOut, EmptyIn, ExceptionRemoveIn,
                          ExceptionRemoveOut, OnCallShiftIn, OnCallShiftOut,
                          RosterExceptionIn, RosterExceptionOut, RosterIn, RosterOut, RosterPatch, SessionOut, SlotOut,
                          id_param, page_of, when_param)


class RosterListView(APIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=paginated(RosterOut), operation_id="scheduling_rosters_list")
    def get(self, request):
        return page_of(self, request, selectors.roster_list(user=request.user), RosterOut)

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


class RosterDetailView(APIView):
    @extend_schema(request=RosterPatch, responses=RosterOut)
    def patch(self, request, roster_id: int):
        d = validated(RosterPatch, request.data)
        return Response(RosterOut(services.roster_update(by=request.user, roster_id=roster_id, changes=d)).data)


class RosterExceptionView(APIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=paginated(RosterExceptionOut),
                   operation_id="scheduling_roster_exceptions_list")
    def get(self, request, roster_id: int):
        """The roster's leave days and extra sessions from today on."""
        return page_of(self, request, selectors.roster_exceptions(user=request.user, roster_id=roster_id),
                       RosterExceptionOut)

    @extend_schema(request=RosterExceptionIn, responses={201: RosterExceptionOut})
    def post(self, request, roster_id: int):
        d = validated(RosterExceptionIn, request.data)
        exc = services.roster_exception_add(by=request.user, roster_id=roster_id, **d)
        return Response(RosterExceptionOut(exc).data, status=201)


class RosterExceptionDetailView(APIView):
    @extend_schema(request=ExceptionRemoveIn, responses={200: ExceptionRemoveOut})
    def delete(self, request, roster_id: int, exception_id: int):
        """Undo a leave day (its sessions come back) or an extra session (refused with 409
        session_has_bookings while patients are booked into it, unless cancel_bookings is true)."""
        d = validated(ExceptionRemoveIn, request.data or {})
        return Response(services.roster_exception_remove(by=request.user, roster_id=roster_id,
                                                         exception_id=exception_id,
                                                         cancel_bookings=d["cancel_bookings"]))


class SessionListView(APIView):
    @extend_schema(parameters=[*WINDOW, OpenApiParameter("expert", int), OpenApiParameter("specialty", str),
                               *PAGE_PARAMETERS], responses=paginated(SessionOut),
                   operation_id="scheduling_sessions_list")
    def get(self, request):
        rows = selectors.session_list(user=request.user, expert_id=id_param(request, "expert"),
                                      specialty=request.query_params.get("specialty", ""),
                                      start=when_param(request, "from"), end=when_param(request, "to"))
        return page_of(self, request, rows, SessionOut)


class SlotListView(APIView):
    @extend_schema(parameters=[*WINDOW, OpenApiParameter("specialty", str), OpenApiParameter("expert", int),
                               OpenApiParameter("free", bool), *PAGE_PARAMETERS], responses=paginated(SlotOut),
                   operation_id="scheduling_slots_list")
    def get(self, request):
        q = request.query_params
        rows = selectors.slot_list(user=request.user, specialty=q.get("specialty", ""),
                                   expert_id=id_param(request, "expert"),
                                   start=when_param(request, "from"), end=when_param(request, "to"),
                                   free_only=q.get("free") in ("1", "true"))
        return page_of(self, request, rows, SlotOut)


class MyCalendarView(APIView):
    """The calling expert's own sessions, with the patients booked in each slot."""

    @extend_schema(parameters=WINDOW, responses=CalendarSessionOut(many=True))
    def get(self, request):
        sessions = selectors.expert_calendar(user=request.user, start=when_param(request, "from"),
                                             end=when_param(request, "to"))
        bookings = [b for s in sessions for slot in s.slots.all() for b in slot.live_bookings]
        selectors.audit_listed(user=request.user, rows=bookings, request=request)
        return Response(CalendarSessionOut(sessions, many=True).data)


class CalendarFeedTokenView(APIView):
    """Issue a new secret iCalendar URL for the calling expert (the previous one stops working)."""

    @extend_schema(request=EmptyIn, responses={201: CalendarFeedUrlOut})
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


class OnCallShiftView(APIView):
    """A coordinator puts an expert on the on-call roster (on duty for on-demand offers)."""

    @extend_schema(parameters=[*WINDOW, *PAGE_PARAMETERS], responses=paginated(OnCallShiftOut),
                   operation_id="scheduling_on_call_list")
    def get(self, request):
        """The community's on-call shifts not over yet (or not over by ?from=), starting before ?to=."""
        rows = selectors.oncall_list(user=request.user, start=when_param(request, "from"),
                                     end=when_param(request, "to"))
        return page_of(self, request, rows, OnCallShiftOut)

    @extend_schema(request=OnCallShiftIn, responses={201: OnCallShiftOut})
    def post(self, request):
        d = validated(OnCallShiftIn, request.data)
        shift = services.oncall_shift_add(by=request.user, expert_id=d["expert"], specialty_code=d["specialty"],
                                          starts_at=d["starts_at"], ends_at=d["ends_at"])
        return Response(OnCallShiftOut(shift).data, status=status.HTTP_201_CREATED)


class OnCallShiftDetailView(APIView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request, shift_id: int):
        """Take the expert off the shift: a future one is removed, a running one ends now."""
        services.oncall_shift_end(by=request.user, shift_id=shift_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
