"""The console's consultation list: cursor pages newest first, that stay right while new ones arrive, and a
search by patient or consultation number (issue 12: the console listed only the newest 100)."""
import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def many(people, community, patient_factory, consultation_factory):
    """130 consultations of village A1 (the first one of 王秀英), and one of another clinic."""
    doctor = people["village_doctor"]
    rare = patient_factory(home_clinic=community.village_a1, name="王秀英")
    common = patient_factory(home_clinic=community.village_a1, name="李建国")
    rows = [consultation_factory(patient=rare if i == 0 else common, requested_by=doctor) for i in range(130)]
    consultation_factory(patient=patient_factory(home_clinic=community.village_a2, name="王秀英"),
                         requested_by=people["other_village_doctor"])
    return rows


def test_cursor_pages_reach_every_consultation_once_even_as_new_ones_arrive(api, people, many, consultation_factory):
    client = api(people["village_doctor"])
    first = client.get("/api/consultations/?paging=cursor&limit=50").json()
    assert [c["id"] for c in first["results"]] == [c.pk for c in reversed(many)][:50]
    # a consultation requested between two pages does not shift the next one
    consultation_factory(patient=many[1].patient, requested_by=people["village_doctor"])
    seen = [c["id"] for c in first["results"]]
    url = first["next"]
    while url:
        page = client.get(url).json()
        seen += [c["id"] for c in page["results"]]
        url = page["next"]
    assert seen == [c.pk for c in reversed(many)]  # all 130, newest first, none twice, none of another clinic


def test_the_list_is_searched_by_patient_or_consultation_number(api, people, many):
    client = api(people["village_doctor"])
    by_name = client.get("/api/consultations/?paging=cursor&q=秀英").json()["results"]
    assert [c["id"] for c in by_name] == [many[0].pk]  # not the other clinic's 王秀英
    by_record = client.get(f"/api/consultations/?paging=cursor&q={many[0].patient.health_record_no}").json()
    assert [c["id"] for c in by_record["results"]] == [many[0].pk]
    by_number = client.get(f"/api/consultations/?paging=cursor&q=%23{many[70].pk}").json()["results"]
    assert [c["id"] for c in by_number] == [many[70].pk]
    assert client.get("/api/consultations/?paging=cursor&q=nobody").json()["results"] == []


def test_a_bad_cursor_is_a_clear_client_error(api, people, many):
    response = api(people["village_doctor"]).get("/api/consultations/?cursor=not-a-cursor")
    assert 400 <= response.status_code < 500 and response.json()["code"] and response.json()["detail"]


@pytest.mark.parametrize("query", ["²", "#①", "#" + "9" * 30])
def test_a_search_with_digits_int_cannot_read_finds_nothing_and_never_fails(api, people, many, query):
    response = api(people["village_doctor"]).get("/api/consultations/", {"paging": "cursor", "q": query})
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []
