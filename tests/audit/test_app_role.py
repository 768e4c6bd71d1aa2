"""The application's own database role: it reads and writes the application's tables, but the
audit log only grows. Checked by connecting as that role, the way Daphne and Celery do in production."""
import json
import os
import subprocess
import sys

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from tests.conftest import ROOT, postgres_url

pytestmark = pytest.mark.django_db(transaction=True)

ROLE = "teleclinic_app_test"
PASSWORD = "app-role-test"  # connections to 127.0.0.1 may need one (scram/md5 rules in pg_hba.conf)


def _url(role: str) -> str:
    return postgres_url(user=role, password=PASSWORD)


@pytest.fixture
def app_role(monkeypatch):
    monkeypatch.setenv("APP_ROLE_TEST_PASSWORD", PASSWORD)
    call_command("grant_app_role", ROLE, password_env="APP_ROLE_TEST_PASSWORD")
    yield ROLE
    with connection.cursor() as cursor:  # leave the cluster as we found it
        cursor.execute(f"DROP OWNED BY {ROLE}; DROP ROLE {ROLE}")


def _as_app(statement: str) -> str | None:
    """Run one statement as the application's role; the error's SQLSTATE, or None when it went through."""
    with psycopg.connect(_url(ROLE), autocommit=True) as conn:
        try:
            conn.execute(statement)
        except psycopg.Error as error:
            return error.sqlstate
    return None


def test_the_application_runs_as_its_role_and_its_reads_are_audited(app_role, community, people, patient_factory):
    # given a patient, and the application connected as its own role (a fresh process, like Daphne or a worker)
    patient = patient_factory(home_clinic=community.village_a1)
    script = (
        "import json\n"
        "from rest_framework.test import APIClient\n"
        "from directory.models import User, Patient\n"
        "from audit.models import AuditEvent\n"
        f"doctor = User.objects.get(pk={people['village_doctor'].pk})\n"
        "client = APIClient(); client.force_authenticate(doctor)\n"
        f"read = client.get('/api/patients/{patient.pk}/')\n"
        f"Patient.objects.filter(pk={patient.pk}).update(phone='13800000000')\n"
        "print(json.dumps({'status': read.status_code,"
        f" 'audited': AuditEvent.objects.filter(patient_id={patient.pk}, action='read').count()}}))\n"
    )
    env = dict(os.environ, DATABASE_URL=_url(ROLE), DJANGO_SETTINGS_MODULE="teleclinic.test_settings")
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    # then it reads (audited) and writes patient data like any other day
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"status": 200, "audited": 1}
    patient.refresh_from_db()
    assert patient.phone == "13800000000"


@pytest.mark.parametrize("statement", [
    "UPDATE audit_auditevent SET actor_username = 'x'",
    "DELETE FROM audit_auditevent",
    "TRUNCATE audit_auditevent",
    "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_no_update_delete",
    "DROP TABLE audit_auditevent",
])
def test_the_application_role_cannot_rewrite_the_audit_log(app_role, community, people, patient_factory, api,
                                                           statement):
    # given a recorded read
    patient = patient_factory(home_clinic=community.village_a1)
    api(people["village_doctor"]).get(f"/api/patients/{patient.pk}/")
    # when the application's role tries to rewrite, truncate, unguard or drop the log
    refused = _as_app(statement)
    # then PostgreSQL refuses on privileges (42501) or ownership (42501 "must be owner"), before any trigger
    assert refused == "42501"
    assert _as_app("SELECT count(*) FROM audit_auditevent") is None
    from audit.models import AuditEvent
    assert AuditEvent.objects.filter(patient_id=patient.pk).count() == 1


def test_the_role_is_refreshed_idempotently_and_owns_nothing(app_role):
    call_command("grant_app_role", ROLE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s", [ROLE])
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s", [ROLE])
        assert cursor.fetchone() == (False, False, False)
    assert _as_app("INSERT INTO audit_auditevent (at, actor_username, action, object_type, object_id, interface, detail)"
                   " VALUES (now(), 'x', 'read', 'patient', '1', 'api', '{}')") is None
