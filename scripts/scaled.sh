#!/usr/bin/env bash
# The scaled-out stack on one machine, from one command (`make scaled`): on the machine's
# PostgreSQL and Redis, migrations, two Daphne processes behind nginx, two Celery workers,
# celery beat and (when the `relay_worker` command exists) two relay workers. Prints the
# address; Ctrl-C or SIGTERM stops every process it started. docs/deployment.md explains it.
#
# Environment (all optional):
#   DATABASE_URL   default postgres://postgres@127.0.0.1:5432/teleclinic
#   REDIS_URL      default redis://127.0.0.1:6379/0 (channel layer, cache, Celery broker)
#   PORT           nginx's port, default 8080 (loopback only unless BIND is set)
#   BIND           nginx's address, default 127.0.0.1
#   DAPHNE_PORTS   the Daphne processes' ports, default "8101 8102" (one process per port)
#   CELERY_WORKERS number of Celery workers, default 2;  CELERY_CONCURRENCY per worker, default 2
#   RELAY_WORKERS  number of relay workers when the command exists, default 2
#   SCALED_DIR     run directory (nginx config, logs, pids), default var/scaled
#   PYTHON         the interpreter, default .venv/bin/python (else python3 on PATH)
#   NGINX          default /usr/sbin/nginx (Debian's nginx-light)
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/teleclinic}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-teleclinic.settings}"
export PYTHONUNBUFFERED=1
PORT="${PORT:-8080}"
BIND="${BIND:-127.0.0.1}"
DAPHNE_PORTS="${DAPHNE_PORTS:-8101 8102}"
CELERY_WORKERS="${CELERY_WORKERS:-2}"
CELERY_CONCURRENCY="${CELERY_CONCURRENCY:-2}"
RELAY_WORKERS="${RELAY_WORKERS:-2}"
SCALED_DIR="$(mkdir -p "${SCALED_DIR:-var/scaled}" && cd "${SCALED_DIR:-var/scaled}" && pwd)"
NGINX="${NGINX:-/usr/sbin/nginx}"
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
BIN="$(dirname "$(command -v "$PYTHON")")"

mkdir -p "$SCALED_DIR/logs" "$SCALED_DIR/tmp"
: > "$SCALED_DIR/pids"
pids=()
names=()
commands=()
restarts=()

start() {  # start NAME COMMAND...: in the background, output to logs/NAME.log
    local name="$1"; shift
    "$@" >> "$SCALED_DIR/logs/$name.log" 2>&1 &
    pids+=("$!"); names+=("$name"); commands+=("$(printf '%q ' "$@")"); restarts+=(0)
    echo "$! $name" >> "$SCALED_DIR/pids"
    echo "  started $name (pid $!, log $SCALED_DIR/logs/$name.log)"
}

restart() {  # restart INDEX: run the same command again, like a process supervisor would
    local i="$1"
    restarts[$i]=$((restarts[$i] + 1))
    eval "exec ${commands[$i]}" >> "$SCALED_DIR/logs/${names[$i]}.log" 2>&1 &
    pids[$i]=$!
    echo "$! ${names[$i]}" >> "$SCALED_DIR/pids"
    echo "  restarted ${names[$i]} (pid $!, restart ${restarts[$i]})"
}

stopping=0
stop_all() {
    [ "$stopping" = 1 ] && return
    stopping=1
    echo "stopping the stack"
    local i
    # The proxy first (no new requests), then the web, beat, relays and workers (warm shutdown).
    for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
    for _ in $(seq 1 100); do
        local alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.2
    done
    for i in "${!pids[@]}"; do
        if kill -0 "${pids[$i]}" 2>/dev/null; then
            echo "  ${names[$i]} did not stop in 20 s: killing it"
            kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
    done
    wait 2>/dev/null || true
    echo "stopped"
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

echo "database: ${DATABASE_URL%%\?*}  redis: $REDIS_URL  run dir: $SCALED_DIR"
echo "migrating"
"$PYTHON" manage.py migrate --noinput > "$SCALED_DIR/logs/migrate.log" 2>&1 || {
    cat "$SCALED_DIR/logs/migrate.log" >&2; exit 1; }

upstreams=""
n=0
for port in $DAPHNE_PORTS; do
    n=$((n + 1))
    # --proxy-headers: the client address is nginx's X-Forwarded-For (the login throttle and
    # the audit log record it); nginx sets that header itself, so a client cannot forge it.
    # --websocket_connect_timeout: after a Daphne dies its clients all reconnect to the others at
    # once; a handshake waiting its turn for the database must not be reset at Daphne's default 5 s
    # (nginx would count the reset against the survivor and take it out of rotation too).
    # DB_POOL: a pool of open database connections per Daphne (teleclinic/settings/base.py says why).
    start "daphne-$n" env DB_POOL="${DB_POOL:-true}" "$BIN/daphne" -b 127.0.0.1 -p "$port" --proxy-headers \
        --websocket_connect_timeout 30 teleclinic.asgi:application
    # max_fails=3: one refused or reset connection does not take a process out (a dead one refuses
    # every connect, so it is out after three, for fail_timeout).
    upstreams+="        server 127.0.0.1:$port max_fails=3 fail_timeout=3s;"$'\n'
done
for n in $(seq 1 "$CELERY_WORKERS"); do
    start "worker-$n" "$PYTHON" -m celery -A teleclinic worker -l info -c "$CELERY_CONCURRENCY" \
        -n "scaled-$n-$$@%h" --without-gossip --without-mingle
done
start beat "$PYTHON" -m celery -A teleclinic beat -l info -s "$SCALED_DIR/celerybeat-schedule" \
    --pidfile "$SCALED_DIR/celerybeat.pid"
if "$PYTHON" manage.py help relay_worker > /dev/null 2>&1; then
    for n in $(seq 1 "$RELAY_WORKERS"); do start "relay-$n" "$PYTHON" manage.py relay_worker; done
else
    echo "  (no relay_worker command in this checkout: relay workers not started)"
fi

cat > "$SCALED_DIR/nginx.conf" <<EOF
# Generated by scripts/scaled.sh; see docs/deployment.md.
daemon off;
worker_processes 1;
worker_rlimit_nofile 16384;
pid $SCALED_DIR/nginx.pid;
error_log $SCALED_DIR/logs/nginx-error.log warn;
events { worker_connections 8192; }
http {
    client_body_temp_path $SCALED_DIR/tmp/body;
    proxy_temp_path $SCALED_DIR/tmp/proxy;
    fastcgi_temp_path $SCALED_DIR/tmp/fastcgi;
    uwsgi_temp_path $SCALED_DIR/tmp/uwsgi;
    scgi_temp_path $SCALED_DIR/tmp/scgi;
    # Access log: who asked what, how long it took and which Daphne served it.
    # Secrets in paths (patient report links, calendar feeds) are masked in the log (docs/security.md).
    map \$request \$request_scrubbed {
        "~^(?<head>\\S+ /api/reports/shared/)[^/? ]+(?<tail>.*)\$" "\${head}***\${tail}";
        "~^(?<head>\\S+ /api/scheduling/calendar/)[^/? ]+?(?<tail>(\\.ics)?( .*|\\?.*|/.*)?)\$" "\${head}***\${tail}";
        default \$request;
    }
    log_format teleclinic '\$remote_addr [\$time_iso8601] "\$request_scrubbed" \$status \$body_bytes_sent '
                          '\$request_time upstream=\$upstream_addr';
    access_log $SCALED_DIR/logs/nginx-access.log teleclinic;
    client_max_body_size 200m;
    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
    upstream teleclinic {
        # least_conn: WebSockets are long-lived, so spread by open connections, not by turns.
        least_conn;
$upstreams    }
    server {
        listen $BIND:$PORT;
        location / {
            proxy_pass http://teleclinic;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_read_timeout 1h;   # an idle notification socket stays open
            proxy_send_timeout 1h;
            proxy_next_upstream error timeout http_502;
        }
    }
}
EOF
"$NGINX" -t -q -p "$SCALED_DIR" -e "$SCALED_DIR/logs/nginx-error.log" -c "$SCALED_DIR/nginx.conf"
start nginx "$NGINX" -p "$SCALED_DIR" -e "$SCALED_DIR/logs/nginx-error.log" -c "$SCALED_DIR/nginx.conf"

url="http://$BIND:$PORT"
# Healthy means every Daphne answers on its own port (nginx alone would hide a slow starter,
# and a stack with one Daphne up is not the stack this script promises) and nginx answers.
for target in $(for p in $DAPHNE_PORTS; do echo "http://$BIND:$p"; done) "$url"; do
    for _ in $(seq 1 120); do
        curl -fsS -o /dev/null "$target/healthz" 2>/dev/null && break
        sleep 0.5
    done
    curl -fsS -o /dev/null "$target/healthz" || { echo "$target did not become healthy; see $SCALED_DIR/logs" >&2; exit 1; }
done
echo "Teleclinic scaled stack is running: open $url/  (Ctrl-C stops it)"

# Run until a signal. A process that dies is restarted (its clients reconnect through nginx to
# the others meanwhile); one that keeps dying (MAX_RESTARTS, default 5) stops the whole stack.
MAX_RESTARTS="${MAX_RESTARTS:-5}"
while true; do
    if ! wait -n; then :; fi
    [ "$stopping" = 1 ] && break
    for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[$i]}" 2>/dev/null; then
            echo "${names[$i]} (pid ${pids[$i]}) exited; see $SCALED_DIR/logs/${names[$i]}.log" >&2
            if [ "${restarts[$i]}" -ge "$MAX_RESTARTS" ]; then
                echo "${names[$i]} keeps exiting: stopping the stack" >&2
                exit 1
            fi
            sleep 1
            restart "$i"
        fi
    done
done
