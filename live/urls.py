"""REST API routes of the live app (mounted under /api/)."""
from django.urls import path

from . import api

urlpatterns = [
    path("live/rooms/", api.RoomListView.as_view(), name="api-live-rooms"),
    path("live/rooms/<int:room_id>/", api.RoomDetailView.as_view(), name="api-live-room"),
    path("live/rooms/<int:room_id>/close/", api.RoomCloseView.as_view(), name="api-live-room-close"),
    path("live/rooms/<int:room_id>/expert-request/", api.ExpertRequestView.as_view(),
         name="api-live-expert-request"),
    path("live/rooms/<int:room_id>/invites/", api.InviteView.as_view(), name="api-live-invites"),
    path("live/rooms/<int:room_id>/invites/<int:invite_id>/sms/", api.InviteSmsView.as_view(),
         name="api-live-invite-sms"),
    path("live/rooms/<int:room_id>/link-check/", api.LinkCheckView.as_view(), name="api-live-link-check"),
    path("live/rooms/<int:room_id>/join/", api.JoinView.as_view(), name="api-live-join"),
]
