"""Database triggers that freeze signed report versions for every client of the database.

A signed version is never deleted, and its content, signer, time and code never change;
only the rendered PDF may be attached to it, once.
"""
from django.db import migrations

FROZEN = ("report_id", "number", "content", "critical", "amendment_reason", "signed_by_id", "signed_at",
          "verification_code")
POSTGRES_UP = """
CREATE OR REPLACE FUNCTION reports_version_frozen() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a signed report version is never deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF %(changed)s OR (COALESCE(OLD.pdf, '') <> '' AND NEW.pdf IS DISTINCT FROM OLD.pdf) THEN
        RAISE EXCEPTION 'a signed report version is never edited; amend it' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER reports_version_frozen BEFORE UPDATE OR DELETE ON reports_reportversion
    FOR EACH ROW EXECUTE FUNCTION reports_version_frozen();
""" % {"changed": " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN)}
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS reports_version_frozen ON reports_reportversion;
DROP FUNCTION IF EXISTS reports_version_frozen();
"""
SQLITE_UP = [
    f"CREATE TRIGGER reports_version_no_edit BEFORE UPDATE OF {', '.join(FROZEN)} ON reports_reportversion "
    "BEGIN SELECT RAISE(ABORT, 'a signed report version is never edited; amend it'); END;",
    "CREATE TRIGGER reports_version_no_delete BEFORE DELETE ON reports_reportversion "
    "BEGIN SELECT RAISE(ABORT, 'a signed report version is never deleted'); END;",
]


def up(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def down(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS reports_version_no_edit")
        schema_editor.execute("DROP TRIGGER IF EXISTS reports_version_no_delete")


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]
    operations = [migrations.RunPython(up, down)]
