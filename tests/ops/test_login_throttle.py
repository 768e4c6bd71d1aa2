"""Login throttling holds across processes: failures counted in Redis, shared by every Daphne."""
import json
import urllib.error
import urllib.request
import uuid

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from teleclinic.ratelimit import login_throttle_reset
from tests.factories import UserFactory
from tests.ops.processes import daphne

PASSWORD = "pw-123456"


def _post_token(base_url: str, username: str, password: str) -> tuple[int, dict]:
    body = json.dumps({"username": username, "password": password}).encode()
    request = urllib.request.Request(f"{base_url}/api/auth/token/", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def user(transactional_db):
    user = UserFactory(username=f"throttle-{uuid.uuid4().hex[:8]}")
    yield user
    login_throttle_reset(username=user.username, ip="127.0.0.1")


def test_api_token_is_refused_with_429_after_five_failures(user):
    client = APIClient()
    # given five wrong passwords for one username from one address
    for _ in range(5):
        response = client.post("/api/auth/token/", {"username": user.username, "password": "wrong"}, format="json")
        assert response.status_code == 403 and response.json()["code"] == "bad_credentials"
    # when the right password comes next
    response = client.post("/api/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")
    # then it is refused with a reason, and another user from the same address is not affected
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited" and "15" in response.json()["detail"]
    other = UserFactory(username=f"other-{uuid.uuid4().hex[:8]}")
    assert client.post("/api/auth/token/", {"username": other.username, "password": PASSWORD},
                       format="json").status_code == 200


def test_a_success_clears_the_failures(user):
    client = APIClient()
    for _ in range(4):
        client.post("/api/auth/token/", {"username": user.username, "password": "wrong"}, format="json")
    assert client.post("/api/auth/token/", {"username": user.username, "password": PASSWORD},
                       format="json").status_code == 200
    # after the success, five new failures are allowed again before the lock
    for _ in range(5):
        assert client.post("/api/auth/token/", {"username": user.username, "password": "wrong"},
                           format="json").status_code == 403


def test_login_page_shows_the_lock_after_five_failures(user):
    client = Client()
    for _ in range(5):
        page = client.post("/login/", {"username": user.username, "password": "wrong"})
        assert page.status_code == 200 and "用户名或密码错误" in page.content.decode()
    page = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert page.status_code == 429
    assert "登录失败次数过多" in page.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_counted_in_one_process_lock_the_account_in_another(user, tmp_path):
    # given the Redis cache and a separate Daphne process on the same database and Redis
    assert "Redis" in settings.CACHES["default"]["BACKEND"]
    with daphne(tmp_path) as server:
        # when three failures go to this process's login page and two to the other's token endpoint
        client = Client()
        for _ in range(3):
            assert client.post("/login/", {"username": user.username, "password": "wrong"}).status_code == 200
        for _ in range(2):
            assert _post_token(server.url, user.username, "wrong")[0] == 403
        # then the other process refuses the right password, and so does this one
        status, body = _post_token(server.url, user.username, PASSWORD)
        assert status == 429 and body["code"] == "rate_limited"
        assert client.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 429
