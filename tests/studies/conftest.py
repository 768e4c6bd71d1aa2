"""Fixtures for the studies tests: real files from pydicom (never copied here) and tus helpers."""
import base64
import hashlib
import time

import pytest

from studies import tus
from tests.studies.badfiles import sample_bytes  # noqa: F401  (re-exported for the tests)
from studies.models import Upload


def metadata_header(**pairs) -> str:
    return tus.encode_metadata({k: str(v) for k, v in pairs.items()})


class TusClient:
    """Speaks tus 1.0.0 through DRF's test client (protocol-level tests)."""

    def __init__(self, client):
        self.client = client

    def create(self, length: int, **metadata):
        return self.client.post("/api/uploads/", HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH=str(length),
                                HTTP_UPLOAD_METADATA=metadata_header(**metadata))

    def patch(self, url: str, offset: int, body: bytes, checksum: bytes | None = None, **headers):
        extra = {"HTTP_TUS_RESUMABLE": "1.0.0", "HTTP_UPLOAD_OFFSET": str(offset), **headers}
        if checksum is not None:
            extra["HTTP_UPLOAD_CHECKSUM"] = "sha256 " + base64.b64encode(checksum).decode()
        return self.client.generic("PATCH", url, body, content_type="application/offset+octet-stream", **extra)

    def head(self, url: str):
        return self.client.head(url, HTTP_TUS_RESUMABLE="1.0.0")

    def send(self, data: bytes, chunk: int = 64 * 1024, **metadata) -> str:
        """Create and send a whole file; returns the upload URL."""
        created = self.create(len(data), sha256=hashlib.sha256(data).hexdigest(), **metadata)
        assert created.status_code == 201, created.content
        url = created["Location"]
        for offset in range(0, len(data), chunk):
            piece = data[offset:offset + chunk]
            response = self.patch(url, offset, piece, hashlib.sha256(piece).digest())
            assert response.status_code == 204, response.content
        return url


@pytest.fixture
def tus_client(api):
    return lambda user: TusClient(api(user))


def upload_id_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def wait_for_upload(upload_id: str, states=("ingested", "failed"), timeout: float = 60.0) -> Upload:
    deadline = time.monotonic() + timeout
    while True:
        upload = Upload.objects.get(pk=upload_id)
        if upload.state in states:
            return upload
        assert time.monotonic() < deadline, f"upload still {upload.state}"
        time.sleep(0.1)


@pytest.fixture(scope="session")
def daphne_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """Daphne serving teleclinic.asgi in a subprocess on the test database (live_server is WSGI-only)."""
    import os
    import socket
    import subprocess
    import sys

    from tests.conftest import ROOT, free_port, postgres_url

    with django_db_blocker.unblock():
        database_url = postgres_url()
    port = free_port()
    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    env = dict(os.environ, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="teleclinic.test_settings")
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                 "teleclinic.asgi:application"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"Daphne did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
    proc.url = f"http://127.0.0.1:{port}"
    proc.log_path = log
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def token_for():
    from rest_framework.authtoken.models import Token

    return lambda user: Token.objects.get_or_create(user=user)[0].key
