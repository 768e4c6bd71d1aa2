"""Bookings of cloud-clinic slots: create, cancel, reschedule."""
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from teleclinic.api import PAGE_PARAMETERS, paginated, validated

from .. import selectors, services
from ..models import Booking
from .serializers import BookingIn, BookingOut, EmptyIn, RescheduleIn, choice_param, filter_param, page_of


class BookingListView(APIView):
    @extend_schema(parameters=[filter_param("status", Booking.Status.values), *PAGE_PARAMETERS],
                   responses=paginated(BookingOut), operation_id="scheduling_bookings_list")
    def get(self, request):
        rows = selectors.booking_list(user=request.user, status=choice_param(request, "status", Booking.Status.values))
        return page_of(self, request, rows, BookingOut, audit=True)

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
