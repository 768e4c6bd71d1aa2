"""Rosters: sessions and slots generated from a weekly pattern, exceptions, who may define them."""
import datetime as dt

import pytest
from django.utils import timezone

from scheduling.models import CloudClinicSession, Slot
from scheduling.services import roster_create, roster_exception_add, roster_generate

URL = "/api/scheduling/rosters/"


def _body(people, cardiology, **over):
    body = {"expert": people["expert"].expert.pk, "specialty": cardiology.code, "weekdays": [1, 3],
            "start_time": "08:00", "end_time": "10:00", "slot_minutes": 15, "capacity": 6,
            "valid_from": str(timezone.localdate()), "reserved_share": 50, "release_hours": 24,
            "green_channel_slots": 1}
    return {**body, **over}


def test_coordinator_defines_a_roster_and_its_sessions_and_slots_are_generated(api, people, cardiology):
    # given the community's coordinator
    # when they roster the expert on Mondays and Wednesdays, 8-10, 15-minute slots, capacity 6, half reserved
    response = api(people["coordinator"]).post(URL, _body(people, cardiology), format="json")
    # then sessions exist on those weekdays over the rolling window (28 days), each with 6 slots:
    # 3 reserved for grassroots until 24 h before, 2 open, 1 green channel
    assert response.status_code == 201, response.data
    sessions = list(CloudClinicSession.objects.filter(roster_id=response.data["id"]))
    assert 7 <= len(sessions) <= 8
    assert {timezone.localtime(s.starts_at).isoweekday() for s in sessions} == {1, 3}
    assert {timezone.localtime(s.starts_at).time() for s in sessions} == {dt.time(8)}
    slots = list(Slot.objects.filter(session=sessions[0]).order_by("starts_at"))
    assert [s.kind for s in slots] == ["grassroots"] * 3 + ["open"] * 2 + ["green_channel"]
    assert slots[0].release_at == sessions[0].starts_at - dt.timedelta(hours=24)
    assert slots[-1].ends_at == sessions[0].starts_at + dt.timedelta(minutes=90)


def test_generation_is_idempotent_and_rolls_forward(people, cardiology):
    roster = roster_create(by=people["coordinator"], expert_id=people["expert"].expert.pk, specialty_code="cardiology",
                           weekdays=list(range(1, 8)), start_time=dt.time(8), end_time=dt.time(9), slot_minutes=30,
                           capacity=2, valid_from=timezone.localdate())
    before = CloudClinicSession.objects.filter(roster=roster).count()
    # when generation runs again today, then a week later
    assert roster_generate(roster_id=roster.pk) == 0
    assert roster_generate(roster_id=roster.pk, today=timezone.localdate() + dt.timedelta(days=7)) == 7
    # then no session was made twice
    assert CloudClinicSession.objects.filter(roster=roster).count() == before + 7


def test_leave_and_extra_session_exceptions(people, cardiology):
    # given a daily roster
    roster = roster_create(by=people["coordinator"], expert_id=people["expert"].expert.pk, specialty_code="cardiology",
                           weekdays=[1, 2, 3, 4, 5, 6, 7], start_time=dt.time(8), end_time=dt.time(9),
                           slot_minutes=30, capacity=2, valid_from=timezone.localdate())
    day = timezone.localdate() + dt.timedelta(days=3)
    # when the expert takes leave that day and adds an evening session
    roster_exception_add(by=people["coordinator"], roster_id=roster.pk, date=day, kind="leave")
    other = day + dt.timedelta(days=1)
    roster_exception_add(by=people["coordinator"], roster_id=roster.pk, date=other, kind="extra",
                         start_time=dt.time(18), end_time=dt.time(19))
    # then that day's session is cancelled and the evening session exists
    on_day = [s for s in CloudClinicSession.objects.filter(roster=roster)
              if timezone.localtime(s.starts_at).date() == day]
    assert [s.state for s in on_day] == ["cancelled"]
    evening = [timezone.localtime(s.starts_at).time() for s in CloudClinicSession.objects.filter(roster=roster)
               if timezone.localtime(s.starts_at).date() == other]
    assert sorted(evening) == [dt.time(8), dt.time(18)]


@pytest.mark.parametrize("role", ["village_doctor", "expert", "foreign_coordinator"])
def test_only_a_coordinator_of_the_community_defines_rosters(api, people, cardiology, role):
    response = api(people[role]).post(URL, _body(people, cardiology), format="json")
    assert response.status_code == 403
    assert not CloudClinicSession.objects.exists()


@pytest.mark.parametrize("change,field", [({"end_time": "07:00"}, "end"), ({"weekdays": [0]}, "weekdays"),
                                          ({"reserved_share": 150}, "reserved_share")])
def test_bad_roster_is_400_with_a_reason(api, people, cardiology, change, field):
    response = api(people["coordinator"]).post(URL, _body(people, cardiology, **change), format="json")
    assert response.status_code == 400 and field in response.data["detail"]


def test_reserved_for_must_name_grassroots_clinics(api, people, cardiology, community):
    response = api(people["coordinator"]).post(URL, _body(people, cardiology, reserved_for=[community.lead.pk]),
                                               format="json")
    assert response.status_code == 400 and response.data["code"] == "not_grassroots"


def test_expert_sees_their_own_calendar_with_bookings(api, people, community, cardiology, session_factory, tomorrow,
                                                      patient_factory):
    from scheduling.services import booking_create

    session = session_factory(people["expert"], cardiology, starts_at=tomorrow, slots=2)
    session_factory(people["other_expert"], cardiology, starts_at=tomorrow)
    patient = patient_factory(home_clinic=community.village_a1, name="王阿姨")
    booking_create(slot_id=session.slots.first().pk, patient_id=patient.pk, by=people["village_doctor"])
    response = api(people["expert"]).get("/api/scheduling/me/calendar/")
    assert response.status_code == 200
    assert [s["id"] for s in response.data] == [session.pk]
    assert response.data[0]["slots"][0]["bookings"][0]["patient_name"] == "王阿姨"


def test_slot_listing_shows_free_slots_of_a_specialty(api, people, cardiology, session_factory, tomorrow):
    session_factory(people["expert"], cardiology, starts_at=tomorrow, slots=3)
    response = api(people["village_doctor"]).get("/api/scheduling/slots/?specialty=cardiology&free=1")
    assert response.status_code == 200 and response.data["count"] == 3
    assert api(people["foreign_coordinator"]).get("/api/scheduling/slots/").data["count"] == 0


def test_leave_exception_through_the_api_cancels_the_session(api, people, cardiology):
    # given a daily roster
    roster = roster_create(by=people["coordinator"], expert_id=people["expert"].expert.pk, specialty_code="cardiology",
                           weekdays=list(range(1, 8)), start_time=dt.time(8), end_time=dt.time(9), slot_minutes=30,
                           capacity=2, valid_from=timezone.localdate())
    day = timezone.localdate() + dt.timedelta(days=2)
    # when the coordinator records the expert's leave
    response = api(people["coordinator"]).post(f"{URL}{roster.pk}/exceptions/", {"date": str(day), "kind": "leave"},
                                               format="json")
    # then that day's session is cancelled; an extra session without times is refused
    assert response.status_code == 201
    states = {s.state for s in CloudClinicSession.objects.filter(roster=roster)
              if timezone.localtime(s.starts_at).date() == day}
    assert states == {"cancelled"}
    bad = api(people["coordinator"]).post(f"{URL}{roster.pk}/exceptions/", {"date": str(day), "kind": "extra"},
                                          format="json")
    assert bad.status_code == 400 and bad.data["code"] == "bad_pattern"
