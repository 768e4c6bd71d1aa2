#!/usr/bin/env bash
# The OHIF Viewer (npm @ohif/app, its prebuilt dist) that the reading page opens, served by the
# project at /ohif/ with its own app-config.js (frontend/ohif.py). Installed here, never committed
# (var/ is ignored); a second run with the same version does nothing. Needs npm.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${OHIF_VERSION:-3.13.2}"
DEST="${OHIF_ROOT:-var/ohif}"

# Its text and WebAssembly files also as gzip beside them (`x.js.gz`), made once here: the project serves
# those to a browser that accepts gzip (frontend/ohif.py), a quarter of the bytes (the app bundle alone is
# 17 MB) and no compression per request. Also run for an install made before this step.
precompress() {
  find "$DEST" -type f -size +1k \( -name '*.js' -o -name '*.css' -o -name '*.wasm' -o -name '*.json' \
    -o -name '*.svg' -o -name '*.map' -o -name '*.html' -o -name '*.jsonc' -o -name '*.xml' \) \
    ! -name index.html -print0 | xargs -0 -r gzip -9 -k -f -n
  touch "$DEST/.precompressed"
}
if [ -e "$DEST/.installed-$VERSION" ]; then
  [ -e "$DEST/.precompressed" ] || precompress
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed to install the OHIF Viewer (apt-get install npm)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@ohif/app@$VERSION" >/dev/null && tar xzf ohif-app-*.tgz)
dist="$tmp/package/dist"
# The build expects to be served at "/": its chunks' public path and the page's URLs move to /ohif/.
sed -i 's#__webpack_require__.p = "/";#__webpack_require__.p = "/ohif/";#' "$dist"/*.js
sed -i -e 's#PUBLIC_URL="/"#PUBLIC_URL="/ohif/"#g' -e 's#\(href\|src\)="/#\1="/ohif/#g' "$dist/index.html"
rm -f "$dist/app-config.js"  # ours is served by the project (our DICOMweb, same origin, the user's session)
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST"
mv "$dist" "$DEST"
precompress
touch "$DEST/.installed-$VERSION"
echo "OHIF Viewer $VERSION installed in $DEST"
