"""Finding 7: a 255 KB deflated DICOM that inflates to exactly the 256 MiB limit was inflated (and
parsed): a minute of CPU and about +490 MB. The inflated size is now bounded by the deflated size
too (formats.limits.inflated_cap), checked while inflating. Measured twice: the parser's own allocations
(tracemalloc, in this process), and the peak RSS of a real Daphne process serving the STOW-RS request."""
import io
import tracemalloc

import pydicom
import pytest
from pydicom.uid import DeflatedExplicitVRLittleEndian

from studies.formats.dicom import read_dicom
from studies.formats.errors import FormatError
from tests.studies.badfiles import deflate_bomb, sample_bytes

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def bomb_at_the_limit() -> bytes:
    return deflate_bomb(256 * MiB - 64)  # inflates to just under the absolute limit


def test_a_bomb_under_the_absolute_limit_is_refused_after_a_few_megabytes(bomb_at_the_limit):
    assert len(bomb_at_the_limit) < 300 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(FormatError) as refused:
            read_dicom(bomb_at_the_limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # then it is refused as a bomb, having held far less than the 256 MiB it would inflate to
    assert refused.value.code == "decompression_bomb"
    assert peak < 32 * MiB, peak


def test_a_real_deflated_image_still_reads():
    ds = pydicom.dcmread(io.BytesIO(sample_bytes("CT_small.dcm")))
    out = io.BytesIO()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(out, enforce_file_format=True)
    assert read_dicom(out.getvalue()).PatientID == ds.PatientID


# --- in the serving process --------------------------------------------------------------------------

def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _stow(url: str, token: str, data: bytes) -> tuple[int, dict]:
    import json
    import urllib.error
    import urllib.request
    import uuid

    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data
            + f"\r\n--{boundary}--\r\n".encode())
    request = urllib.request.Request(f"{url}/dicomweb/studies", data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Accept": "application/dicom+json",
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"{}")


@pytest.mark.django_db(transaction=True)
def test_the_serving_process_refuses_a_bomb_without_holding_its_memory(tmp_path, people, bomb_at_the_limit):
    """The issue's measure: the RSS of the Daphne process that serves the STOW-RS request (VmHWM, its
    peak, reset before each request through /proc/<pid>/clear_refs), not the test's own allocations."""
    from rest_framework.authtoken.models import Token

    from tests.ops.processes import daphne

    token = Token.objects.create(user=people["township_doctor"]).key
    real = io.BytesIO()
    ds = pydicom.dcmread(io.BytesIO(sample_bytes("CT_small.dcm")))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(real, enforce_file_format=True)
    with daphne(tmp_path, MEDIA_ROOT=str(tmp_path / "media")) as server:
        # a valid deflated instance first: what the process holds once it has served one (its imports)
        status, _ = _stow(server.url, token, real.getvalue())
        assert status == 200, status
        for bomb in (bomb_at_the_limit, bomb_at_the_limit):  # twice: what the first left must not grow
            before = _status_kib(server.pid, "VmRSS")
            with open(f"/proc/{server.pid}/clear_refs", "w") as clear:
                clear.write("5")  # VmHWM := VmRSS
            status, body = _stow(server.url, token, bomb)
            peak, after = _status_kib(server.pid, "VmHWM"), _status_kib(server.pid, "VmRSS")
            # then the bomb is refused (STOW-RS: 409 with the instance in the Failed SOP Sequence and our
            # reason), having held less than 64 MB above what the process held before, and no more than
            # 32 MB stays held after the answer
            assert status == 409, (status, body)
            failed = body["00081198"]["Value"]
            assert [f["00081155"]["Value"] for f in failed] == [["1.2.3.4.5.6.7.8.9"]]
            assert "expands to more than" in str(failed[0]), failed
            assert (peak - before) * 1024 < 64 * MiB, (before, peak)
            assert (after - before) * 1024 < 32 * MiB, (before, after)
