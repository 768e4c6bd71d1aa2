"""Fixtures for live rooms: a live consultation, its open room, sockets with a session or a ticket."""
import contextlib

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from consult.models import Consultation
from live.services import rooms, tokens
from tests.factories import PatientFactory

ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture
def live_consultation(people, community, consultation_factory):
    patient = PatientFactory(home_clinic=community.village_a1, name="王秀英")
    return consultation_factory(patient=patient, requested_by=people["village_doctor"], mode=Consultation.Mode.LIVE,
                                assigned_expert=people["expert"].expert, state=Consultation.State.ASSIGNED)


@pytest.fixture
def room(live_consultation, people):
    opened, _ = rooms.room_open(by=people["village_doctor"], consultation_id=live_consultation.pk)
    return opened


@pytest.fixture
def offered_to_other_expert(live_consultation, people, assignment_factory):
    """The consultation offered to a second expert: they may see it, so they may knock on its room."""
    return assignment_factory(consultation=live_consultation, expert=people["other_expert"].expert)


@pytest.fixture
def invite(room, people):
    """(JoinToken row, token string) for the patient's phone."""
    return tokens.invite_create(by=people["village_doctor"], room_id=room.pk)


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.fixture
def cookies(people):
    return {name: session_cookie(user) for name, user in people.items()}


def patient_ticket(room_id: int, token: str, device: str = "phone-1") -> str:
    _, ticket, _ = tokens.token_exchange(room_id=room_id, token=token, device=device)
    return ticket


@contextlib.asynccontextmanager
async def socket(path: str, cookie: bytes | None = None, origin=ORIGIN, extra_headers=()):
    """A connected communicator that is always disconnected afterwards."""
    from teleclinic.asgi import application

    headers = ([origin] if origin else []) + list(extra_headers)
    if cookie:
        headers.append((b"cookie", cookie))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=10)
    communicator.connected, communicator.code = connected, code
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def receive_until(communicator, predicate, timeout: float = 5.0) -> list[dict]:
    """Frames up to and including the first that satisfies predicate."""
    frames = []
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        frames.append(frame)
        if predicate(frame):
            return frames


async def joined(communicator, last_seq: int | None = None) -> dict:
    """Send join; return the welcome frame (stored events that follow stay queued)."""
    await communicator.send_json_to({"type": "join"} if last_seq is None else {"type": "join", "last_seq": last_seq})
    welcome = await communicator.receive_json_from(timeout=5)
    assert welcome["type"] == "welcome", welcome
    return welcome


async def drain_events(communicator, up_to_seq: int, timeout: float = 5.0) -> list[dict]:
    """Event frames until seq reaches up_to_seq (other frames are skipped)."""
    events = []
    while not events or events[-1]["seq"] < up_to_seq:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame["type"] == "event":
            events.append(frame)
    return events
