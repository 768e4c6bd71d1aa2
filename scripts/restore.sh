#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into a NEW database and media directory.
# See docs/security.md ("Restore" and "Restore drill").
#
#   scripts/restore.sh BACKUP_DIR
#   env: TARGET_DATABASE_URL (a database that does not exist yet: it is created),
#        TARGET_MEDIA_ROOT (an empty or missing directory)
set -euo pipefail
src="${1:?usage: scripts/restore.sh BACKUP_DIR}"
: "${TARGET_DATABASE_URL:?set TARGET_DATABASE_URL}"
: "${TARGET_MEDIA_ROOT:?set TARGET_MEDIA_ROOT}"

(cd "$src" && sha256sum --check --quiet SHA256SUMS)  # refuse a damaged backup before touching anything

db_name="${TARGET_DATABASE_URL##*/}"
db_name="${db_name%%\?*}"
server_url="${TARGET_DATABASE_URL%/*}/postgres"
psql --quiet --no-psqlrc -v ON_ERROR_STOP=1 "$server_url" -c "CREATE DATABASE \"$db_name\""
# --exit-on-error: a partial restore is worse than none; --no-owner: the target's role owns it.
pg_restore --exit-on-error --no-owner --dbname "$TARGET_DATABASE_URL" "$src/db.dump"

mkdir -p "$TARGET_MEDIA_ROOT"
tar -C "$TARGET_MEDIA_ROOT" -xzf "$src/media.tar.gz"
echo "restored into $db_name and $TARGET_MEDIA_ROOT"
