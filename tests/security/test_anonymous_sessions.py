"""Finding 8 (low): anonymous requests that were refused still created session rows (a cheap way
to fill the session table)."""
import pytest
from django.contrib.sessions.models import Session
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_refused_patient_join_leaves_no_session_row(room, invite):
    phone = Client(enforce_csrf_checks=True)
    # when a forged link is exchanged, again and again
    for _ in range(3):
        response = phone.post(f"/api/live/rooms/{room.pk}/join/", {"token": "forged"}, content_type="application/json")
        assert response.status_code in (400, 403, 404) and set(response.json()) >= {"code", "detail"}
    # then no session was stored
    assert Session.objects.count() == 0
    # while the real link gets its device a session (the first device claims the link)
    assert phone.post(f"/api/live/rooms/{room.pk}/join/", {"token": invite[1]},
                      content_type="application/json").status_code == 200
    assert Session.objects.count() == 1


def test_refused_anonymous_api_and_page_requests_leave_no_session_row(room):
    anonymous = Client()
    assert anonymous.get("/api/patients/").status_code in (401, 403)
    assert anonymous.get(f"/live/rooms/{room.pk}/").status_code == 302
    assert anonymous.post("/api/auth/token/", {"username": "x", "password": "y"},
                          content_type="application/json").status_code in (401, 403)
    assert Session.objects.count() == 0
