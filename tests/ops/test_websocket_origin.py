"""A real Daphne process refuses WebSockets from a foreign or missing Origin (cross-site hijacking)."""
import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.factories import UserFactory
from tests.ops.processes import daphne
from tests.ops.test_scaled_stack import session_cookie


@pytest.fixture(scope="module")
def server(tmp_path_factory, django_db_setup, django_db_blocker):
    with daphne(tmp_path_factory.mktemp("daphne")) as proc:
        yield proc


@pytest.fixture
def cookie(transactional_db):
    return session_cookie(UserFactory(username="origin-user"))


async def _handshake(server, cookie: str | None, origin: str | None):
    headers = {"Cookie": cookie} if cookie else {}
    url = f"ws://127.0.0.1:{server.port}/ws/notifications/"
    async with connect(url, additional_headers=headers, origin=origin, open_timeout=10) as socket:
        return json.loads(await asyncio.wait_for(socket.recv(), 10))


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1.evil.example", None])
def test_foreign_or_missing_origin_is_refused_at_the_handshake(server, cookie, origin):
    # given a logged-in user's session cookie
    # when a page from another origin (or none) opens the socket with it, then the handshake is refused
    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(_handshake(server, cookie, origin))
    assert refused.value.response.status_code == 403


def test_same_origin_socket_is_accepted(server, cookie):
    hello = asyncio.run(_handshake(server, cookie, f"http://127.0.0.1:{server.port}"))
    assert hello == {"type": "hello", "user": "origin-user"}


def test_same_origin_without_a_session_is_refused(server, transactional_db):
    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(_handshake(server, None, f"http://127.0.0.1:{server.port}"))
    assert refused.value.response.status_code == 403
