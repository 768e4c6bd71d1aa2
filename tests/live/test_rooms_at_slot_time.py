"""A live consultation booked into a cloud-clinic slot gets its room by itself a few minutes before the
slot (beat: live.tasks.open_rooms_of_booked_slots), once, and the doctor and the expert are told."""
import datetime as dt
import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone

from consult.models import Consultation
from live.models import Participant, Room, RoomEvent
from live.services import rooms
from live.services.slot_rooms import rooms_open_for_booked_slots
from scheduling.services import booking_cancel, booking_create
from tests.factories import PatientFactory
from tests.scheduling.conftest import Socket, make_session

@pytest.fixture
def booked(people, community, cardiology, consultation_factory):
    """A live cardiology consultation booked by the village doctor into a slot 2 minutes from now: inside
    the 5 minutes before a slot when its room opens."""
    def make(mode=Consultation.Mode.LIVE):
        doctor = people["village_doctor"]
        patient = PatientFactory(home_clinic=community.village_a1, name="李桂兰")
        consultation = consultation_factory(patient=patient, requested_by=doctor, mode=mode, specialty=cardiology)
        session = make_session(people["expert"], cardiology, starts_at=timezone.now() + dt.timedelta(minutes=2),
                               minutes=40, slots=4)
        slot = session.slots.first()
        return booking_create(slot_id=slot.pk, patient_id=patient.pk, consultation_id=consultation.pk, by=doctor)
    return make


def _rooms(booking) -> list[Room]:
    return list(Room.objects.filter(consultation_id=booking.consultation_id))


@pytest.mark.django_db(transaction=True)
async def test_the_room_of_a_booked_live_consultation_opens_before_its_slot_and_says_so(booked, people):
    booking = await sync_to_async(booked)()
    starts_at = booking.slot.starts_at
    # given nothing is due 10 minutes before the slot
    assert await sync_to_async(rooms_open_for_booked_slots)(now=starts_at - dt.timedelta(minutes=10)) == []
    async with Socket(people["village_doctor"]) as doctor, Socket(people["expert"]) as expert:
        # when beat runs 2 minutes before the slot
        opened = await sync_to_async(rooms_open_for_booked_slots)()
        # then the room is open with the booking's doctor as its admitted host
        room = await sync_to_async(Room.objects.select_related("host").get)(consultation_id=booking.consultation_id)
        assert opened == [room.pk] and room.state == "open" and room.host == people["village_doctor"]
        host = await sync_to_async(Participant.objects.get)(room=room)
        assert (host.role, host.state, host.user_id) == ("host", "admitted", people["village_doctor"].pk)
        event = await sync_to_async(RoomEvent.objects.get)(room=room, seq=1)
        assert event.kind == "room.opened" and event.data["booking"] == booking.pk
        # and the doctor and the slot's expert are told where the room is
        for listener in (doctor, expert):
            told = await listener.next("live.room_opened")
            assert told["room"] == room.pk and told["page"] == f"/live/rooms/{room.pk}/"
            assert told["consultation"] == booking.consultation_id
    # and the assigned expert (the session's, through the booking) is admitted on entry
    participant = await sync_to_async(rooms.staff_connect)(user=people["expert"], room_id=room.pk, connection="x")
    assert participant.state == "admitted"


@pytest.mark.django_db(transaction=True)
def test_running_again_or_after_the_doctor_closed_it_opens_no_other_room(booked, people):
    booking = booked()
    first = rooms_open_for_booked_slots()
    # when it runs again: the open room is left as it is
    assert rooms_open_for_booked_slots() == []
    # when the doctor ends the call and beat runs again, even once the slot has started: it stays closed
    rooms.room_close(by=people["village_doctor"], room_id=first[0])
    assert rooms_open_for_booked_slots() == []
    assert rooms_open_for_booked_slots(now=booking.slot.starts_at + dt.timedelta(minutes=1)) == []
    assert [r.state for r in _rooms(booking)] == ["closed"]


@pytest.mark.django_db(transaction=True)
def test_a_room_the_doctor_opened_early_is_the_one_used(booked, people):
    booking = booked()
    room, _ = rooms.room_open(by=people["village_doctor"], consultation_id=booking.consultation_id)
    assert rooms_open_for_booked_slots() == []
    assert [r.pk for r in _rooms(booking)] == [room.pk]


@pytest.mark.django_db(transaction=True)
def test_async_cancelled_and_past_bookings_open_no_room(booked, people):
    booked(mode=Consultation.Mode.ASYNC)
    cancelled = booked()
    booking_cancel(booking_id=cancelled.pk, by=people["village_doctor"])
    # an async consultation's slot, a cancelled booking, and a slot already over
    assert rooms_open_for_booked_slots() == []
    live = booked()
    assert rooms_open_for_booked_slots(now=live.slot.ends_at + dt.timedelta(seconds=1)) == []
    assert not Room.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_beat_runs_at_once_open_one_room(booked):
    booking = booked()
    barrier, results = threading.Barrier(4), []

    def run():
        try:
            barrier.wait()
            results.append(rooms_open_for_booked_slots())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(_rooms(booking)) == 1
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]


def test_opening_rooms_is_on_the_beat_schedule():
    import live.tasks  # noqa: F401
    from teleclinic.celery import app, beat_schedule

    assert beat_schedule()["live-open-rooms-of-booked-slots"]["task"] == "live.tasks.open_rooms_of_booked_slots"
    assert "live.tasks.open_rooms_of_booked_slots" in app.tasks
