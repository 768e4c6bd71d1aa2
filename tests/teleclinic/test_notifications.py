"""Live fan-out through the Redis channel layer, from a real Celery worker to a user's socket."""
import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from teleclinic.asgi import application
from tests.factories import UserFactory


def _session_cookie(username: str) -> bytes:
    client = Client()
    client.force_login(UserFactory(username=username))
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(cookie: bytes | None, origin: bytes | None = b"http://localhost"):
    headers = [(b"cookie", cookie)] if cookie else []
    if origin:
        headers.append((b"origin", origin))
    communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
async def test_event_from_a_celery_worker_reaches_the_users_socket(celery_worker_process):
    # given the Redis channel layer and a logged-in user's open notification socket
    assert "Redis" in settings.CHANNEL_LAYERS["default"]["BACKEND"]
    cookie = await sync_to_async(_session_cookie)("ws-user")
    communicator, connected, _ = await _connect(cookie)
    try:
        assert connected
        assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
        user_id = await sync_to_async(lambda: UserFactory(username="ws-user").pk)()
        # when a task in the worker process sends to the user's group
        from teleclinic.tasks import notify_users

        await sync_to_async(notify_users.delay)([user_id], {"type": "report.arrived", "report": 42})
        # then the socket in this process receives it
        message = await communicator.receive_json_from(timeout=15)
        assert message == {"type": "report.arrived", "report": 42}
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_anonymous_socket_is_closed():
    communicator, connected, code = await _connect(None)
    try:
        assert connected is False and code == 4401
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", [b"http://evil.example", None])
async def test_foreign_or_missing_origin_is_refused(origin):
    cookie = await sync_to_async(_session_cookie)("ws-origin")
    communicator, connected, _ = await _connect(cookie, origin=origin)
    try:
        assert connected is False
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_unknown_message_gets_an_error_frame():
    cookie = await sync_to_async(_session_cookie)("ws-err")
    communicator, connected, _ = await _connect(cookie)
    try:
        assert connected
        await communicator.receive_json_from(timeout=5)
        await communicator.send_json_to({"type": "launch"})
        reply = await communicator.receive_json_from(timeout=5)
        assert reply["type"] == "error" and reply["code"] == "unknown_type"
        await communicator.send_json_to({"type": "ping"})
        assert (await communicator.receive_json_from(timeout=5)) == {"type": "pong"}
    finally:
        await communicator.disconnect()
    await asyncio.sleep(0)
