"""The expert's iCalendar feed: reached by a secret token, not a session; no patient data in it."""
import datetime as dt

from icalendar import Calendar

from scheduling.services import booking_create


def test_expert_calendar_feed_works_by_token_alone_and_rotation_revokes_it(
        api, people, community, cardiology, session_factory, tomorrow, patient_factory):
    # given an expert with two sessions, one slot booked
    session = session_factory(people["expert"], cardiology, starts_at=tomorrow, slots=2)
    session_factory(people["expert"], cardiology, starts_at=tomorrow + dt.timedelta(hours=3))
    patient = patient_factory(home_clinic=community.village_a1, name="李大爷")
    booking_create(slot_id=session.slots.first().pk, patient_id=patient.pk, by=people["village_doctor"])
    # when the expert asks for their feed URL and a calendar app fetches it without any session
    url = api(people["expert"]).post("/api/scheduling/me/calendar-feed/", {}, format="json").data["url"]
    response = api().get(url)
    # then it is a valid iCalendar with one event per session, counts only, no patient names
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    events = Calendar.from_ical(response.content).walk("VEVENT")
    assert len(events) == 2
    assert any("1/2 booked" in str(e["SUMMARY"]) for e in events)
    assert "李大爷".encode() not in response.content
    assert events[0].decoded("DTSTART") == session.starts_at
    # and after rotating, the old URL is dead
    api(people["expert"]).post("/api/scheduling/me/calendar-feed/", {}, format="json")
    assert api().get(url).status_code == 404


def test_a_guessed_token_is_404_and_non_experts_have_no_feed(api, people):
    assert api().get("/api/scheduling/calendar/not-a-token.ics").status_code == 404
    assert api(people["village_doctor"]).post("/api/scheduling/me/calendar-feed/", {},
                                              format="json").status_code == 403
