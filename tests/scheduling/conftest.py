"""Scheduling fixtures: sessions and slots around 'now', and a listener on a user's notification socket."""
import datetime as dt

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from scheduling.models import CloudClinicSession, Roster, Slot
from teleclinic.asgi import application


def make_session(expert_user, specialty, *, starts_at, minutes=60, slots=4, kinds=None, release_at=None,
                 reserved_for=(), coordinator=None):
    """A roster-backed session with `slots` equal slots; kinds (list) sets each slot's kind."""
    expert = expert_user.expert
    org = expert_user.organisation
    roster = Roster.objects.create(
        expert=expert, specialty=specialty, organisation=org, weekdays=[1], start_time=dt.time(8),
        end_time=dt.time(12), slot_minutes=max(minutes // slots, 5), capacity=slots,
        valid_from=timezone.localdate(), created_by=coordinator or expert_user)
    roster.reserved_for.set(reserved_for)
    session = CloudClinicSession.objects.create(
        roster=roster, expert=expert, specialty=specialty, organisation=org, starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=minutes))
    length = dt.timedelta(minutes=minutes / slots)
    kinds = kinds or ["open"] * slots
    Slot.objects.bulk_create([
        Slot(session=session, starts_at=starts_at + i * length, ends_at=starts_at + (i + 1) * length, kind=kinds[i],
             release_at=(release_at or starts_at - dt.timedelta(hours=24)) if kinds[i] == "grassroots" else None)
        for i in range(slots)])
    return session


@pytest.fixture
def session_factory(db):
    return make_session


@pytest.fixture
def tomorrow():
    return (timezone.now() + dt.timedelta(days=1)).replace(microsecond=0)


class Socket:
    """A user's /ws/notifications/ socket in this process, on the Redis channel layer."""

    def __init__(self, user):
        self.user = user

    async def __aenter__(self):
        def cookie():
            client = Client()
            client.force_login(self.user)
            return f"sessionid={client.cookies['sessionid'].value}".encode()

        headers = [(b"cookie", await sync_to_async(cookie)()), (b"origin", b"http://localhost")]
        self.communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
        connected, _ = await self.communicator.connect(timeout=5)
        assert connected
        assert (await self.communicator.receive_json_from(timeout=5))["type"] == "hello"
        return self

    async def next(self, type_: str, timeout: float = 10) -> dict:
        """The next event of this type (others are skipped)."""
        while True:
            message = await self.communicator.receive_json_from(timeout=timeout)
            if message.get("type") == type_:
                return message

    async def __aexit__(self, *exc):
        await self.communicator.disconnect()


@pytest.fixture
def socket_of():
    return Socket
