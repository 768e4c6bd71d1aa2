"""Finding 8 (low): inputs that answered 500. Each is now a 400 with {"code", "detail"}."""
import pytest

pytestmark = pytest.mark.django_db

HUGE = "9" * 40


@pytest.mark.parametrize("role, path", [
    ("admin", "/api/audit/?since=0001-01-01"),
    ("admin", "/api/audit/?until=0001-01-01T00:00:00"),
    ("admin", "/api/audit/?since=9999-12-31T23:59:59-05:00"),
    ("village_doctor", "/api/reports/deliveries/?from=0001-01-01"),
    ("village_doctor", "/api/reports/deliveries/?to=9999-12-31"),
    ("coordinator", "/api/scheduling/on-call/?from=0001-01-01"),
    ("coordinator", "/api/scheduling/on-call/?to=9999-12-31T23:00:00-10:00"),
    ("coordinator", "/api/reports/turnaround/?days=" + HUGE),
    ("village_doctor", "/api/patients/?limit=" + HUGE),
    ("village_doctor", "/api/patients/?offset=" + HUGE),
    ("village_doctor", "/dicomweb/studies?limit=" + HUGE),
    ("village_doctor", "/dicomweb/studies?limit=²"),
])
def test_out_of_range_query_values_are_a_400_with_a_reason(api, people, role, path):
    response = api(people[role]).get(path, HTTP_ACCEPT="application/json")
    assert response.status_code == 400, (path, response.status_code, response.content[:300])
    body = response.json()
    assert set(body) >= {"code", "detail"} and body["detail"], body


@pytest.mark.parametrize("length", ["²", "١٢", "１２", "-1", "1e3", " 12"])
def test_non_ascii_digits_in_upload_length_are_a_400(api, people, length):
    response = api(people["village_doctor"]).post("/api/uploads/", HTTP_TUS_RESUMABLE="1.0.0",
                                                  HTTP_UPLOAD_LENGTH=length)
    assert response.status_code == 400, (length, response.status_code, response.content[:300])
    assert set(response.json()) >= {"code", "detail"}
