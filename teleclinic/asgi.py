"""ASGI entry point: HTTP to Django; WebSockets through origin validation and authentication."""
import os
from urllib.parse import urlparse

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleclinic.settings")
django_asgi_app = get_asgi_application()  # before importing consumers: it sets Django up

from channels.auth import AuthMiddleware, get_user  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier  # noqa: E402
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


DEFAULT_PORTS = {"http": 80, "https": 443}


class SameOriginValidator:
    """Channels' check (the Origin's host is one of ALLOWED_HOSTS), and the port too: the Origin
    must name the host and port the socket was opened on (its Host header), or the scheme's default
    port when a client sends no Host. Channels compares host names only, so a page served on
    another port of the same host (another application) could open our sockets with the user's
    cookie (security: issue 13)."""

    def __init__(self, application):
        self.application = AllowedHostsOriginValidator(application)

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not same_origin(urlparse(origin), headers.get(b"host", b"").decode("latin-1")):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def same_origin(origin, host: str) -> bool:
    """Whether a parsed Origin names `host` (a Host header, "name[:port]"; empty: the default port)."""
    try:
        port = origin.port or DEFAULT_PORTS.get(origin.scheme)
    except ValueError:  # a port out of range
        return False
    name, _, host_port = host.lower().rpartition(":") if ":" in host.lstrip("[").split("]")[-1] else (
        "", "", "")
    if not name:
        name, host_port = host.lower(), str(DEFAULT_PORTS.get(origin.scheme))
    if not host:
        return port == DEFAULT_PORTS.get(origin.scheme)
    return (origin.hostname or "").lower() == name.strip("[]") and str(port) == host_port


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # A missing or foreign Origin (host or port) is refused (403 at the handshake).
        "websocket": SameOriginValidator(
            CookieMiddleware(SocketSessionMiddleware(SocketAuthMiddleware(URLRouter(websocket_urlpatterns))))),
    }
)

# A serving process holds hundreds of sockets: full garbage collections over all their objects would
# stop its event loop for 100 ms and more (teleclinic/gc_tuning.py). ASGI_GC_THRESHOLDS="" keeps CPython's.
collect_less_often()
