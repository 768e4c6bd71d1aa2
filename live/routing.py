"""WebSocket routes of the live app."""
from django.urls import path

from .consumers import RoomConsumer

websocket_urlpatterns: list = [
    path("ws/rooms/<int:room_id>/", RoomConsumer.as_asgi()),
]
