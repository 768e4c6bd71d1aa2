"""Uploads over dropping links (issue 8): 50 concurrent resumable uploads, each through its own link
that is cut after every 2 MB sent, all complete with the server's sha256 matching; the same 50
uploads over uncut links in the same run as the baseline.

Unmodified tuspy clients (one thread each, checksummed chunks, retry at once) talk to one Daphne
process through a local TCP proxy per upload (bench/cutting_proxy.py). The files are BENCH_FILE_MB
(8) MB each, not 50 MB, to keep the run near three minutes on two cores: a cut comes every 2 MB
all the same (each upload is cut FILE_MB / 2 times). Bytes re-sent = bytes the proxies forwarded
client -> server minus the files' bytes (HTTP request headers included, ~0.5 KB per request).

Prints one JSON object. Creates and drops its own database tc_bench_ops_uploads; env BENCH_UPLOADS (50),
BENCH_FILE_MB (8), BENCH_CHUNK_KB (512).
"""
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("BENCH_OPS_DB", "tc_bench_ops_uploads")
MEDIA = tempfile.mkdtemp(prefix="tc-bench-ops-uploads-")
os.environ.update(MEDIA_ROOT=MEDIA, CELERY_QUEUE="bench_ops_uploads", SECRET_KEY="bench-ops-uploads-not-secret")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ops_common  # noqa: E402
from common import log  # noqa: E402
from cutting_proxy import CuttingProxy  # noqa: E402

UPLOADS = int(os.environ.get("BENCH_UPLOADS", "50"))
FILE_BYTES = int(float(os.environ.get("BENCH_FILE_MB", "8")) * 1024 * 1024)
CHUNK = int(os.environ.get("BENCH_CHUNK_KB", "512")) * 1024
CUT_EVERY = 2 * 1024 * 1024


def upload_one(port: int, token: str, data: bytes, cut_every: int | None) -> dict:
    from tusclient import client as tus

    proxy = CuttingProxy(port, cut_every=cut_every)
    proxy.start()
    uploader = tus.TusClient(f"http://127.0.0.1:{proxy.port}/api/uploads/",
                             headers={"Authorization": f"Token {token}"}).uploader(
        file_stream=io.BytesIO(data), chunk_size=CHUNK, retries=1000, retry_delay=0, upload_checksum=True,
        metadata={"filename": "scan.bin", "kind": "auto", "sha256": hashlib.sha256(data).hexdigest()})
    started = time.perf_counter()
    error = None
    try:
        uploader.upload()
    except Exception as exc:  # counted as not completed
        error = repr(exc)[:200]
    seconds = time.perf_counter() - started
    proxy.close()
    return {"url": uploader.url, "seconds": seconds, "sent": proxy.sent_total, "cuts": proxy.cuts, "error": error}


def run(port: int, token: str, files: list[bytes], cut_every: int | None) -> dict:
    from studies.models import Upload

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(files)) as pool:
        results = list(pool.map(lambda data: upload_one(port, token, data, cut_every), files))
    seconds = time.perf_counter() - started
    matched = 0
    for data, result in zip(files, results):
        upload_id = (result["url"] or "").rstrip("/").rsplit("/", 1)[-1]
        row = Upload.objects.filter(pk=upload_id).first() if result["url"] else None
        matched += bool(row and row.offset == row.length == len(data)
                        and row.sha256 == hashlib.sha256(data).hexdigest())
    sent, total = sum(r["sent"] for r in results), len(files) * FILE_BYTES
    per_upload = sorted(r["seconds"] for r in results)
    return {"uploads": len(files), "completed": sum(r["error"] is None for r in results), "sha256_match": matched,
            "seconds": round(seconds, 2), "upload_seconds_p50": round(per_upload[len(per_upload) // 2], 2),
            "upload_seconds_max": round(per_upload[-1], 2), "cuts": sum(r["cuts"] for r in results),
            "bytes_file_total": total, "bytes_sent": sent, "bytes_resent": sent - total,
            "goodput_MB_s": round(total / seconds / 1e6, 2),
            "errors": [r["error"] for r in results if r["error"]][:3]}


def main() -> dict:
    ops_common.setup_django()
    _, token = ops_common.seed_village_doctor("u")
    files = [os.urandom(FILE_BYTES) for _ in range(UPLOADS)]
    out = {"bench": "ops_uploads_bench", **ops_common.machine(), "uploads": UPLOADS, "file_bytes": FILE_BYTES,
           "chunk_bytes": CHUNK, "cut_every_bytes": CUT_EVERY,
           "note": f"files are {FILE_BYTES // 2**20} MB, not 50 MB, to bound the run; one tuspy client and one "
                   "proxy per upload, one Daphne process; bytes_resent includes HTTP request headers"}
    try:
        with ops_common.daphne_process(Path(MEDIA) / "daphne.log") as daphne:
            log(f"baseline: {UPLOADS} x {FILE_BYTES} bytes over uncut links ...")
            out["baseline_uncut"] = run(daphne.port, token, files, cut_every=None)
            log(f"the same {UPLOADS} uploads, each link cut every {CUT_EVERY} bytes ...")
            out["cut_every_2MB"] = run(daphne.port, token, files, cut_every=CUT_EVERY)
        cut = out["cut_every_2MB"]
        out["all_complete_with_matching_sha256"] = (cut["sha256_match"] == UPLOADS
                                                    and out["baseline_uncut"]["sha256_match"] == UPLOADS)
    finally:
        ops_common.drop_database()
        import redis

        redis.Redis.from_url(ops_common.REDIS_URL).delete("bench_ops_uploads")  # ingest tasks nobody runs here
        shutil.rmtree(MEDIA, ignore_errors=True)
    return out


if __name__ == "__main__":
    began = time.monotonic()
    result = main()
    result["runtime_s"] = round(time.monotonic() - began, 1)
    print(json.dumps(result))
    sys.exit(0 if result["all_complete_with_matching_sha256"] else 1)
