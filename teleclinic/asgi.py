"""ASGI entry point: HTTP to Django; WebSockets through origin validation and authentication."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleclinic.settings")
django_asgi_app = get_asgi_application()  # before importing consumers: it sets Django up

from channels.auth import AuthMiddleware, get_user  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import CookieMiddleware, SessionMiddleware  # noqa: E402
from django.conf import settings  # noqa: E402

from .gc_tuning import collect_less_often  # noqa: E402
from .routing import websocket_urlpatterns  # noqa: E402
from .socket_db import KNOCKING, socket_db  # noqa: E402


class SocketAuthMiddleware(AuthMiddleware):
    """Channels' AuthMiddleware (the session cookie's user in scope["user"]), its session and user
    lookup run on the socket threads side by side rather than on Channels' one shared thread:
    after a Daphne process dies, its clients all authenticate again on the survivor at once. Least
    urgent of the socket threads' work (KNOCKING): the sockets already in go first."""

    async def resolve_scope(self, scope):
        scope["user"]._wrapped = await socket_db(get_user.func, KNOCKING)(scope)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # A missing or foreign Origin is refused (403 at the handshake).
        "websocket": AllowedHostsOriginValidator(
            CookieMiddleware(SessionMiddleware(SocketAuthMiddleware(URLRouter(websocket_urlpatterns))))),
    }
)

# A serving process holds hundreds of sockets: full garbage collections over all their objects would
# stop its event loop for 100 ms and more (teleclinic/gc_tuning.py). ASGI_GC_THRESHOLDS="" keeps CPython's.
if settings.ASGI_GC_THRESHOLDS:
    collect_less_often(tuple(settings.ASGI_GC_THRESHOLDS))
