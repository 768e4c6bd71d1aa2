"""An expert's cloud-clinic sessions as an iCalendar (RFC 5545) feed. No patient data: counts only."""
from django.utils import timezone
from icalendar import Calendar, Event


def sessions_calendar(*, expert, sessions, host: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Teleclinic//cloud clinic//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"云诊室 {expert.user}")
    for session in sessions:
        slots = list(session.slots.all())
        booked = sum(1 for s in slots if s.taken)
        event = Event()
        event.add("uid", f"session-{session.pk}@{host}")
        event.add("dtstamp", timezone.now())
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        event.add("summary", f"云诊室 {session.specialty.name}: {booked}/{len(slots)} booked")
        event.add("location", session.organisation.name)
        event.add("status", "CANCELLED" if session.state == "cancelled" else "CONFIRMED")
        cal.add_component(event)
    return cal.to_ical()
