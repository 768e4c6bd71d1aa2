"""Finding 6: API tokens never expired and survived logout and a password change."""
import datetime as dt

import pytest
import time_machine
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


def issue(user, password="pw-Secret-123") -> str:
    user.set_password(password)
    user.save()
    response = APIClient().post("/api/auth/token/", {"username": user.username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def status_with(token: str) -> int:
    """200, or REFUSED (DRF answers 403 rather than 401 when sessions are its first scheme)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/patients/")
    if response.status_code in (401, 403):
        assert response.json()["code"] in ("authentication_failed", "not_authenticated"), response.content
        return REFUSED
    return response.status_code


REFUSED = "refused"


def test_a_token_is_refused_after_its_lifetime_and_a_new_login_gets_a_new_one(people, settings):
    settings.API_TOKEN_TTL_SECONDS = 3600
    doctor = people["village_doctor"]
    with time_machine.travel(START, tick=False) as clock:
        token = issue(doctor)
        assert status_with(token) == 200
        clock.shift(dt.timedelta(minutes=59))
        assert status_with(token) == 200
        # when its hour is over
        clock.shift(dt.timedelta(minutes=2))
        # then it is refused, and logging in again gives another key that works
        assert status_with(token) == REFUSED
        fresh = issue(doctor)
        assert fresh != token and status_with(fresh) == 200


def test_logout_revokes_the_api_token(people):
    doctor = people["village_doctor"]
    token = issue(doctor)
    pages = Client()
    pages.force_login(doctor)
    # when the user logs out of the pages
    assert pages.post("/logout/").status_code in (200, 302)
    # then the token no longer works
    assert status_with(token) == REFUSED


def test_a_password_change_revokes_the_api_token(people):
    doctor = people["village_doctor"]
    token = issue(doctor)
    # when the password changes (whichever way: the model's set_password and save)
    doctor.set_password("another-Secret-456")
    doctor.save()
    # then the old token is refused; an unrelated save of the user does not revoke the new one
    assert status_with(token) == REFUSED
    fresh = issue(doctor, "another-Secret-456")
    doctor.display_name = "张医生"
    doctor.save()
    assert status_with(fresh) == 200


def test_the_api_logout_revokes_only_the_callers_token(people):
    doctor, coordinator = people["village_doctor"], people["coordinator"]
    token, other = issue(doctor), issue(coordinator)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    # when the doctor's script logs out through the API
    assert client.delete("/api/auth/token/").status_code == 204
    # then its token is refused from then on, and the coordinator's still works
    assert status_with(token) == REFUSED
    assert status_with(other) == 200
    # and logging out without a token is refused with the usual error body, not a 500
    response = APIClient().delete("/api/auth/token/")
    assert response.status_code in (401, 403) and response.json()["code"] == "not_authenticated"
