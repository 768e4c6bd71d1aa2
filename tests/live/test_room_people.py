"""The room as people use it, server side (issue 18): a patient link checked before the camera opens
(nothing claimed), the link sent by SMS through the outbound backend, a participant's media lost and
restored as stored room events, and the live pages' strings translated."""
import re
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from django.utils.translation import gettext, override

from audit.models import AuditEvent
from live import strings
from live.models import JoinToken, Participant, RoomEvent
from live.protocol import ProtocolError, validate
from live.services import rooms, tokens
from teleclinic.errors import NotPermitted

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


class RecordingSms:
    """An SMS gateway that keeps what it was handed (the tests' stand-in for a real gateway)."""

    sent: list[dict] = []

    def send(self, *, phone: str, text: str) -> None:
        RecordingSms.sent.append({"phone": phone, "text": text})


@pytest.fixture
def sms(settings):
    settings.REPORTS_SMS_BACKEND = f"{__name__}.RecordingSms"
    RecordingSms.sent = []
    return RecordingSms.sent


def _check(room_id: int, token: str, client: Client | None = None):
    return (client or Client()).post(f"/api/live/rooms/{room_id}/link-check/", {"token": token},
                                     content_type="application/json")


# --- the link, checked before the camera ----------------------------------------------------------

def test_a_good_link_passes_the_check_and_nothing_is_claimed(room, invite):
    response = _check(room.pk, invite[1])
    assert response.status_code == 200 and response.json()["role"] == "patient"
    invite[0].refresh_from_db()
    assert invite[0].claimed_by_hash == "" and not Participant.objects.filter(join_token=invite[0]).exists()


def test_expired_revoked_used_and_closed_links_are_refused_by_the_check(room, invite, people, settings):
    settings.LIVE_JOIN_TOKEN_TTL = 0
    _, expired = tokens.invite_create(by=people["village_doctor"], room_id=room.pk)
    settings.LIVE_JOIN_TOKEN_TTL = 3600
    revoked_row, revoked = tokens.invite_create(by=people["village_doctor"], room_id=room.pk)
    JoinToken.objects.filter(pk=revoked_row.pk).update(revoked_at=timezone.now())
    tokens.token_exchange(room_id=room.pk, token=invite[1], device="the-first-phone")

    codes = {name: (_check(room.pk, token).status_code, _check(room.pk, token).json()["code"])
             for name, token in [("expired", expired), ("revoked", revoked), ("used", invite[1]),
                                 ("forged", invite[1][:-3] + "xyz")]}
    assert codes == {"expired": (403, "token_expired"), "revoked": (403, "token_revoked"),
                     "used": (403, "token_reused"), "forged": (403, "token_forged")}

    assert Session.objects.count() == 0  # a refused anonymous check stores no session row (issue 13, finding 8)
    _, fresh = tokens.invite_create(by=people["village_doctor"], room_id=room.pk)
    assert _check(room.pk, fresh).status_code == 200
    rooms.room_close(by=people["village_doctor"], room_id=room.pk)
    closed = _check(room.pk, fresh)
    assert (closed.status_code, closed.json()["code"]) == (403, "room_closed")


def test_the_phone_that_claimed_the_link_passes_the_check_again(room, invite):
    phone = Client()
    joined = phone.post(f"/api/live/rooms/{room.pk}/join/", {"token": invite[1]}, content_type="application/json")
    assert joined.status_code == 200
    assert _check(room.pk, invite[1], phone).status_code == 200      # a reload on the same phone
    assert _check(room.pk, invite[1]).json()["code"] == "token_reused"  # any other phone


def test_the_check_refuses_bad_input_with_a_json_400(room):
    response = Client().post(f"/api/live/rooms/{room.pk}/link-check/", {"token": ["x"]}, content_type="application/json")
    assert response.status_code == 400 and set(response.json()) >= {"code", "detail"}


# --- the link by SMS -------------------------------------------------------------------------------

def test_the_host_sends_the_link_by_sms_through_the_outbound_backend(room, people, api, sms):
    host = api(people["village_doctor"])
    made = host.post(f"/api/live/rooms/{room.pk}/invites/", {}, format="json").json()
    response = host.post(f"/api/live/rooms/{room.pk}/invites/{made['id']}/sms/", {"phone": "138 1234 5678"},
                         format="json")
    assert response.status_code == 202 and response.json() == {"phone": "138****5678"}
    assert len(sms) == 1 and sms[0]["phone"] == "138 1234 5678"
    sent_link = re.search(r"https?://\S+", sms[0]["text"]).group(0)
    assert sent_link.split("#")[0] == made["url"].split("#")[0]  # the patient page of this room
    assert tokens.token_check(room_id=room.pk, token=sent_link.split("#", 1)[1], device=None).pk == made["id"]
    audit = AuditEvent.objects.filter(detail__live_invite_sms=made["id"]).get()
    assert audit.detail["phone"] == "138****5678" and "5678" not in str(audit.detail).replace("138****5678", "")


def test_sms_goes_to_the_patients_phone_on_record_when_none_is_typed(room, people, api, sms, live_consultation):
    live_consultation.patient.phone = "13900001111"
    live_consultation.patient.save()
    host = api(people["village_doctor"])
    made = host.post(f"/api/live/rooms/{room.pk}/invites/", {}, format="json").json()
    assert made["phone"] == "13900001111"
    assert host.post(f"/api/live/rooms/{room.pk}/invites/{made['id']}/sms/", {}, format="json").status_code == 202
    assert [m["phone"] for m in sms] == ["13900001111"]


def test_sms_refusals_are_clear_and_send_nothing(room, people, api, sms, live_consultation):
    live_consultation.patient.phone = ""
    live_consultation.patient.save()
    host = api(people["village_doctor"])
    made = host.post(f"/api/live/rooms/{room.pk}/invites/", {}, format="json").json()
    url = f"/api/live/rooms/{room.pk}/invites/{made['id']}/sms/"
    bad = host.post(url, {"phone": "call me"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_phone"
    none = host.post(url, {}, format="json")  # no phone typed, none on record
    assert none.status_code == 400 and none.json()["code"] == "no_phone"
    expert = api(people["expert"]).post(url, {"phone": "13812345678"}, format="json")
    assert expert.status_code == 403 and expert.json()["code"] == "not_host"
    unknown = host.post(f"/api/live/rooms/{room.pk}/invites/999999/sms/", {"phone": "13812345678"}, format="json")
    assert unknown.status_code == 404
    JoinToken.objects.filter(pk=made["id"]).update(revoked_at=timezone.now())
    revoked = host.post(url, {"phone": "13812345678"}, format="json")
    assert revoked.status_code == 400 and revoked.json()["code"] == "invite_not_valid"
    assert sms == []


# --- a participant's media, lost and restored -------------------------------------------------------

def test_media_lost_and_restored_are_stored_room_events(room, invite):
    host = Participant.objects.get(room=room, role="host")
    rooms.participant_media(participant_id=host.pk, state="lost")
    rooms.participant_media(participant_id=host.pk, state="restored")
    events = list(RoomEvent.objects.filter(room=room, kind="media").order_by("seq").values_list("participant", "data"))
    assert events == [(host.pk, {"state": "lost"}), (host.pk, {"state": "restored"})]


def test_a_waiting_participant_cannot_announce_media(room, invite):
    patient, _, _ = tokens.token_exchange(room_id=room.pk, token=invite[1], device="phone-1")
    with pytest.raises(NotPermitted):
        rooms.participant_media(participant_id=patient.pk, state="lost")
    assert not RoomEvent.objects.filter(room=room, kind="media").exists()


@pytest.mark.parametrize("frame", [{"type": "media"}, {"type": "media", "state": "dead"},
                                   {"type": "media", "state": "lost", "extra": 1}])
def test_media_frames_are_checked(frame):
    with pytest.raises(ProtocolError):
        validate(frame)
    assert validate({"type": "media", "state": "restored"})["state"] == "restored"


# --- strings -----------------------------------------------------------------------------------------

def test_every_string_of_the_live_scripts_is_in_the_table_and_translated():
    used = set()
    for script in (ROOT / "live/static/live").glob("*.js"):
        used |= set(re.findall(r'\bt\("((?:[^"\\]|\\.)*)"', script.read_text()))
    assert used and used == set(strings.PLAIN)
    with override("zh-hans"):
        untranslated = [text for text in strings.PLAIN if gettext(text) == text]
    assert untranslated == []


def test_one_link_goes_by_sms_three_times_at_most(room, people, api, sms):
    host = api(people["village_doctor"])
    made = host.post(f"/api/live/rooms/{room.pk}/invites/", {}, format="json").json()
    url = f"/api/live/rooms/{room.pk}/invites/{made['id']}/sms/"
    assert [host.post(url, {"phone": "13812345678"}, format="json").status_code for _ in range(3)] == [202] * 3
    # a fourth text of the same link (costs money, sends the secret again) is refused, and not sent
    refused = host.post(url, {"phone": "13812345679"}, format="json")
    assert refused.status_code == 429 and refused.json()["code"] == "sms_limit"
    assert len(sms) == 3
