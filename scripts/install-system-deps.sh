#!/usr/bin/env bash
# Debian packages the tests need, installed only when missing (a fresh Debian or Ubuntu: run this
# as root first, then `make test`): Python with venv, make and git; PostgreSQL and Redis (started
# and given the tests' role by ensure-services.sh); chromium for the browser tests, docker-compose
# to validate docker-compose.yml (no Docker engine is needed for `config`), CJK fonts for pages and
# PDFs, nginx for the scaled-out stack, coturn (its relay refusals and credential expiry are tested),
# dcmtk (storescu: a real modality's sender).
set -euo pipefail

need=()
command -v python3 >/dev/null || need+=(python3)
python3 -c "import ensurepip, venv" 2>/dev/null || need+=(python3-venv)
command -v make >/dev/null || need+=(make)
command -v git >/dev/null || need+=(git)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)  # pip and npm over HTTPS
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || need+=(postgresql)  # with pg_ctlcluster, pg_isready
command -v redis-server >/dev/null || need+=(redis-server)
command -v chromium >/dev/null || need+=(chromium)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
command -v nginx >/dev/null || need+=(nginx-light)
command -v msgfmt >/dev/null || need+=(gettext)
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)
# Report PDFs embed a TrueType CJK font (reportlab cannot embed Noto's CFF outlines); poppler
# checks and rasterises them in the tests.
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v zbarimg >/dev/null || need+=(zbar-tools)  # decodes the report PDF's QR code in a test
command -v turnserver >/dev/null || need+=(coturn)  # the TURN server, run by tests/live/test_coturn.py
# tus-js-client runs unmodified in node against the server (scripts/install-test-js.sh installs it).
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v storescu >/dev/null || need+=(dcmtk)  # a modality's C-STORE sender in tests/studies/test_unmatched.py
# bench/relay_bench.py's baseline (`make bench` sets BENCH_DEPS=1; the tests do not need them): Janus's
# VideoRoom, run with a getifaddrs() shim built by gcc
if [ "${BENCH_DEPS:-0}" = 1 ]; then
    command -v janus >/dev/null || need+=(janus)
    command -v gcc >/dev/null || need+=(gcc)
    [ -e /usr/include/ifaddrs.h ] || need+=(libc6-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "missing Debian packages: ${need[*]} (run as root, or install them)" >&2
        exit 1
    fi
    echo "installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
