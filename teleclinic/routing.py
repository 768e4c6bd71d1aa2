"""WebSocket routes under /ws/, gathered from the apps."""
from django.urls import path

from .notifications import NotificationConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
]
