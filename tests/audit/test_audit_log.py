"""Every read of patient data is audited, and the audit log cannot be rewritten."""
import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit.models import AppendOnlyError, AuditEvent


def test_patient_read_through_api_is_audited(community, people, patient_factory, api):
    # given a patient of the doctor's clinic
    patient = patient_factory(home_clinic=community.village_a1)
    doctor = people["village_doctor"]
    # when the doctor reads the patient through the API
    response = api(doctor).get(f"/api/patients/{patient.pk}/", REMOTE_ADDR="10.1.2.3")
    # then exactly one read is recorded with who, what, from where and through which interface
    assert response.status_code == 200
    events = list(AuditEvent.objects.filter(patient_id=patient.pk, action="read"))
    assert len(events) == 1
    event = events[0]
    assert (event.actor_id, event.object_type, event.object_id, event.interface) == (
        doctor.pk, "Patient", str(patient.pk), "api")
    assert event.ip == "10.1.2.3" and event.at is not None


def test_patient_listing_records_each_listed_patient(community, people, patient_factory, api):
    mine = [patient_factory(home_clinic=community.village_a1) for _ in range(3)]
    patient_factory(home_clinic=community.village_b1)
    response = api(people["village_doctor"]).get("/api/patients/")
    assert response.status_code == 200 and response.json()["count"] == 3
    assert set(AuditEvent.objects.filter(action="read").values_list("patient_id", flat=True)) == {p.pk for p in mine}


def test_id_number_is_masked_in_api_listing(community, people, patient_factory, api):
    patient_factory(home_clinic=community.village_a1, id_number="430521195603141234")
    row = api(people["village_doctor"]).get("/api/patients/").json()["results"][0]
    assert row["id_number"] == "4305**********1234"


def test_patient_read_through_admin_is_audited(community, people, patient_factory, client):
    # given an admin and a patient
    patient = patient_factory(home_clinic=community.village_a1)
    client.force_login(people["admin"])
    # when the admin opens the patient's change page
    response = client.get(f"/admin/directory/patient/{patient.pk}/change/")
    # then the read is recorded with the admin interface
    assert response.status_code == 200
    event = AuditEvent.objects.get(patient_id=patient.pk)
    assert (event.actor_id, event.interface, event.action) == (people["admin"].pk, "admin", "read")


def test_audit_rows_cannot_be_changed_through_the_orm(community, people, patient_factory, api):
    patient = patient_factory(home_clinic=community.village_a1)
    api(people["village_doctor"]).get(f"/api/patients/{patient.pk}/")
    event = AuditEvent.objects.get()
    event.actor_username = "someone-else"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().update(actor_username="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().actor_username == people["village_doctor"].username


@pytest.mark.parametrize("statement", ["UPDATE audit_auditevent SET actor_username = 'x'",
                                       "DELETE FROM audit_auditevent"])
def test_database_refuses_update_and_delete_of_audit_rows(community, people, patient_factory, api, statement):
    # given a recorded read
    patient = patient_factory(home_clinic=community.village_a1)
    api(people["village_doctor"]).get(f"/api/patients/{patient.pk}/")
    # when raw SQL tries to rewrite it, then the database itself refuses
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.filter(actor_username=people["village_doctor"].username).count() == 1


def test_audit_admin_has_no_change_or_delete(people, client):
    client.force_login(people["admin"])
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get("/admin/audit/auditevent/add/").status_code == 403


def test_only_admins_search_the_audit_log(community, people, patient_factory, api):
    patient = patient_factory(home_clinic=community.village_a1)
    api(people["village_doctor"]).get(f"/api/patients/{patient.pk}/")
    assert api(people["coordinator"]).get("/api/audit/").status_code == 403
    found = api(people["admin"]).get(f"/api/audit/?patient={patient.pk}&actor=vdoc").json()
    assert found["count"] == 1 and found["results"][0]["object_type"] == "Patient"
    assert api(people["admin"]).get("/api/audit/?patient=abc").status_code == 400
    assert api(people["admin"]).get("/api/audit/?since=2026-13-01").status_code == 400
