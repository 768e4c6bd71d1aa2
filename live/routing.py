"""WebSocket routes of the live app."""
websocket_urlpatterns: list = []
