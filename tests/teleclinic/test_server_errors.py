"""An error no view handled answers JSON {"code", "detail"}, never Django's HTML page (issue 12, fault 7)."""
import json

from django.db import OperationalError
from django.test import RequestFactory

from teleclinic.errors import server_error
from teleclinic.urls import handler500


def test_the_project_answers_unhandled_errors_with_its_json_handler():
    assert handler500 == "teleclinic.errors.server_error"


def test_a_busy_database_is_a_json_503_to_retry():
    # given SQLite still locked after its timeout
    try:
        raise OperationalError("database is locked")
    except OperationalError:
        # when Django hands the request to handler500
        response = server_error(RequestFactory().get("/dicomweb/studies"))
    # then the client reads a 503 it may retry, in JSON
    assert response.status_code == 503 and response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "2"
    assert json.loads(response.content)["code"] == "database_busy"


def test_any_other_unhandled_error_is_a_json_500_without_internals():
    try:
        raise KeyError("secret internals")
    except KeyError:
        response = server_error(RequestFactory().get("/api/anything/"))
    body = json.loads(response.content)
    assert response.status_code == 500 and body["code"] == "server_error" and "secret" not in body["detail"]
