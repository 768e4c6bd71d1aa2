"""The village doctor's console: a booked cloud-clinic slot is cancelled (after a confirmation) or moved to
another free slot, against the real scheduling back end; its refusals (409, 403, 400) read as what to do."""
import datetime as dt

import pytest
from django.utils import timezone

from tests.frontend import clocked
from tests.e2e.conftest import login, outside_the_browser_loop, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stack_clock")]

REFUSED = r"status of (400|403|409)"  # chromium logs each refused request; the page shows why instead


# The whole stack runs on one clock at Sunday 23:00 UTC (Monday 07:00 in the county), or TEST_STACK_CLOCK_AT:
# this module's own Daphne (and relay worker), the test process and every page (tests/frontend/clocked.py).
live_daphne, open_page = clocked.live_daphne, clocked.open_page


@pytest.fixture
def clinic_tomorrow(people, cardiology):
    """The expert's cardiology clinic tomorrow 9:00-11:00: five open 20-minute slots, then a green channel."""
    from scheduling.models import Slot
    from scheduling.services.rosters import roster_create

    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    roster = roster_create(by=people["coordinator"], expert_id=people["expert"].expert.pk, specialty_code="cardiology",
                           weekdays=[tomorrow.isoweekday()], start_time=dt.time(9), end_time=dt.time(11),
                           slot_minutes=20, capacity=6, valid_from=tomorrow, valid_until=tomorrow,
                           green_channel_slots=1)
    slots = list(Slot.objects.filter(session__roster=roster).order_by("starts_at"))
    assert [s.kind for s in slots] == ["open"] * 5 + ["green_channel"]
    return roster, slots


@pytest.fixture
def booked(people, cardiology, clinic_tomorrow, patient_factory, consultation_factory):
    """A live consultation of the village doctor's, booked into the first slot."""
    from scheduling.services.bookings import booking_create

    doctor = people["village_doctor"]
    patient = patient_factory(name="孙立新", home_clinic=doctor.organisation)
    consultation = consultation_factory(patient=patient, requested_by=doctor, requesting_org=doctor.organisation,
                                        specialty=cardiology, mode="live", reason="心悸一周")
    _, slots = clinic_tomorrow
    return outside_the_browser_loop(booking_create, slot_id=slots[0].pk, patient_id=patient.pk,
                                    consultation_id=consultation.pk, by=doctor)


def _local_time(instant) -> str:
    return timezone.localtime(instant).strftime("%H:%M")


def _console(open_page, doctor):
    page = open_page("village-doctor")
    login(page, doctor.username)
    page.wait_for_selector("body[data-ready=true]")
    return page


def test_village_doctor_cancels_a_booking_only_after_confirming(people, clinic_tomorrow, booked, open_page):
    from scheduling.models import Booking

    _, slots = clinic_tomorrow
    page = _console(open_page, people["village_doctor"])
    # given the booking listed on the console with its time, patient and expert
    row = page.locator(f"#bookings li.booking[data-booking='{booked.pk}']")
    assert _local_time(slots[0].starts_at) in row.inner_text() and "孙立新" in row.inner_text()
    assert str(people["expert"]) in row.inner_text()

    # when the doctor asks to cancel it, they are asked to confirm; keeping it changes nothing
    row.locator("button[data-action=cancel]").click()
    confirm = row.locator(".confirm")
    assert "孙立新" in confirm.inner_text() and "确定取消" in confirm.inner_text()
    screenshot(page, "confirm-cancel")
    row.locator("button[data-action=keep]").click()
    assert confirm.count() == 0
    assert Booking.objects.get(pk=booked.pk).status == "booked"

    # when they confirm
    row.locator("button[data-action=cancel]").click()
    row.locator("button[data-action=confirm-cancel]").click()
    # then the booking is cancelled, leaves the list, and its slot is free to book again
    page.wait_for_selector("#booking-status:has-text('已取消')")
    page.wait_for_selector(f"#bookings li.booking[data-booking='{booked.pk}']", state="detached")
    assert Booking.objects.get(pk=booked.pk).status == "cancelled"
    page.select_option("#booking-consultation", str(booked.consultation_id))
    page.wait_for_selector(f"#slots button[data-slot='{slots[0].pk}']")
    screenshot(page, "cancelled")


def test_village_doctor_moves_a_booking_to_another_free_slot(people, clinic_tomorrow, booked, open_page):
    from scheduling.models import Booking

    _, slots = clinic_tomorrow
    page = _console(open_page, people["village_doctor"])
    row = page.locator(f"#bookings li.booking[data-booking='{booked.pk}']")

    # when the doctor opens the rescheduling choices
    row.locator("button[data-action=reschedule]").click()
    page.wait_for_selector(f"#bookings li.booking[data-booking='{booked.pk}'] .booking-panel button.slot")
    offered = {int(s) for s in row.locator(".booking-panel button.slot").evaluate_all("bs => bs.map(b => b.dataset.slot)")}
    # then the other free slots are offered: not the booked one, not the green channel (referrals only)
    assert offered == {s.pk for s in slots[1:5]}
    screenshot(page, "reschedule-choices")

    # when they pick the third slot
    row.locator(f".booking-panel button[data-slot='{slots[2].pk}']").click()
    page.wait_for_selector("#booking-status:has-text('已改约')")
    # then the booking moved there (the old one is kept as cancelled), and the list shows the new time
    moved = Booking.objects.get(rescheduled_from=booked)
    assert (moved.slot_id, moved.status) == (slots[2].pk, "booked")
    assert Booking.objects.get(pk=booked.pk).status == "cancelled"
    new_row = page.wait_for_selector(f"#bookings li.booking[data-booking='{moved.pk}']")
    assert _local_time(slots[2].starts_at) in new_row.inner_text()
    assert page.locator(f"#bookings li.booking[data-booking='{booked.pk}']").count() == 0
    screenshot(page, "rescheduled")


def test_refused_reschedules_say_why_and_leave_the_booking_as_it_was(people, community, clinic_tomorrow, booked,
                                                                      patient_factory, open_page):
    from scheduling.models import Booking, Slot
    from scheduling.services.bookings import booking_create

    roster, slots = clinic_tomorrow
    page = _console(open_page, people["village_doctor"])
    page.console_errors.allow(REFUSED)
    row = page.locator(f"#bookings li.booking[data-booking='{booked.pk}']")
    panel = row.locator(".booking-panel")
    row.locator("button[data-action=reschedule]").click()
    page.wait_for_selector(f"#bookings li.booking[data-booking='{booked.pk}'] .booking-panel button.slot")

    # given the second slot is booked by another clinic while the choices are on screen
    other = people["other_village_doctor"]
    outside_the_browser_loop(booking_create, slot_id=slots[1].pk,
                             patient_id=patient_factory(home_clinic=other.organisation).pk, by=other)
    # when the doctor picks it: 409, and the choices are shown again without it
    panel.locator(f"button[data-slot='{slots[1].pk}']").click()
    page.wait_for_selector(f"#bookings li.booking[data-booking='{booked.pk}'] .booking-panel [role=alert]:has-text('刚被他人预约')")
    assert panel.locator(f"button[data-slot='{slots[1].pk}']").count() == 0
    screenshot(page, "refused-409")

    # given the third slot becomes reserved for another village clinic
    roster.reserved_for.set([community.village_a2])
    Slot.objects.filter(pk=slots[2].pk).update(kind="grassroots", release_at=slots[2].starts_at)
    # when the doctor picks it: 403, said as "kept for other clinics"
    panel.locator(f"button[data-slot='{slots[2].pk}']").click()
    page.wait_for_selector(f"#bookings li.booking[data-booking='{booked.pk}'] .booking-panel [role=alert]:has-text('为其他机构保留')")

    # given the fourth slot's time has passed by the time they pick it (a page left open)
    past = timezone.now() - dt.timedelta(minutes=30)
    Slot.objects.filter(pk=slots[3].pk).update(starts_at=past, ends_at=past + dt.timedelta(minutes=20))
    # when the doctor picks it: 400, "already passed"
    panel.locator(f"button[data-slot='{slots[3].pk}']").click()
    page.wait_for_selector(f"#bookings li.booking[data-booking='{booked.pk}'] .booking-panel [role=alert]:has-text('该时段已过')")
    screenshot(page, "refused-400")

    # then the booking is where it was, nothing else was booked for the patient
    assert Booking.objects.get(pk=booked.pk).status == "booked"
    assert Booking.objects.filter(patient=booked.patient).count() == 1
    assert page.locator(f"#bookings li.booking[data-booking='{booked.pk}']").count() == 1


def test_a_booking_cancelled_elsewhere_cannot_be_cancelled_again(people, clinic_tomorrow, booked, open_page):
    from scheduling.models import Booking
    from scheduling.services.bookings import booking_cancel

    page = _console(open_page, people["village_doctor"])
    page.console_errors.allow(REFUSED)
    row = page.locator(f"#bookings li.booking[data-booking='{booked.pk}']")
    row.locator("button[data-action=cancel]").click()
    # given a colleague cancelled it meanwhile
    outside_the_browser_loop(booking_cancel, booking_id=booked.pk, by=people["village_doctor"])
    # when the doctor confirms: 409, said as already cancelled
    row.locator("button[data-action=confirm-cancel]").click()
    page.wait_for_selector(f"#bookings li.booking[data-booking='{booked.pk}'] [role=alert]:has-text('已取消或已就诊')")
    assert Booking.objects.get(pk=booked.pk).status == "cancelled"
