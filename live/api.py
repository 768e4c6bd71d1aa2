"""REST API of live rooms: open, read, invite the patient, exchange a link for a ticket, close."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from teleclinic.api import StrictSerializer, validated

from . import links, selectors
from .models import JoinToken, Participant, Room
from .services import rooms, tokens
from .services.expert_request import room_expert_request
from .services.invite_sms import invite_sms_send


class ParticipantOut(serializers.ModelSerializer):
    class Meta:
        model = Participant
        fields = ["id", "role", "state", "display_name", "audio_muted", "video_muted", "audio_only", "connected"]


class RoomOut(serializers.ModelSerializer):
    participants = ParticipantOut(many=True, read_only=True)
    ws_path = serializers.SerializerMethodField()
    page = serializers.SerializerMethodField()

    class Meta:
        model = Room
        fields = ["id", "consultation", "host", "state", "last_seq", "created_at", "closed_at", "participants",
                  "ws_path", "page"]

    def get_ws_path(self, room) -> str:
        return f"/ws/rooms/{room.pk}/"

    def get_page(self, room) -> str:
        return f"/live/rooms/{room.pk}/"


class RoomIn(StrictSerializer):
    consultation = serializers.IntegerField()


class InviteIn(StrictSerializer):
    role = serializers.ChoiceField(choices=JoinToken.Role.choices, default=JoinToken.Role.PATIENT)
    display_name = serializers.CharField(max_length=60, required=False, default="")


class InviteOut(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    qr_svg = serializers.CharField()
    phone = serializers.CharField(help_text="the patient's phone on record (the SMS goes there unless another is typed)")


class InviteSmsIn(StrictSerializer):
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")


class InviteSmsOut(serializers.Serializer):
    phone = serializers.CharField(help_text="the number it was sent to, masked")


class LinkCheckOut(serializers.Serializer):
    role = serializers.CharField()
    expires_at = serializers.DateTimeField()


class JoinIn(StrictSerializer):
    token = serializers.CharField(max_length=2000)


class JoinOut(serializers.Serializer):
    ticket = serializers.CharField()
    expires_at = serializers.DateTimeField()
    participant = ParticipantOut()
    ws_path = serializers.CharField()


class RoomQuery(serializers.Serializer):
    consultation = serializers.IntegerField(min_value=1)


class RoomListView(APIView):
    @extend_schema(parameters=[RoomQuery], responses=RoomOut, operation_id="live_rooms_of_consultation")
    def get(self, request):
        """The open room of ?consultation=<id>, for the host or an expert who may join it (404 if none)."""
        query = RoomQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        room = rooms.room_of_consultation(user=request.user, consultation_id=query.validated_data["consultation"],
                                          request=request)
        return Response(RoomOut(room).data)

    @extend_schema(request=RoomIn, responses={201: RoomOut, 200: RoomOut})
    def post(self, request):
        data = validated(RoomIn, request.data)
        room, created = rooms.room_open(by=request.user, consultation_id=data["consultation"], request=request)
        return Response(RoomOut(room).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class RoomDetailView(APIView):
    @extend_schema(responses=RoomOut)
    def get(self, request, room_id: int):
        return Response(RoomOut(selectors.room_get(user=request.user, room_id=room_id, request=request)).data)


class RoomCloseView(APIView):
    @extend_schema(request=None, responses=RoomOut)
    def post(self, request, room_id: int):
        return Response(RoomOut(rooms.room_close(by=request.user, room_id=room_id)).data)


class ExpertRequestOut(serializers.Serializer):
    state = serializers.ChoiceField(choices=["offered", "escalated"])
    assignment = serializers.IntegerField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)


class ExpertRequestView(APIView):
    """The host asks for an on-duty expert now (offered as any new live consultation; escalated if none)."""

    @extend_schema(request=None, responses={201: ExpertRequestOut, 202: ExpertRequestOut})
    def post(self, request, room_id: int):
        offer = room_expert_request(by=request.user, room_id=room_id, request=request)
        if offer is None:
            return Response({"state": "escalated", "assignment": None, "expires_at": None}, status=202)
        return Response({"state": "offered", "assignment": offer.pk, "expires_at": offer.expires_at}, status=201)


class InviteView(APIView):
    @extend_schema(request=InviteIn, responses={201: InviteOut})
    def post(self, request, room_id: int):
        data = validated(InviteIn, request.data)
        invite, token = tokens.invite_create(by=request.user, room_id=room_id, role=data["role"],
                                             display_name=data["display_name"], request=request)
        url = links.patient_link(request, room_id=room_id, token=token)
        body = {"id": invite.pk, "url": url, "token": token, "expires_at": invite.expires_at,
                "qr_svg": links.qr_svg(url), "phone": invite.patient.phone}
        return Response(InviteOut(body).data, status=status.HTTP_201_CREATED)


class InviteSmsView(APIView):
    """The host sends the patient's link by SMS (the outbound backend of reports: REPORTS_SMS_BACKEND)."""

    @extend_schema(request=InviteSmsIn, responses={202: InviteSmsOut})
    def post(self, request, room_id: int, invite_id: int):
        data = validated(InviteSmsIn, request.data)
        masked = invite_sms_send(by=request.user, room_id=room_id, invite_id=invite_id, phone=data["phone"],
                                 link=lambda token: links.patient_link(request, room_id=room_id, token=token),
                                 request=request)
        return Response({"phone": masked}, status=status.HTTP_202_ACCEPTED)


class LinkCheckView(APIView):
    """The patient's page asks, before it opens the camera, whether its link would be let in (nothing
    changes: the link is claimed only by `join`). 403 {"code", "detail"} says why not."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=JoinIn, responses={200: LinkCheckOut})
    def post(self, request, room_id: int):
        data = validated(JoinIn, request.data)
        invite = tokens.token_check(room_id=room_id, token=data["token"], device=request.session.get("live_device"))
        return Response({"role": invite.role, "expires_at": invite.expires_at})


class JoinView(APIView):
    """The patient's phone, no account: the link's token -> a ticket for one socket.
    The browser's session holds a random device id; the first device claims the link."""

    authentication_classes: list = []  # anonymous by design; no CSRF token on a phone's first visit
    permission_classes = [AllowAny]

    @extend_schema(request=JoinIn, responses={200: JoinOut})
    def post(self, request, room_id: int):
        data = validated(JoinIn, request.data)
        device = request.session.get("live_device") or tokens.new_device_id()
        participant, ticket, expires_at = tokens.token_exchange(room_id=room_id, token=data["token"], device=device)
        request.session["live_device"] = device  # only now: a refused link leaves no session row behind
        body = {"ticket": ticket, "expires_at": expires_at, "participant": participant,
                "ws_path": f"/ws/rooms/{room_id}/?ticket={ticket}"}
        return Response(JoinOut(body).data)
