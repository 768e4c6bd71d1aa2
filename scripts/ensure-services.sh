#!/usr/bin/env bash
# Start the machine's PostgreSQL and Redis when they are down (CI starts on a fresh machine), and make
# the tests' own PostgreSQL role and database (teleclinic/test_settings.py's default DATABASE_URL),
# whatever the local authentication is: the role gets a password, so a scram/md5 rule for 127.0.0.1
# accepts it as well as a trust one. Role and database are made through the postgres account (peer
# authentication on the local socket: Debian's default), as root or through sudo.
set -euo pipefail

PG_PORT=5432
# The schema's owner, as in docker-compose.yml (whose POSTGRES_USER is a superuser too): the tests create
# their database, and tests/audit/test_app_role.py creates and refreshes the application's role
# (grant_app_role's ALTER ROLE ... NOSUPERUSER needs a superuser).
TEST_ROLE=teleclinic
TEST_PASSWORD=teleclinic    # a local test role: PostgreSQL listens on 127.0.0.1 only
TEST_DATABASE=teleclinic

as_postgres() {  # from /: the postgres account may not enter the checkout's directory
    if [ "$(id -un)" = postgres ]; then (cd / && "$@")
    elif [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@")
    else (cd / && sudo -n -u postgres -- "$@")
    fi
}

if ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
if ! pg_isready -h 127.0.0.1 -p "$PG_PORT"; then
    # e.g. a cluster made while another PostgreSQL held 5432 gets the next port (pg_createcluster)
    echo "no PostgreSQL on 127.0.0.1:$PG_PORT, where the tests' DATABASE_URL points; the clusters:" >&2
    pg_lsclusters >&2 || true
    exit 1
fi
redis-cli -h 127.0.0.1 -p 6379 ping

# The tests' role and database (idempotent: run before every `make test`).
as_postgres psql -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres <<SQL
SELECT format('CREATE ROLE %I LOGIN SUPERUSER PASSWORD %L', '$TEST_ROLE', '$TEST_PASSWORD')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$TEST_ROLE') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$TEST_DATABASE', '$TEST_ROLE')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$TEST_DATABASE') \gexec
SQL
