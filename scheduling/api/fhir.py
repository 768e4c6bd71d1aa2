"""FHIR R4 read views: Schedule (a session), Slot, Appointment (a booking; audited)."""
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import fhir, selectors


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
