"""Each role's home page renders (Django test client), in Chinese by default and in English on request."""
import json
import re

import pytest

def script_strings(page: str) -> dict:
    return json.loads(re.search(r'<script id="tc-strings" type="application/json">(.*?)</script>', page, re.S).group(1))


HOME_FOR_ROLE = {
    "village_doctor": ("村医工作台", "frontend/js/console.js"),
    "township_doctor": ("乡镇医生工作台", "frontend/js/console.js"),
    "expert": ("专家工作站", "frontend/js/workstation.js"),
    "coordinator": ("协调中心", "frontend/js/coordinator.js"),
    "admin": ("协调中心", "frontend/js/coordinator.js"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(HOME_FOR_ROLE))
def test_home_page_is_the_roles_page_in_chinese(client, people, role):
    # given a logged-in user of the role
    client.force_login(people[role])
    # when they open the home page
    response = client.get("/")
    # then they get their role's page, in Chinese, with its script and the translated script strings
    title, script = HOME_FOR_ROLE[role]
    page = response.content.decode()
    assert response.status_code == 200
    assert title in page and script in page
    assert script_strings(page)["computed"] == "计算值"


@pytest.mark.django_db
def test_audit_search_is_on_the_page_for_admins_only(client, people):
    client.force_login(people["coordinator"])
    assert 'id="audit-form"' not in client.get("/").content.decode()
    client.force_login(people["admin"])
    assert 'id="audit-form"' in client.get("/").content.decode()


@pytest.mark.django_db
def test_console_is_in_english_after_the_language_switch(client, people):
    # given a village doctor who chose English
    client.force_login(people["village_doctor"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    # when they open the console
    page = client.get("/").content.decode()
    # then it is in English, scripts' strings included
    assert "Village doctor console" in page and "村医工作台" not in page
    assert script_strings(page)["computed"] == "computed"


@pytest.mark.django_db
def test_reading_page_renders_for_an_expert_without_reading_patient_data(client, people, django_assert_num_queries):
    client.force_login(people["expert"])
    with django_assert_num_queries(2):  # the session and the user: the page's script fetches the case
        response = client.get("/read/123/")
    assert response.status_code == 200
    assert 'data-consultation="123"' in response.content.decode()


@pytest.mark.django_db
def test_pages_send_anonymous_users_to_the_login_page(client):
    for url in ("/", "/read/1/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/")
