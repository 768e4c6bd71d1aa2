"""Patient links (signed, expiring, bound to room and patient, claimed by one phone) and socket tickets
(short-lived, single use, stored hashed)."""
import datetime as dt
import hashlib
import threading

import pytest
from django.core import signing
from django.db import connection
from django.test import Client
from django.utils import timezone

from live.errors import Refused
from live.models import Participant, Ticket
from live.services import rooms, tokens
from tests.factories import PatientFactory


def _refused_code(fn, **kwargs) -> str:
    with pytest.raises(Refused) as refused:
        fn(**kwargs)
    return refused.value.code


def test_link_exchanges_for_a_ticket_stored_only_as_its_hash(room, invite):
    participant, ticket, expires_at = tokens.token_exchange(room_id=room.pk, token=invite[1], device="phone-1")
    assert participant.role == "patient" and participant.state == "waiting" and participant.display_name == "王秀英"
    assert not Ticket.objects.filter(secret_hash=ticket).exists()
    assert Ticket.objects.filter(secret_hash=hashlib.sha256(ticket.encode()).hexdigest()).exists()
    assert timezone.now() < expires_at <= timezone.now() + dt.timedelta(seconds=61)


def test_expired_link_is_refused(room, people, settings):
    settings.LIVE_JOIN_TOKEN_TTL = 0
    _, token = tokens.invite_create(by=people["village_doctor"], room_id=room.pk)
    assert _refused_code(tokens.token_exchange, room_id=room.pk, token=token, device="d") == "token_expired"


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),   # signature changed
    lambda t: "x" + t,                                             # payload changed
    lambda t: signing.dumps(signing.loads(t, salt=tokens.SALT), salt=tokens.SALT, key="not-our-secret"),
    lambda t: "",
])
def test_forged_link_is_refused(room, invite, tamper):
    assert _refused_code(tokens.token_exchange, room_id=room.pk, token=tamper(invite[1]), device="d") == "token_forged"


def test_link_for_another_room_is_refused(room, invite, people, live_consultation, consultation_factory, community):
    other = consultation_factory(patient=PatientFactory(home_clinic=community.village_a1), mode="live",
                                 requested_by=people["village_doctor"])
    other_room, _ = rooms.room_open(by=people["village_doctor"], consultation_id=other.pk)
    assert _refused_code(tokens.token_exchange, room_id=other_room.pk, token=invite[1], device="d") == "token_other_room"


def test_link_opened_on_a_second_phone_is_refused_but_the_first_phone_may_reopen_it(room, invite):
    tokens.token_exchange(room_id=room.pk, token=invite[1], device="phone-1")
    assert _refused_code(tokens.token_exchange, room_id=room.pk, token=invite[1], device="phone-2") == "token_reused"
    participant, _, _ = tokens.token_exchange(room_id=room.pk, token=invite[1], device="phone-1")
    assert Participant.objects.filter(room=room, role="patient").count() == 1 and participant.role == "patient"


def test_link_of_a_closed_room_is_refused(room, invite, people):
    rooms.room_close(by=people["village_doctor"], room_id=room.pk)
    assert _refused_code(tokens.token_exchange, room_id=room.pk, token=invite[1], device="d") == "room_closed"


def test_ticket_is_single_use(room, invite):
    _, ticket, _ = tokens.token_exchange(room_id=room.pk, token=invite[1], device="d")
    assert tokens.ticket_consume(room_id=room.pk, secret=ticket)
    assert _refused_code(tokens.ticket_consume, room_id=room.pk, secret=ticket) == "ticket_reused"


def test_expired_unknown_and_other_room_tickets_are_refused(room, invite, settings):
    _, ticket, _ = tokens.token_exchange(room_id=room.pk, token=invite[1], device="d")
    assert _refused_code(tokens.ticket_consume, room_id=room.pk + 1000, secret=ticket) == "ticket_other_room"
    assert _refused_code(tokens.ticket_consume, room_id=room.pk, secret="made-up") == "ticket_unknown"
    Ticket.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert _refused_code(tokens.ticket_consume, room_id=room.pk, secret=ticket) == "ticket_expired"


@pytest.mark.django_db(transaction=True)
def test_two_sockets_racing_for_one_ticket_only_one_wins(room, invite):
    # given one ticket and 8 threads (8 database connections) presenting it at once
    _, ticket, _ = tokens.token_exchange(room_id=room.pk, token=invite[1], device="d")
    barrier, results = threading.Barrier(8), []

    def present():
        barrier.wait()
        try:
            results.append(tokens.ticket_consume(room_id=room.pk, secret=ticket))
        except Refused as exc:
            results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=present) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    # then exactly one got the participant, the rest were refused as reuse
    assert len(results) == 8
    assert sum(isinstance(r, int) for r in results) == 1 and results.count("ticket_reused") == 7


def test_join_api_gives_a_ticket_and_the_reason_when_refused(room, invite):
    phone = Client()
    response = phone.post(f"/api/live/rooms/{room.pk}/join/", {"token": invite[1]}, content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["participant"]["role"] == "patient" and body["ws_path"] == f"/ws/rooms/{room.pk}/?ticket={body['ticket']}"
    # a second phone (another session) presenting the same link is refused with the reason
    other = Client().post(f"/api/live/rooms/{room.pk}/join/", {"token": invite[1]}, content_type="application/json")
    assert other.status_code == 403 and other.json()["code"] == "token_reused"
    # the first phone reloading the page gets a fresh ticket
    again = phone.post(f"/api/live/rooms/{room.pk}/join/", {"token": invite[1]}, content_type="application/json")
    assert again.status_code == 200 and again.json()["ticket"] != body["ticket"]


def test_invite_api_gives_a_link_with_the_token_in_the_fragment_and_a_qr_code(room, people, api):
    response = api(people["village_doctor"]).post(f"/api/live/rooms/{room.pk}/invites/", {}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["url"] == f"http://testserver/live/rooms/{room.pk}/join/#{body['token']}"
    assert body["qr_svg"].startswith("<svg") or "<svg" in body["qr_svg"][:200]
    assert api(people["expert"]).post(f"/api/live/rooms/{room.pk}/invites/", {}, format="json").json()["code"] == "not_host"


def test_room_api_opens_one_room_per_live_consultation(live_consultation, people, api):
    doctor = api(people["village_doctor"])
    first = doctor.post("/api/live/rooms/", {"consultation": live_consultation.pk}, format="json")
    second = doctor.post("/api/live/rooms/", {"consultation": live_consultation.pk}, format="json")
    assert (first.status_code, second.status_code) == (201, 200) and first.json()["id"] == second.json()["id"]
    assert api(people["other_village_doctor"]).post(
        "/api/live/rooms/", {"consultation": live_consultation.pk}, format="json").status_code == 404
