"""WebSocket routes under /ws/, gathered from the apps (the one place the kernel names apps, like urls.py)."""
from live.routing import websocket_urlpatterns as live_patterns
from notifications.routing import websocket_urlpatterns as notification_patterns

websocket_urlpatterns = [
    *notification_patterns,
    *live_patterns,
]
