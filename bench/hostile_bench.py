"""Hostile files (issue 13): time and peak RSS of the serving Daphne process to refuse deflate bombs
that inflate to 256 MiB, 1 GiB and 4 GiB, through STOW-RS and through a tus upload, against a valid
deflated instance of the same compressed size (the baseline) sent the same way.

One Daphne process on the embedded configuration's Celery (eager: the tus ingest runs in the serving
process, as `make run` does) and a bench PostgreSQL database. Peak RSS is sampled from
/proc/<pid>/status every 10 ms while the request runs; "after" is read 1 s after the answer.
Goal (issue 13): each refusal under 1 s and under 64 MB above the baseline.

Prints one JSON object. Creates and drops its own database tc_bench_hostile; env BENCH_HOSTILE_SIZES
("256M,1G,4G").
"""
import hashlib
import io
import json
import os
import random
import struct
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import zlib
from pathlib import Path

os.environ.setdefault("BENCH_OPS_DB", "tc_bench_hostile")
MEDIA = tempfile.mkdtemp(prefix="tc-bench-hostile-")
os.environ.update(MEDIA_ROOT=MEDIA, CELERY_QUEUE="bench_hostile", SECRET_KEY="bench-hostile-not-secret")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ops_common  # noqa: E402
from common import log  # noqa: E402

SIZES = {"256M": 256 << 20, "1G": 1 << 30, "4G": 4 << 30}


def seed() -> str:
    """A village doctor (ops_common) with one patient of their clinic; the doctor's API token."""
    from directory.models import Patient

    village, token = ops_common.seed_village_doctor("h")
    Patient.objects.create(name="患者", sex="F", birth_date="1960-01-01", home_clinic=village, health_record_no="H1")
    return token


def _meta_and_dataset(sop_uid: str):
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    meta.ImplementationClassUID = "1.2.3.4"
    ds = pydicom.Dataset()
    ds.file_meta, ds.preamble = meta, b"\x00" * 128
    return ds


def _header(sop_uid: str) -> bytes:
    import pydicom

    head = io.BytesIO()
    pydicom.dcmwrite(head, _meta_and_dataset(sop_uid), enforce_file_format=True)
    data = head.getvalue()
    group_length = struct.unpack_from("<I", data, 132 + 8)[0]
    return data[:132 + 12 + group_length]


def bomb(inflated: int) -> bytes:
    """A deflated-syntax file whose body inflates to `inflated` bytes (an OB element of zeros)."""
    body = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    chunks = [body.compress(struct.pack("<HH2sHI", 0x0009, 0x1010, b"OB", 0, min(inflated, 2**32 - 2)))]
    zeros = bytes(64 << 20)
    for _ in range(inflated // len(zeros)):
        chunks.append(body.compress(zeros))
    chunks.append(body.flush())
    return _header(f"2.25.{uuid.uuid4().int}"[:64]) + b"".join(chunks)


def valid_instance(compressed_size: int) -> bytes:
    """A valid deflated CT (pydicom's CT_small, patient H1) whose deflated size is about `compressed_size`:
    its pixels replaced by a larger image of noise, which deflate cannot shrink."""
    import math

    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    side = max(16, int(math.sqrt(compressed_size / 2)))
    ds.Rows = ds.Columns = side
    ds.PixelData = random.Random(1).randbytes(side * side * 2)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.PatientID = generate_uid(), generate_uid(), "H1"
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


class RssSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.01)


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def measured(pid: int, send) -> dict:
    before = rss(pid)
    sampler = RssSampler(pid)
    sampler.start()
    started = time.perf_counter()
    outcome = send()
    elapsed = time.perf_counter() - started
    sampler.running = False
    sampler.join()
    time.sleep(1)
    mb = 1 << 20
    return {"seconds": round(elapsed, 3), "outcome": outcome, "rss_before_mb": round(before / mb, 1),
            "peak_above_before_mb": round((max(sampler.peak, before) - before) / mb, 1),
            "after_above_before_mb": round((rss(pid) - before) / mb, 1)}


def stow(port: int, token: str, data: bytes) -> str:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data
            + f"\r\n--{boundary}--\r\n".encode())
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/dicomweb/studies", data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/dicom+json",
                 "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return f"{response.status}"
    except urllib.error.HTTPError as exc:
        return f"{exc.code} {exc.read()[:300].decode(errors='replace')}"


def tus(port: int, token: str, data: bytes) -> str:
    import base64

    headers = {"Authorization": f"Token {token}", "Tus-Resumable": "1.0.0"}
    meta = f"filename {base64.b64encode(b'x.dcm').decode()},sha256 {base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode()}"
    create = urllib.request.Request(f"http://127.0.0.1:{port}/api/uploads/", method="POST", data=b"",
                                    headers={**headers, "Upload-Length": str(len(data)), "Upload-Metadata": meta})
    with urllib.request.urlopen(create, timeout=60) as response:
        url = response.headers["Location"]
    url = url if url.startswith("http") else f"http://127.0.0.1:{port}{url}"
    patch = urllib.request.Request(url, method="PATCH", data=data, headers={
        **headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    with urllib.request.urlopen(patch, timeout=600) as response:
        status = response.status
    state = urllib.request.Request(url, method="GET", headers=headers)  # the upload's state after its ingest
    try:
        with urllib.request.urlopen(state, timeout=60) as response:
            body = json.loads(response.read() or b"{}")
            return f"{status} {body.get('state')} {body.get('error_code', '')}".strip()
    except urllib.error.HTTPError as exc:
        return f"{status} (state: {exc.code})"


def main() -> dict:
    ops_common.setup_django()
    token = seed()
    wanted = [s.strip() for s in os.environ.get("BENCH_HOSTILE_SIZES", "256M,1G,4G").split(",") if s.strip()]
    out = {"machine": ops_common.machine(), "goal": "refusal < 1 s and < 64 MB above the baseline", "runs": {}}
    try:
        # REDIS_URL="": the embedded default's eager Celery, so the tus ingest runs in this process
        with ops_common.daphne_process(Path(MEDIA) / "daphne.log", REDIS_URL="", DB_POOL="false") as daphne:
            for name in wanted:
                log(f"building the {name} bomb")
                hostile = bomb(SIZES[name])
                baseline = valid_instance(len(hostile))
                run = {"compressed_bytes": len(hostile)}
                for via, send in (("stow", stow), ("tus", tus)):
                    log(f"{name} via {via}")
                    run[f"{via}_bomb"] = measured(daphne.pid, lambda: send(daphne.port, token, hostile))
                    run[f"{via}_baseline_valid"] = measured(daphne.pid, lambda: send(daphne.port, token, baseline))
                out["runs"][name] = run
    finally:
        ops_common.drop_database()
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2, ensure_ascii=False))
