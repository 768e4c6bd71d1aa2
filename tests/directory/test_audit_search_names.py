"""The administrators' audit search names the patients (ID number masked), finds a patient's rows by name or
whole resident ID number among the patients in reach, and pages beyond 100 rows."""
from audit.models import AuditEvent
from audit.services import audit_record

WOMAN = "430521195603141228"


def test_audit_rows_name_the_patient_and_are_found_by_name_or_resident_id(people, patient_factory, api):
    # given reads of two patients' records
    wanted = patient_factory(name="卢秀英", id_number=WOMAN, home_clinic=people["village_doctor"].organisation)
    other = patient_factory(name="张建华", id_number="", home_clinic=people["village_doctor"].organisation)
    for patient in (wanted, other, wanted):
        audit_record(actor=people["village_doctor"], action="read", obj=patient, interface="api")
    client = api(people["admin"])
    # when the admin searches by part of the name
    page = client.get("/api/audit/", {"q": "秀英", "actor": "vdoc"}).json()
    # then only her rows come, each naming her with the ID number masked, and the actor's display name
    assert page["count"] == 2
    assert {(r["patient_id"], r["patient_name"], r["patient_id_number"]) for r in page["results"]} == {
        (wanted.pk, "卢秀英", "4305**********1228")}
    assert page["results"][0]["actor_name"] == (people["village_doctor"].display_name or "vdoc")
    # and by the whole resident ID number, likewise
    assert client.get("/api/audit/", {"q": WOMAN.lower(), "actor": "vdoc"}).json()["count"] == 2
    # while a part of an ID number finds nobody's
    assert client.get("/api/audit/", {"q": WOMAN[:10], "actor": "vdoc"}).json()["count"] == 0
    # and naming the patients in the answer is itself audited as a read of their records
    assert AuditEvent.objects.filter(actor=people["admin"], object_type="Patient", object_id=str(wanted.pk)).exists()


def test_the_audit_search_pages_beyond_a_hundred_rows(people, patient_factory, api):
    patient = patient_factory(name="赵桂兰", home_clinic=people["village_doctor"].organisation)
    for _ in range(130):
        audit_record(actor=people["expert"], action="read", obj=patient, interface="api")
    client = api(people["admin"])
    first = client.get("/api/audit/", {"actor": "expert", "limit": 50}).json()
    third = client.get("/api/audit/", {"actor": "expert", "limit": 50, "offset": 100}).json()
    assert first["count"] == third["count"] == 130
    assert len(first["results"]) == 50 and len(third["results"]) == 30
    assert {r["id"] for r in first["results"]}.isdisjoint(r["id"] for r in third["results"])
    assert client.get("/api/audit/", {"offset": "-1"}).status_code == 400


def test_only_administrators_search_the_audit_log(people, api):
    for role in ("coordinator", "village_doctor", "expert"):
        response = api(people[role]).get("/api/audit/", {"q": "秀英"})
        assert response.status_code == 403 and response.json()["code"], role
