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
