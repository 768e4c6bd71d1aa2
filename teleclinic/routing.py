"""WebSocket routes under /ws/, gathered from the apps."""
from django.urls import path

from live.routing import websocket_urlpatterns as live_patterns

from .notifications import NotificationConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    *live_patterns,
]
