"""No double booking, ever: 50 threads, each on its own PostgreSQL connection, race for one slot."""
import threading
import time

import pytest
from django.db import OperationalError, connection, connections

from scheduling.models import Booking
from scheduling.services import SlotTaken, booking_create

RACERS = 50


def connect(patience: float = 30.0) -> None:
    """Open this thread's connection, waiting while the shared server is at max_connections."""
    deadline = time.monotonic() + patience
    while True:
        try:
            connection.ensure_connection()
            return
        except OperationalError as exc:
            if "too many clients" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_fifty_concurrent_bookings_of_a_slot_wins(people, community, cardiology, session_factory,
                                                                 tomorrow, patient_factory):
    # given one open slot and fifty patients of village A1, on PostgreSQL
    assert connection.vendor == "postgresql"
    slot = session_factory(people["expert"], cardiology, starts_at=tomorrow, slots=1).slots.get()
    patients = [patient_factory(home_clinic=community.village_a1).pk for _ in range(RACERS)]
    doctor = people["village_doctor"]
    start = threading.Barrier(RACERS, timeout=60)
    won, lost, failed = [], [], []

    def race(patient_id):
        try:
            connect()  # every racer holds its own connection before the start, so the race is on the row lock
            start.wait()
            won.append(booking_create(slot_id=slot.pk, patient_id=patient_id, by=doctor).pk)
        except SlotTaken:
            lost.append(patient_id)
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            failed.append(repr(exc))
        finally:
            connections.close_all()  # this thread's own connection

    # when they all book the slot at once
    threads = [threading.Thread(target=race, args=(p,)) for p in patients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # then exactly one booking won, the other 49 were told the slot is taken, and the database agrees
    assert failed == []
    assert len(won) == 1 and len(lost) == RACERS - 1
    assert list(Booking.objects.filter(slot=slot, status="booked").values_list("pk", flat=True)) == won


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_a_second_live_booking_even_without_the_service(people, community, cardiology,
                                                                             session_factory, tomorrow,
                                                                             patient_factory):
    # given a booked slot
    from django.db import IntegrityError

    slot = session_factory(people["expert"], cardiology, starts_at=tomorrow, slots=1).slots.get()
    first = booking_create(slot_id=slot.pk, patient_id=patient_factory(home_clinic=community.village_a1).pk,
                           by=people["village_doctor"])
    # when a second live row is written straight through the ORM
    # then the unique constraint refuses it
    with pytest.raises(IntegrityError):
        Booking.objects.create(slot=slot, patient=first.patient, booked_by=first.booked_by,
                               booked_org=first.booked_org)
