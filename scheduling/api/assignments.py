"""On-demand assignment (offers, accept/decline, escalation) and the expert's worklist."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from teleclinic.api import PAGE_PARAMETERS, paginated, validated
from teleclinic.errors import InvalidInput

from .. import selectors, services
from ..models import Assignment
from .serializers import (AssignIn, AssignmentOut, DeclineIn, EmptyIn, EscalatedOut, EscalateIn, EscalationOut,
                          ExpertToAssignOut, NoExpertOnDutyOut, WorklistItemOut, choice_param, filter_param, id_param,
                          page_of)


class ConsultationAssignmentView(APIView):
    """Ask for an on-duty expert now (requesting doctor or coordinator)."""

    @extend_schema(request=EmptyIn, responses={201: AssignmentOut, 202: NoExpertOnDutyOut})
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
    @extend_schema(request=EscalateIn, responses=EscalatedOut)
    def post(self, request, consultation_id: int):
        d = validated(EscalateIn, request.data or {})
        consultation = services.consultation_escalate(consultation_id=consultation_id, reason=d["reason"],
                                                      by=request.user)
        return Response({"consultation": consultation.pk, "state": consultation.state})


class AssignmentListView(APIView):
    """Offers and their outcome (a decline's reason with it); ?consultation= for one case's history."""

    @extend_schema(parameters=[filter_param("status", Assignment.Status.values),
                               OpenApiParameter("consultation", int), *PAGE_PARAMETERS],
                   responses=paginated(AssignmentOut), operation_id="scheduling_assignments_list")
    def get(self, request):
        rows = selectors.assignment_list(user=request.user,
                                         status=choice_param(request, "status", Assignment.Status.values),
                                         consultation=id_param(request, "consultation"))
        return page_of(self, request, rows, AssignmentOut, audit=True)


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
            assignment_id=assignment_id, by=request.user, reason=d["reason"], code=d["code"], request=request)).data)


class WorklistView(APIView):
    @extend_schema(responses=WorklistItemOut(many=True))
    def get(self, request):
        return Response(WorklistItemOut(selectors.worklist_for(request.user, request=request), many=True).data)


class ExpertsToAssignView(APIView):
    """Whom a coordinator may give an escalated case to: the specialty's experts, on duty first, then least loaded."""

    @extend_schema(parameters=[OpenApiParameter("specialty", str, required=True),
                               OpenApiParameter("consultation", int, description="mark who declined its offers")],
                   responses=ExpertToAssignOut(many=True))
    def get(self, request):
        raw = request.query_params.get("consultation", "")
        if raw and not (raw.isascii() and raw.isdigit() and len(raw) < 19):
            raise InvalidInput("'consultation' must be a number.")
        experts = selectors.experts_to_assign(user=request.user, specialty=request.query_params.get("specialty", ""),
                                              consultation_id=int(raw) if raw else None)
        return Response(ExpertToAssignOut(experts, many=True).data)


class EscalationListView(APIView):
    """What needs a coordinator now: the escalated consultations, each with why (declines, lapsed offers,
    nobody on duty)."""

    @extend_schema(responses=EscalationOut(many=True))
    def get(self, request):
        return Response(EscalationOut(selectors.escalations_for(user=request.user, request=request), many=True).data)
