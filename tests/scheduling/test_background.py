"""Background work in a real Celery worker: offer timers, the sweeper, reserved-slot release; live notifications."""
import datetime as dt

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from scheduling.models import Assignment, Booking, Slot
from scheduling.services import assignment_request, booking_create
from scheduling.tasks import release_reserved_slots, sweep_expired_assignments
from tests.conftest import task_result

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


async def test_stat_offer_lapses_in_the_worker_and_the_next_expert_is_notified_live(
        celery_worker_process, settings, people, community, cardiology, on_duty, patient_factory,
        consultation_factory, socket_of):
    # given a stat consultation, both experts on duty with their notification sockets open,
    # and a 2-second stat offer window
    settings.SCHEDULING_OFFER_TIMEOUTS = {**settings.SCHEDULING_OFFER_TIMEOUTS, "stat": 2}
    consultation = await sync_to_async(lambda: consultation_factory(
        patient=patient_factory(home_clinic=community.village_a1), requested_by=people["village_doctor"],
        specialty=cardiology, urgency="stat"))()
    async with socket_of(people["expert"]) as first_socket, socket_of(people["other_expert"]) as second_socket:
        # when the consultation asks for an expert and nobody answers
        offer = await sync_to_async(assignment_request)(consultation_id=consultation.pk)
        sockets = {people["expert"].pk: first_socket, people["other_expert"].pk: second_socket}
        first_user = await sync_to_async(lambda: offer.expert.user_id)()
        first_socket, second_socket = sockets[first_user], [s for k, s in sockets.items() if k != first_user][0]
        # then the first expert is told at once
        event = await first_socket.next("assignment.offered", timeout=5)
        assert event["assignment"] == offer.pk and event["urgency"] == "stat"
        # and after the window the worker's timer expires it and the other expert is offered it live
        event = await second_socket.next("assignment.offered", timeout=20)
    assert event["consultation"] == consultation.pk and event["assignment"] != offer.pk
    statuses = await sync_to_async(lambda: dict(Assignment.objects.filter(consultation=consultation)
                                                .values_list("pk", "status")))()
    assert statuses == {offer.pk: "expired", event["assignment"]: "offered"}
    await sync_to_async(connections.close_all)()  # the worker thread's connection, before the DB is dropped


def test_sweeper_in_the_worker_expires_an_offer_whose_timer_was_lost(
        celery_worker_process, people, community, cardiology, on_duty, patient_factory, consultation_factory):
    # given an offer that lapsed while no timer task existed (as if lost with a dead worker)
    consultation = consultation_factory(patient=patient_factory(home_clinic=community.village_a1),
                                        requested_by=people["village_doctor"], specialty=cardiology)
    lost = Assignment.objects.create(consultation=consultation, expert=people["expert"].expert,
                                     expires_at=timezone.now() - dt.timedelta(seconds=5))
    # when the periodic sweeper runs in the worker, twice (possibly at the same time: two pool processes)
    runs = [sweep_expired_assignments.delay(), sweep_expired_assignments.delay()]
    # then between them the runs expired the one lost offer, once
    assert sorted(task_result(celery_worker_process, run) for run in runs) == ["0", "1"]
    assert Assignment.objects.get(pk=lost.pk).status == "expired"
    # and exactly one new offer went to the next expert
    offers = list(Assignment.objects.filter(consultation=consultation, status="offered"))
    assert len(offers) == 1 and offers[0].expert == people["other_expert"].expert


def test_release_task_in_the_worker_opens_reserved_slots_to_everyone_once(
        celery_worker_process, people, community, cardiology, session_factory, patient_factory):
    # given reserved slots whose release time has passed, and a coordinator refused before release
    session = session_factory(people["expert"], cardiology, starts_at=timezone.now() + dt.timedelta(hours=6),
                              slots=2, kinds=["grassroots", "grassroots"],
                              release_at=timezone.now() - dt.timedelta(minutes=1))
    patient = patient_factory(home_clinic=community.village_a1)
    from teleclinic.errors import NotPermitted
    with pytest.raises(NotPermitted):
        booking_create(slot_id=session.slots.first().pk, patient_id=patient.pk, by=people["coordinator"])
    # when the periodic release task runs in the worker, it releases both slots
    assert task_result(celery_worker_process, release_reserved_slots.delay()) == "2"
    assert not Slot.objects.filter(session=session, released_at__isnull=True).exists()
    released = dict(Slot.objects.filter(session=session).values_list("pk", "released_at"))
    # and when it runs again, it releases nothing (the second run has finished: its result is logged)
    assert task_result(celery_worker_process, release_reserved_slots.delay()) == "0"
    # then the slots were released once and the coordinator may book
    assert dict(Slot.objects.filter(session=session).values_list("pk", "released_at")) == released
    booking = booking_create(slot_id=session.slots.first().pk, patient_id=patient.pk, by=people["coordinator"])
    assert Booking.objects.get(pk=booking.pk).status == "booked"
