"""ASGI entry point: HTTP to Django; WebSockets through origin validation and authentication."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleclinic.settings")
django_asgi_app = get_asgi_application()  # before importing consumers: it sets Django up

from channels.auth import AuthMiddleware, get_user  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware  # noqa: E402

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


class SocketSessionMiddleware(SessionMiddleware):
    """Channels' SessionMiddleware (the cookie's session in scope["session"]) without its wrapper
    around the socket's every send: the wrapper saves a changed session on "http.response.start"
    only, which a WebSocket never sends, yet reads the session for each message a socket is sent
    (about 4 % of a busy Daphne's event loop, py-spy at 600 room sockets). No socket code writes to
    the session."""

    async def __call__(self, scope, receive, send):
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # A missing or foreign Origin is refused (403 at the handshake).
        "websocket": AllowedHostsOriginValidator(
            CookieMiddleware(SocketSessionMiddleware(SocketAuthMiddleware(URLRouter(websocket_urlpatterns))))),
    }
)

# A serving process holds hundreds of sockets: full garbage collections over all their objects would
# stop its event loop for 100 ms and more (teleclinic/gc_tuning.py). ASGI_GC_THRESHOLDS="" keeps CPython's.
collect_less_often()
