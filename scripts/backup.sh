#!/usr/bin/env bash
# Back up Teleclinic: PostgreSQL (pg_dump custom format) and the media store (tar), with a
# manifest of sha256 sums. See docs/security.md ("Backups and restore").
#
#   scripts/backup.sh DEST_DIR
#   env: DATABASE_URL (postgres://user[:pw]@host:port/db), MEDIA_ROOT (default var/media)
set -euo pipefail
dest="${1:?usage: scripts/backup.sh DEST_DIR}"
: "${DATABASE_URL:?set DATABASE_URL}"
media="${MEDIA_ROOT:-$(cd "$(dirname "$0")/.." && pwd)/var/media}"
mkdir -p "$dest"
umask 077  # backups hold patient data: readable by the backup user only

# Custom format: compressed, restorable table by table, in parallel (pg_restore -j).
pg_dump --format=custom --no-owner --file "$dest/db.dump" "$DATABASE_URL"
if [ -d "$media" ]; then
    tar -C "$media" -czf "$dest/media.tar.gz" .
else
    tar -czf "$dest/media.tar.gz" --files-from /dev/null
fi
(cd "$dest" && sha256sum db.dump media.tar.gz > SHA256SUMS)
echo "backup written to $dest: $(du -sh "$dest" | cut -f1)"
