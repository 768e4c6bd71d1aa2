"""双向转诊: upward and downward referrals and the village's follow-up tasks."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from teleclinic.api import PAGE_PARAMETERS, paginated, validated

from .. import selectors, services
from ..models import FollowUpTask, Referral
from .serializers import (EmptyIn, FollowUpOut, NoteIn, ReferralDownIn, ReferralOut, ReferralUpIn, choice_param,
                          filter_param, page_of)


class ReferralListView(APIView):
    @extend_schema(parameters=[filter_param("direction", Referral.Direction.values), *PAGE_PARAMETERS],
                   responses=paginated(ReferralOut), operation_id="scheduling_referrals_list")
    def get(self, request):
        rows = selectors.referral_list(user=request.user,
                                       direction=choice_param(request, "direction", Referral.Direction.values))
        return page_of(self, request, rows, ReferralOut, audit=True)

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
    @extend_schema(parameters=[OpenApiParameter("state", str, enum=FollowUpTask.State.values,
                                               description="default open; empty for every state"),
                               *PAGE_PARAMETERS], responses=paginated(FollowUpOut),
                   operation_id="scheduling_follow_ups_list")
    def get(self, request):
        rows = selectors.followup_list(user=request.user,
                                       state=choice_param(request, "state", FollowUpTask.State.values, default="open"))
        return page_of(self, request, rows, FollowUpOut, audit=True)


class FollowUpCompleteView(APIView):
    @extend_schema(request=NoteIn, responses=FollowUpOut)
    def post(self, request, task_id: int):
        d = validated(NoteIn, request.data or {})
        return Response(FollowUpOut(services.followup_complete(task_id=task_id, by=request.user, note=d["note"],
                                                               request=request)).data)
