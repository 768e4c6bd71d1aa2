"""The record page's HTML: Chinese first, English by the switch; no patient data read on the server."""
import pytest

from tests.frontend.test_pages import script_strings


@pytest.mark.django_db
def test_record_page_is_chinese_first_and_reads_no_patient_data(client, people, record_patient,
                                                                django_assert_num_queries):
    client.force_login(people["village_doctor"])
    with django_assert_num_queries(2):  # the session and the user: the script fetches the record through the API
        response = client.get(f"/patients/{record_patient.pk}/record/")
    page = response.content.decode()
    assert response.status_code == 200 and f'data-patient="{record_patient.pk}"' in page
    assert "<h1>病历</h1>" in page and "紧急调阅" in page and record_patient.name not in page
    strings = script_strings(page)
    assert strings["record:ecg"] == "心电图" and strings["Resident ID number"] == "身份证号"
    assert strings["{kind} from {ago} exists"] == "已有{ago}的{kind}"


@pytest.mark.django_db
def test_record_page_in_english_after_the_switch(client, people, record_patient):
    client.force_login(people["village_doctor"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get(f"/patients/{record_patient.pk}/record/").content.decode()
    assert "<h1>Patient record</h1>" in page and "病历" not in page
    assert script_strings(page)["record:followup"] == "Follow-up"


@pytest.mark.django_db
def test_record_page_sends_anonymous_users_to_the_login_page(client):
    response = client.get("/patients/1/record/")
    assert response.status_code == 302 and response.url.startswith("/login/")
