"""Create (or refresh) the PostgreSQL role the application runs as: it owns nothing.

Migrations run as the owner of the schema (the DATABASE_URL of `manage.py migrate`); Daphne,
Celery and the relay workers connect as this role. It may read and write the application's
tables, but on the audit log only SELECT and INSERT: no UPDATE, DELETE or TRUNCATE, and, since it
does not own the table, it cannot disable the append-only trigger or drop the table either.

Run it as the owner after every `migrate` (it is idempotent; new tables get their grants from
the default privileges set here, and running it again re-applies the audit revocations):

    DATABASE_URL=postgres://owner@db/teleclinic python manage.py grant_app_role teleclinic_app --password-env APP_DB_PASSWORD
"""
import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from psycopg import sql

# Tables whose history must never be rewritten by the application.
APPEND_ONLY_TABLES = ("audit_auditevent",)


class Command(BaseCommand):
    help = "Create or refresh the database role the application runs as (no ownership; the audit log insert-only)."

    def add_arguments(self, parser):
        parser.add_argument("role", help="the role's name, e.g. teleclinic_app")
        parser.add_argument("--password-env", metavar="VAR",
                            help="set the role's password from this environment variable (none: keep/peer/trust auth)")

    def handle(self, *args, role: str, password_env: str | None, **options):
        if connection.vendor != "postgresql":
            raise CommandError("grant_app_role needs PostgreSQL (the embedded SQLite default has no roles).")
        password = None
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"{password_env} is not set or empty.")
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, current_database()")
            owner, database = cursor.fetchone()
            if owner == role:
                raise CommandError("Run this as the schema's owner, not as the application role itself.")
            name = sql.Identifier(role)
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(name))
            else:
                cursor.execute(sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS").format(name))
            if password:
                cursor.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(name, sql.Literal(password)))
            statements = [
                "GRANT CONNECT ON DATABASE {db} TO {role}",
                "GRANT USAGE ON SCHEMA public TO {role}",
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
                "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
            ]
            for statement in statements:
                cursor.execute(sql.SQL(statement).format(db=sql.Identifier(database), role=name))
            for table in APPEND_ONLY_TABLES:
                cursor.execute(sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {} FROM {}")
                               .format(sql.Identifier(table), name))
                cursor.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(sql.Identifier(table), name))
        self.stdout.write(f"role {role}: read/write on {database}'s tables; {', '.join(APPEND_ONLY_TABLES)} insert-only; owns nothing")
