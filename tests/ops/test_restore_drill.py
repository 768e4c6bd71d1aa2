"""Restore drill: back up (pg_dump custom format + media tar), restore into a fresh database, compare.

docs/security.md describes the same steps for operators; this runs them on a small dataset.
"""
import hashlib
import os
import subprocess
import uuid

import psycopg
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.db import connection

from tests.conftest import ROOT, postgres_url

TABLES = ["directory_organisation", "directory_user", "directory_patient", "consult_consultation",
          "audit_auditevent", "authtoken_token"]


def _counts(cursor) -> dict:
    counts = {}
    for table in TABLES:
        cursor.execute(f"SELECT count(*) FROM {table}")
        counts[table] = cursor.fetchone()[0]
    return counts


def _digests(root) -> dict:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def restored_database():
    name = f"tc_restore_drill_{uuid.uuid4().hex[:8]}"
    url = postgres_url().rsplit("/", 1)[0] + f"/{name}"
    yield url
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_restores_rows_audit_log_with_its_trigger_and_media(transactional_db, people, community, api,
                                                                   patient_factory, consultation_factory,
                                                                   restored_database, tmp_path):
    # given a small dataset: patients, consultations, audited reads, an API token and media files
    patients = [patient_factory(home_clinic=community.village_a1) for _ in range(5)]
    for patient in patients:
        consultation_factory(patient=patient, requested_by=people["village_doctor"])
        assert api(people["village_doctor"]).get(f"/api/patients/{patient.pk}/").status_code == 200
    api().post("/api/auth/token/", {"username": "vdoc", "password": "pw-123456"}, format="json")
    media = tmp_path / "media"
    storage = FileSystemStorage(location=media)
    storage.save("studies/ecg/1.xml", ContentFile(b"<AnnotatedECG/>" * 100))
    storage.save("reports/2026/11/report-1.pdf", ContentFile(os.urandom(50_000)))
    with connection.cursor() as cursor:
        source_counts = _counts(cursor)
    assert source_counts["audit_auditevent"] >= 5

    # when it is backed up and restored into a new database and media directory
    backup, target_media = tmp_path / "backup", tmp_path / "restored-media"
    env = dict(os.environ, DATABASE_URL=postgres_url(), MEDIA_ROOT=str(media),
               TARGET_DATABASE_URL=restored_database, TARGET_MEDIA_ROOT=str(target_media))
    for script, argument in (("backup.sh", backup), ("restore.sh", backup)):
        result = subprocess.run(["bash", f"scripts/{script}", str(argument)], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr

    # then every row is back, the audit log is still append-only, and the media files are identical
    with psycopg.connect(restored_database, autocommit=True) as restored:
        with restored.cursor() as cursor:
            assert _counts(cursor) == source_counts
            cursor.execute("SELECT health_record_no FROM directory_patient ORDER BY id")
            assert {row[0] for row in cursor.fetchall()} >= {p.health_record_no for p in patients}
            for statement in ("UPDATE audit_auditevent SET action = 'delete'", "DELETE FROM audit_auditevent"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                    cursor.execute(statement)
            assert _counts(cursor)["audit_auditevent"] == source_counts["audit_auditevent"]
    assert _digests(target_media) == _digests(media) and len(_digests(media)) == 2


def test_restore_refuses_a_damaged_backup(tmp_path, restored_database):
    # given a backup whose dump was altered after it was written
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "db.dump").write_bytes(b"not a dump")
    (backup / "media.tar.gz").write_bytes(b"")
    (backup / "SHA256SUMS").write_text(f"{'0' * 64}  db.dump\n{'0' * 64}  media.tar.gz\n")
    env = dict(os.environ, TARGET_DATABASE_URL=restored_database, TARGET_MEDIA_ROOT=str(tmp_path / "m"))
    # when it is restored, then the script stops before creating anything
    result = subprocess.run(["bash", "scripts/restore.sh", str(backup)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert not (tmp_path / "m").exists()
