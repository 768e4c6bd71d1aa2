"""Finding 8 (low): a ticket taken before a room closed still opened a socket after; the socket's
origin check ignored the port."""
import pytest
from asgiref.sync import sync_to_async

from live.services import rooms
from tests.live.conftest import joined, patient_ticket, socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_ticket_taken_before_the_room_closed_is_refused_after(room, invite, people):
    # given a ticket taken while the room was open
    ticket = await sync_to_async(patient_ticket)(room.pk, invite[1])
    # when the host ends the room, then the ticket is presented
    await sync_to_async(rooms.room_close)(by=people["village_doctor"], room_id=room.pk)
    async with socket(f"/ws/rooms/{room.pk}/?ticket={ticket}") as late:
        # then the socket is told the room ended, and closed
        frame = await late.receive_json_from(timeout=5)
        assert frame["code"] == "room_closed"
        assert (await late.receive_output(timeout=5))["code"] == 4403  # refused


@pytest.mark.parametrize("origin, host, admitted", [
    (b"http://localhost:8000", b"localhost:8000", True),
    (b"http://localhost:9000", b"localhost:8000", False),  # another application on the same host
    (b"http://localhost", b"localhost:8000", False),
    (b"https://localhost", b"localhost", True),
])
async def test_the_socket_origin_must_match_host_and_port(room, cookies, origin, host, admitted):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"], origin=(b"origin", origin),
                      extra_headers=[(b"host", host)]) as s:
        assert s.connected is admitted
        if admitted:
            assert (await joined(s))["me"]["role"] == "host"
