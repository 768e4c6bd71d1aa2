"""Sequence numbers under concurrency, relay placement across workers, TURN credentials."""
import base64
import datetime as dt
import hashlib
import hmac
import threading

import pytest
from django.db import connection
from django.utils import timezone

from live.ice import client_ice_servers, turn_credentials, turn_credentials_valid
from live.models import Participant, RelayWorker, Room, RoomEvent
from live.selectors import room_snapshot
from live.services import placement, rooms
from teleclinic.errors import NotPermitted


@pytest.mark.django_db(transaction=True)
def test_concurrent_events_get_unique_gap_free_sequence_numbers(room, people):
    # given 6 threads each posting 10 chat lines into the same room at once
    host = Participant.objects.get(room=room, role="host")
    start = Room.objects.get(pk=room.pk).last_seq
    barrier = threading.Barrier(6)

    def post():
        barrier.wait()
        try:
            for n in range(10):
                rooms.chat_post(participant_id=host.pk, text=f"line {n}")
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then the 60 events are numbered start+1 .. start+60, each once
    seqs = list(RoomEvent.objects.filter(room=room, seq__gt=start).values_list("seq", flat=True).order_by("seq"))
    assert seqs == list(range(start + 1, start + 61))
    assert Room.objects.get(pk=room.pk).last_seq == start + 60


@pytest.mark.django_db(transaction=True)
def test_a_chat_line_refused_to_a_waiting_participant_takes_no_number(room, people):
    # given a second expert waiting to be admitted, and the room's last seq
    waiting = Participant.objects.create(room=room, user=people["other_expert"], role="second_expert",
                                         state="waiting", display_name="王专家")
    start = Room.objects.get(pk=room.pk).last_seq
    # when they post a chat line
    with pytest.raises(NotPermitted):
        rooms.chat_post(participant_id=waiting.pk, room_id=room.pk, text="我能说话吗")
    # then nothing was stored and no number was used: the next line takes start + 1
    host = Participant.objects.get(room=room, role="host")
    rooms.chat_post(participant_id=host.pk, room_id=room.pk, text="请稍等")
    assert list(RoomEvent.objects.filter(room=room, seq__gt=start).values_list("seq", "kind")) == [(start + 1, "chat")]
    assert Room.objects.get(pk=room.pk).last_seq == start + 1


@pytest.mark.django_db(transaction=True)
def test_no_chat_line_of_a_removed_participant_is_stored_after_the_removal(room, people):
    # given an admitted expert posting chat lines from 3 threads while the host removes them
    expert = Participant.objects.create(room=room, user=people["other_expert"], role="second_expert",
                                        state="admitted", display_name="王专家")
    host = Participant.objects.get(room=room, role="host")
    start = Room.objects.get(pk=room.pk).last_seq
    barrier = threading.Barrier(4)
    refused = []

    def chat():
        barrier.wait()
        try:
            for n in range(15):
                try:
                    rooms.chat_post(participant_id=expert.pk, room_id=room.pk, text=f"line {n}")
                except NotPermitted:
                    refused.append(n)
        finally:
            connection.close()

    def remove():
        barrier.wait()
        try:
            rooms.participant_remove(by_participant_id=host.pk, participant_id=expert.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=chat) for _ in range(3)] + [threading.Thread(target=remove)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then the numbers run without a gap, every stored line precedes the removal, and the rest were refused
    events = list(RoomEvent.objects.filter(room=room, seq__gt=start).order_by("seq").values_list("seq", "kind"))
    assert [seq for seq, _ in events] == list(range(start + 1, start + len(events) + 1))
    removed_at = next(seq for seq, kind in events if kind == "participant.removed")
    chats = [seq for seq, kind in events if kind == "chat"]
    assert all(seq < removed_at for seq in chats)
    assert len(chats) + len(refused) == 45


def _worker(name: str, seconds_ago: float = 0) -> RelayWorker:
    return RelayWorker.objects.create(name=name, channel=f"live.relay.{name}",
                                      last_seen=timezone.now() - dt.timedelta(seconds=seconds_ago))


def test_rooms_are_spread_over_live_workers_least_loaded_first(people, live_consultation, consultation_factory):
    # given two live workers and a dead one
    _worker("a"), _worker("b"), _worker("dead", seconds_ago=60)
    opened = [rooms.room_open(by=people["village_doctor"], consultation_id=consultation_factory(
        patient=live_consultation.patient, mode="live", requested_by=people["village_doctor"]).pk)[0]
        for _ in range(4)]
    # when each room is placed
    channels = [placement.room_place(room_id=r.pk) for r in opened]
    # then they alternate between the live workers and none goes to the dead one
    assert sorted(channels) == ["live.relay.a", "live.relay.a", "live.relay.b", "live.relay.b"]
    assert placement.room_place(room_id=opened[0].pk) == channels[0]  # placement sticks


def test_a_room_on_a_dead_worker_moves_to_a_live_one(room):
    dead = _worker("old", seconds_ago=0)
    assert placement.room_place(room_id=room.pk) == "live.relay.old"
    RelayWorker.objects.filter(pk=dead.pk).update(last_seen=timezone.now() - dt.timedelta(seconds=60))
    assert placement.room_place(room_id=room.pk) is None  # nobody alive
    _worker("new")
    assert placement.room_place(room_id=room.pk) == "live.relay.new"


def test_turn_credentials_follow_coturns_scheme_and_expire():
    username, credential = turn_credentials(secret="s3cret", user="p7", ttl=600, now=1_700_000_000)
    assert username == "1700000600:p7"
    # the value coturn computes: base64(HMAC-SHA1(secret, username))
    assert credential == base64.b64encode(hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()).decode()
    assert turn_credentials_valid(secret="s3cret", username=username, credential=credential, now=1_700_000_599)
    assert not turn_credentials_valid(secret="s3cret", username=username, credential=credential, now=1_700_000_600)
    assert not turn_credentials_valid(secret="other", username=username, credential=credential, now=1_700_000_000)
    assert not turn_credentials_valid(secret="s3cret", username="1700009999:p7", credential=credential,
                                      now=1_700_000_000)


def test_welcome_hands_out_configured_ice_servers_and_fresh_turn_credentials(room, settings):
    settings.RTC_ICE_SERVERS = [{"urls": ["stun:stun.county.example:3478"]}]
    settings.TURN_URLS, settings.TURN_SECRET, settings.TURN_TTL = ["turn:turn.county.example:3478"], "k", 900
    host = Participant.objects.get(room=room, role="host")
    servers = room_snapshot(participant_id=host.pk)["ice_servers"]
    assert servers[0] == {"urls": ["stun:stun.county.example:3478"]}
    turn = servers[1]
    expiry = int(turn["username"].split(":")[0])
    assert abs(expiry - (timezone.now().timestamp() + 900)) < 5 and turn["username"].endswith(f":p{host.pk}")
    assert turn_credentials_valid(secret="k", username=turn["username"], credential=turn["credential"])
    assert not turn_credentials_valid(secret="k", username=turn["username"], credential=turn["credential"],
                                      now=expiry + 1)


def test_without_turn_settings_only_the_configured_servers_are_handed_out():
    assert client_ice_servers(stun_and_turn=[], turn_urls=[], turn_secret="", user="u", ttl=60) == []


@pytest.mark.django_db(transaction=True)
def test_rooms_of_a_silent_worker_are_released_once_and_a_stopped_worker_stays_gone(
        room, people, live_consultation, consultation_factory):
    # given a room on a worker that went silent, and another on a live one
    dead, live = _worker("killed"), _worker("alive")
    other = rooms.room_open(by=people["village_doctor"], consultation_id=consultation_factory(
        patient=live_consultation.patient, mode="live", requested_by=people["village_doctor"]).pk)[0]
    Room.objects.filter(pk=room.pk).update(relay_worker=dead)
    Room.objects.filter(pk=other.pk).update(relay_worker=live)
    RelayWorker.objects.filter(pk=dead.pk).update(last_seen=timezone.now() - dt.timedelta(seconds=60))
    # when the live worker beats and looks around (twice: a second look finds nothing more)
    first, second = placement.rooms_release_dead(by="alive"), placement.rooms_release_dead(by="alive")
    # then only the silent worker's room lost its placement, once
    assert (first, second) == ([room.pk], [])
    assert Room.objects.get(pk=room.pk).relay_worker_id is None
    assert Room.objects.get(pk=other.pk).relay_worker_id == live.pk
    # and a beat never brings back a worker that stopped
    placement.worker_forget(name="killed")
    assert placement.worker_beat(name="killed") is False
    assert not RelayWorker.objects.filter(name="killed").exists()
