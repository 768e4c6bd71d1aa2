"""The OHIF Viewer's files at /ohif/ (frontend/ohif.py), on a small stand-in install in a temporary
OHIF_ROOT: the gzip made at install time is what a browser that accepts gzip receives, the content-hashed
chunks are cached for good, the others for a day, and the viewer still needs a login."""
import gzip

import pytest

CHUNK = "2493.bundle.c4af70e46357151f.js"  # the build's names: content-hashed chunks and WebAssembly
WASM = "0ddf166f7a343eda.wasm"
WORKER = "init-service-worker.js"  # not hashed
SCRIPT = b"console.log('chunk');" * 200


@pytest.fixture
def ohif_root(tmp_path, settings):
    root = tmp_path / "ohif"
    root.mkdir()
    (root / "index.html").write_bytes(b"<!doctype html><script>window.PUBLIC_URL=\"/ohif/\"</script><div id=root>")
    for name in (CHUNK, WORKER):
        (root / name).write_bytes(SCRIPT)
        (root / f"{name}.gz").write_bytes(gzip.compress(SCRIPT))
    (root / WASM).write_bytes(b"\0asm" + bytes(3000))
    settings.OHIF_ROOT = root
    return root


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.django_db
def test_a_chunk_goes_gzipped_to_a_browser_that_accepts_it_and_is_cached_for_good(client, people, ohif_root):
    client.force_login(people["expert"])
    response = client.get(f"/ohif/{CHUNK}", headers={"accept-encoding": "gzip, deflate, br, zstd"})
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert response["Content-Type"].startswith("text/javascript")
    assert gzip.decompress(body(response)) == SCRIPT
    assert "immutable" in response["Cache-Control"] and "max-age=315360000" in response["Cache-Control"]
    assert "script-src" in response["Content-Security-Policy"]  # its workers run under the viewer's policy


@pytest.mark.django_db
def test_without_gzip_in_accept_encoding_the_file_goes_as_it_is(client, people, ohif_root):
    client.force_login(people["expert"])
    response = client.get(f"/ohif/{CHUNK}", headers={"accept-encoding": "identity"})
    assert response.status_code == 200
    assert "Content-Encoding" not in response
    assert body(response) == SCRIPT


@pytest.mark.django_db
def test_a_file_without_a_hash_in_its_name_is_cached_a_day_and_one_with_none_gzipped_goes_plain(
        client, people, ohif_root):
    client.force_login(people["expert"])
    worker = client.get(f"/ohif/{WORKER}", headers={"accept-encoding": "gzip"})
    assert worker.status_code == 200 and worker["Content-Encoding"] == "gzip"
    assert worker["Cache-Control"] == "max-age=86400, public"
    wasm = client.get(f"/ohif/{WASM}", headers={"accept-encoding": "gzip"})
    assert wasm.status_code == 200 and "Content-Encoding" not in wasm
    assert wasm["Content-Type"] == "application/wasm" and "immutable" in wasm["Cache-Control"]
    assert body(wasm)[:4] == b"\0asm"


@pytest.mark.django_db
def test_an_unchanged_chunk_is_not_sent_again_and_routes_and_missing_files_are_as_before(client, people, ohif_root):
    client.force_login(people["expert"])
    first = client.get(f"/ohif/{CHUNK}", headers={"accept-encoding": "gzip"})
    again = client.get(f"/ohif/{CHUNK}", headers={"accept-encoding": "gzip", "if-none-match": first["ETag"]})
    assert again.status_code == 304
    route = client.get("/ohif/viewer")  # a route of the single-page app: its index.html
    assert route.status_code == 200 and b"PUBLIC_URL" in body(route)
    assert client.get("/ohif/missing.0123456789abcdef.js").status_code == 404
    assert client.get(f"/ohif/{CHUNK}.gz").status_code == 404  # the gzip only as the encoding of its file


@pytest.mark.django_db
def test_the_viewers_files_need_a_login(client, ohif_root):
    response = client.get(f"/ohif/{CHUNK}")
    assert response.status_code == 302 and "/login/" in response["Location"]
