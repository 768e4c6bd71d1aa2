"""Studies benchmarks (issue 4); prints one JSON object. Runs with no arguments in about 2-3 minutes.

1. upload over a link that drops: a local TCP proxy cuts the connection after every 2 MB it
   forwards; an unmodified tuspy client uploads a 50 MB file through it (1 MB chunks,
   retries); the server's whole-file sha256 must match; bytes re-sent per cut reported.
2. ECG upload complete -> the assigned expert's WebSocket (/ws/notifications/ on Daphne)
   receives the study.ready event: p50/p95 over 100 uploads, a real Celery worker and the
   Redis channel layer.
3. DICOM ingest: instances/s through the whole ingest path (safe read, index, rows, file
   written and fsynced) as STOW-RS batches called directly (ingest_dicom_batch), the same batches
   sent as a client sends them (HTTP multipart/related, token auth, Daphne), and one by one as
   C-STORE sends them, each against a bare pydicom.dcmread loop over the same bytes in the same run;
   and as DICOMweb clients usually send (batches of 10, 4 clients at once; `--stow-parallel-only`
   runs just that row; `--stow-scaled` runs it against scripts/scaled.sh's two Daphnes behind nginx).
4. ECG parse + measure: ms per 10 s 12-lead record (DICOM waveform, neurokit2).

It creates and drops its own database `tc_bench_studies` and uses its own Celery queue and
channel prefix on REDIS_URL (default redis://127.0.0.1:6379/4).
"""
import asyncio
import hashlib
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from cutting_proxy import CuttingProxy  # noqa: E402
from common import free_port, log  # noqa: E402
DB_NAME = os.environ.get("BENCH_STUDIES_DB", "tc_bench_studies")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
MEDIA = tempfile.mkdtemp(prefix="tc-bench-studies-")
os.environ.update(
    DATABASE_URL=f"{PG}/{DB_NAME}", REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/4"),
    CHANNEL_PREFIX="bench-studies", CELERY_QUEUE="bench_studies", MEDIA_ROOT=MEDIA,
    DJANGO_SETTINGS_MODULE="teleclinic.settings", SECRET_KEY="bench-studies-not-secret", LOG_LEVEL="WARNING",
)
CUT_EVERY = 2 * 1024 * 1024
UPLOAD_BYTES = 50 * 1024 * 1024
CHUNK = 1024 * 1024
# Django sees a request only once its whole body has arrived, so a cut loses the chunk in
# flight: smaller chunks re-send less per cut, at one more round trip per chunk.
DROP_CHUNK = 256 * 1024
ECG_UPLOADS = 100
STOW_BATCH = 50  # instances per STOW-RS request in the DICOM ingest bench (a series of a CT is often more)


def recreate_database(drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {DB_NAME}")


def wait_port(port: int, proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.2)


def start_services(logdir: Path):
    port = free_port()
    # DB_POOL: connections from a pool, as scripts/scaled.sh and docker-compose.yml run Daphne on PostgreSQL
    # (DB_POOL=false: a new connection per request, 0.85 ms more of Daphne's CPU per STOW-ed instance here)
    daphne = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                               "teleclinic.asgi:application"], cwd=ROOT, stdout=open(logdir / "daphne.log", "w"),
                              stderr=subprocess.STDOUT, env=dict(os.environ, DB_POOL=os.environ.get("DB_POOL", "true")))
    worker_log = logdir / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "teleclinic", "worker", "-l", "info", "-c", "2",
                               "-Q", "bench_studies", "--without-gossip", "--without-mingle", "-n", "bench-studies@%h"],
                              cwd=ROOT, stdout=open(worker_log, "w"), stderr=subprocess.STDOUT)
    wait_port(port, daphne)
    deadline = time.monotonic() + 60
    while "ready." not in worker_log.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start: {worker_log.read_text()[-2000:]}")
        time.sleep(0.2)
    return port, [daphne, worker]


def seed():
    from rest_framework.authtoken.models import Token

    from consult.models import Consultation
    from directory.models import Expert, Organisation, Patient, Specialty, User

    lead = Organisation.objects.create(code="b-lead", name="县医院", kind=Organisation.Kind.LEAD_HOSPITAL)
    village = Organisation.objects.create(code="b-vil", name="村卫生室", kind=Organisation.Kind.VILLAGE_CLINIC,
                                          parent=lead)
    cardiology = Specialty.objects.create(code="cardiology", name="心血管内科")
    expert_user = User.objects.create_user("b-expert", password="x", role=User.Role.EXPERT, organisation=lead)
    expert = Expert.objects.create(user=expert_user)
    expert.specialties.set([cardiology])
    doctor = User.objects.create_user("b-doc", password="x", role=User.Role.VILLAGE_DOCTOR, organisation=village)
    patient = Patient.objects.create(name="患者", sex="F", birth_date="1960-01-01", home_clinic=village,
                                     health_record_no="B-0001")
    consultation = Consultation.objects.create(patient=patient, requesting_org=village, requested_by=doctor,
                                               specialty=cardiology, reason="胸闷", assigned_expert=expert,
                                               state=Consultation.State.ASSIGNED)
    return {"doctor": doctor, "expert": expert_user, "consultation": consultation,
            "token": Token.objects.create(user=doctor).key}


def bench_dropping_link(port: int, ctx) -> dict:
    from tusclient import client as tus

    from studies.models import Upload

    data = os.urandom(UPLOAD_BYTES)
    proxy = CuttingProxy(port, cut_every=CUT_EVERY)
    proxy.start()
    uploader = tus.TusClient(f"http://127.0.0.1:{proxy.port}/api/uploads/",
                             headers={"Authorization": f"Token {ctx['token']}"}).uploader(
        file_stream=io.BytesIO(data), chunk_size=DROP_CHUNK, retries=1000, retry_delay=0, upload_checksum=True,
        metadata={"filename": "big.bin", "kind": "auto", "sha256": hashlib.sha256(data).hexdigest()})
    started = time.perf_counter()
    uploader.upload()
    elapsed = time.perf_counter() - started
    proxy.listener.close()
    upload = Upload.objects.get(pk=uploader.url.rstrip("/").rsplit("/", 1)[1])
    return {
        "file_bytes": UPLOAD_BYTES, "chunk_bytes": DROP_CHUNK, "cut_every_bytes": CUT_EVERY, "cuts": proxy.cuts,
        "client_to_server_bytes": proxy.sent_total, "seconds": round(elapsed, 2),
        "server_offset": upload.offset, "sha256_match": upload.sha256 == hashlib.sha256(data).hexdigest(),
        "resent_bytes_per_cut": round((proxy.sent_total - UPLOAD_BYTES) / max(proxy.cuts, 1)),
        "note": "re-sent bytes include HTTP request headers (~0.5 KB per request); a chunk cut mid-body is "
                "re-sent whole (Django sees a request only once its body has arrived), so it is at most one chunk",
    }


def ecg_blobs(n: int) -> list[bytes]:
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    blobs = []
    for _ in range(n):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
        blobs.append(out.getvalue())
    return blobs


def expert_cookie(user) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


async def _ecg_latency(port: int, ctx, blobs) -> list[float]:
    import websockets
    from tusclient import client as tus

    client = tus.TusClient(f"http://127.0.0.1:{port}/api/uploads/", headers={"Authorization": f"Token {ctx['token']}"})
    metadata = {"filename": "ecg.dcm", "kind": "ecg", "consultation": str(ctx["consultation"].pk)}

    def upload(blob) -> float:
        client.uploader(file_stream=io.BytesIO(blob), chunk_size=CHUNK, metadata=metadata).upload()
        return time.perf_counter()

    cookie = await asyncio.to_thread(expert_cookie, ctx["expert"])
    latencies = []
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/notifications/",
                                  additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        for blob in blobs:
            completed = await asyncio.to_thread(upload, blob)
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if event.get("type") == "study.ready":
                    latencies.append(time.perf_counter() - completed)
                    break
    return latencies


def bench_ecg_latency(port: int, ctx) -> dict:
    blobs = ecg_blobs(ECG_UPLOADS)
    latencies = sorted(asyncio.run(_ecg_latency(port, ctx, blobs)))
    return {"uploads": len(latencies), "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1),
            "max_ms": round(latencies[-1] * 1000, 1), "goal_p95_ms": 1000,
            "path": "final PATCH answered -> Celery (Redis) -> parse + neurokit2 measure + store -> on_commit "
                    "group_send (Redis pub/sub layer) -> Daphne consumer -> expert's WebSocket"}


def dicom_blobs(n: int, patient_id: str = "B-0001", new_studies: bool = False,
                new_series: bool = False) -> list[bytes]:
    """n instances cycling through pydicom's test files, each with a fresh SOP Instance UID; new_studies:
    a study of its own per instance; new_series: one fresh study and series per test file (as a run
    of its own would send them)."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    names = ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "MR_small_jp2klossless.dcm", "SC_rgb_jpeg_gdcm.dcm",
             "US1_J2KR.dcm", "emri_small.dcm", "JPEG-LL.dcm", "SC_rgb_rle.dcm", "OBXXXX1A.dcm"]
    sources = [pydicom.dcmread(get_testdata_file(name)) for name in names]
    if new_series:
        for ds in sources:
            ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    blobs = []
    for i in range(n):
        ds = sources[i % len(sources)]
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.PatientID = patient_id  # the seeded patient, so that C-STORE (no consultation) matches it
        if new_studies:
            ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
        blobs.append(out.getvalue())
    return blobs, names


def _seconds(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def bench_dicom_ingest(ctx, n: int = 300) -> dict:
    """The same instances through a bare pydicom read loop and through the ingest, in this run.

    The ingest takes them as STOW-RS requests of STOW_BATCH instances (ingest_dicom_batch, what the
    STOW view calls). Bare reads and ingest alternate batch by batch (which goes first alternates
    too), so both see the same load on a shared machine. A second set with fresh SOP Instance UIDs
    goes one instance at a time (ingest_dicom_bytes, the C-STORE and single-upload path), also
    alternating with its bare read.
    """
    import pydicom

    from studies.parsing import parse_dicom
    from studies.services.ingest import Source, ingest_dicom_batch, ingest_dicom_bytes, limits, thresholds

    blobs, names = dicom_blobs(n)
    singles, _ = dicom_blobs(n // 3)
    source = Source(by=ctx["doctor"], organisation=ctx["doctor"].organisation, consultation=ctx["consultation"])

    def bare(batch):
        for blob in batch:
            pydicom.dcmread(io.BytesIO(blob))

    def ingest(batch):
        results = ingest_dicom_batch(datas=batch, source=source)
        assert all(getattr(r, "created", False) for r in results), results

    def one(blob):
        assert ingest_dicom_bytes(data=blob, source=source).created

    # Warm-up, untimed: a server's database and channel-layer connections are open already. Other
    # studies, so the timed run still creates its 10 studies and sends their events.
    warm, _ = dicom_blobs(20, new_studies=True)
    bare(warm)
    ingest(warm)
    bare_s = ingest_s = single_bare_s = single_s = 0.0
    for number, at in enumerate(range(0, n, STOW_BATCH)):
        batch = blobs[at:at + STOW_BATCH]
        first, second = (bare, ingest) if number % 2 == 0 else (ingest, bare)
        times = {first: _seconds(lambda: first(batch)), second: _seconds(lambda: second(batch))}
        bare_s, ingest_s = bare_s + times[bare], ingest_s + times[ingest]
    for blob in singles:
        single_bare_s += _seconds(lambda: bare([blob]))
        single_s += _seconds(lambda: one(blob))
    converted = n / _seconds(lambda: [pydicom.dcmread(io.BytesIO(b)).walk(lambda _ds, _elem: None) for b in blobs])
    parse_only = n / _seconds(lambda: [parse_dicom(b, limits=limits(), thresholds=thresholds()) for b in blobs])
    return {"instances": n, "files": names, "bytes_total": sum(map(len, blobs)), "stow_batch": STOW_BATCH,
            "ingest_instances_per_s": round(n / ingest_s, 1), "bare_pydicom_read_per_s": round(n / bare_s, 1),
            "ratio": round(bare_s / ingest_s, 3), "goal_ratio": 0.5,
            "one_by_one_instances": len(singles), "one_by_one_instances_per_s": round(len(singles) / single_s, 1),
            "one_by_one_bare_pydicom_read_per_s": round(len(singles) / single_bare_s, 1),
            "one_by_one_ratio": round(single_bare_s / single_s, 3),
            "pydicom_read_all_elements_converted_per_s": round(converted, 1),
            "safe_parse_only_per_s": round(parse_only, 1),
            "note": "pydicom.dcmread is lazy (values are decoded on access). The ingest checks every element in "
                    "one structural pass (formats.dicom_header; the full converting read where that pass steps "
                    "aside) and keeps the original bytes; each batch costs a few queries and one transaction, "
                    "each file an fsync, run in parallel while the next instances parse. one_by_one: one "
                    "instance per transaction, its file and folder fsynced before it commits",
            "ingest_path": "parse (single pass + index) + preamble zeroed + sha256 + file written and fsynced "
                           "(file and folder) + de-duplication, Study/Series get-or-create and Instance rows in "
                           "one transaction per STOW batch, committed after the files are durable"}


def bench_stow_http(port: int, ctx, n: int = 300) -> dict:
    """The same ingest as a client sends it: STOW-RS requests of STOW_BATCH instances, multipart/related,
    token auth, through Daphne (the view parses the body and calls ingest_dicom_batch). Alternates batch
    by batch with the bare pydicom read of the same instances, like bench_dicom_ingest's direct call."""
    import pydicom
    import requests

    from studies.dicomweb.multipart import build_related

    blobs, names = dicom_blobs(n, new_series=True)  # studies of their own: not the direct call's
    session = requests.Session()
    session.headers.update({"Authorization": f"Token {ctx['token']}", "Accept": "application/dicom+json"})
    url = f"http://127.0.0.1:{port}/dicomweb/studies"

    def bare(batch):
        for blob in batch:
            pydicom.dcmread(io.BytesIO(blob))

    def stow(batch):
        body, content_type = build_related([("application/dicom", blob) for blob in batch], "application/dicom")
        response = session.post(url, data=body, headers={"Content-Type": content_type}, timeout=120)
        assert response.status_code == 200, (response.status_code, response.text[:500])
        assert len(response.json()["00081199"]["Value"]) == len(batch)

    stow(dicom_blobs(20, new_series=True)[0])  # warm-up, untimed (Daphne's first request, connections)
    bare_s, stow_s, requests_s = 0.0, 0.0, []
    for number, at in enumerate(range(0, n, STOW_BATCH)):
        batch = blobs[at:at + STOW_BATCH]
        first, second = (bare, stow) if number % 2 == 0 else (stow, bare)
        times = {first: _seconds(lambda: first(batch)), second: _seconds(lambda: second(batch))}
        bare_s, stow_s = bare_s + times[bare], stow_s + times[stow]
        requests_s.append(times[stow])
    return {"instances": n, "files": names, "bytes_total": sum(map(len, blobs)), "stow_batch": STOW_BATCH,
            "ingest_instances_per_s": round(n / stow_s, 1), "bare_pydicom_read_per_s": round(n / bare_s, 1),
            "ratio": round(bare_s / stow_s, 3), "goal_ratio": 0.5,
            "request_p50_ms": round(statistics.median(requests_s) * 1000, 1),
            "request_max_ms": round(max(requests_s) * 1000, 1),
            "path": "client -> HTTP POST /dicomweb/studies (multipart/related, token auth) -> Daphne -> DRF view: "
                    "body read, parts split, ingest_dicom_batch (as the direct row), DICOM JSON reply"}


PARALLEL_BATCH, PARALLEL_CLIENTS = 10, 4  # a DICOMweb client's usual shape (issue 14)


def bench_stow_http_parallel(port: int, ctx, n: int = 400, server_pids: list[int] | None = None) -> dict:
    """STOW-RS as DICOMweb clients usually send: requests of PARALLEL_BATCH instances, PARALLEL_CLIENTS
    at once, over HTTP to Daphne. Against a bare pydicom read of the same bytes, one loop in this process
    (one thread: pydicom.dcmread of each instance's bytes, lazy as pydicom reads), timed just before and
    just after the STOW requests (the mean of both), in the same run. server_pids: the serving processes
    (Daphne), whose CPU time per instance stored is reported beside (less sensitive to the machine's load
    than the rate)."""
    from concurrent.futures import ThreadPoolExecutor

    import pydicom
    import requests

    from studies.dicomweb.multipart import build_related

    blobs, names = dicom_blobs(n, new_series=True)
    url = f"http://127.0.0.1:{port}/dicomweb/studies"
    sessions = [requests.Session() for _ in range(PARALLEL_CLIENTS)]
    for session in sessions:
        session.headers.update({"Authorization": f"Token {ctx['token']}", "Accept": "application/dicom+json"})

    def bare():
        for blob in blobs:
            pydicom.dcmread(io.BytesIO(blob))

    def stow(args):
        client, batch = args
        body, content_type = build_related([("application/dicom", blob) for blob in batch], "application/dicom")
        started = time.perf_counter()
        response = sessions[client].post(url, data=body, headers={"Content-Type": content_type}, timeout=300)
        assert response.status_code == 200, (response.status_code, response.text[:500])
        return time.perf_counter() - started

    stow((0, dicom_blobs(10, new_series=True)[0]))  # warm-up, untimed
    batches = [(i % PARALLEL_CLIENTS, blobs[at:at + PARALLEL_BATCH]) for i, at in enumerate(range(0, n, PARALLEL_BATCH))]
    bare_before = _seconds(bare)
    cpu_before = sum(map(_cpu_seconds, server_pids or []))
    started = time.perf_counter()
    with ThreadPoolExecutor(PARALLEL_CLIENTS) as pool:
        request_s = list(pool.map(stow, batches))
    stow_s = time.perf_counter() - started
    server_cpu = sum(map(_cpu_seconds, server_pids or [])) - cpu_before
    bare_s = (bare_before + _seconds(bare)) / 2
    return {"instances": n, "files": names, "batch": PARALLEL_BATCH, "clients": PARALLEL_CLIENTS,
            "ingest_instances_per_s": round(n / stow_s, 1), "bare_pydicom_read_per_s": round(n / bare_s, 1),
            "ratio": round(bare_s / stow_s, 3), "goal_ratio": 0.5,
            "bare_baseline": "one loop, one thread: pydicom.dcmread(BytesIO(bytes)) of each of the same instances",
            "bare_pydicom_read_2_processes_per_s": round(_bare_read_in_processes(blobs, os.cpu_count() or 1), 1),
            "request_p50_ms": round(statistics.median(request_s) * 1000, 1),
            "request_max_ms": round(max(request_s) * 1000, 1),
            **({"server_processes": len(server_pids), "server_cpu_ms_per_instance": round(server_cpu * 1000 / n, 2)}
               if server_pids else {}),
            "daphne_db_pool": os.environ.get("DB_POOL", "true"),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


_BLOBS: list[bytes] = []


def _bare_read_range(bounds: tuple[int, int]) -> int:
    import pydicom

    for blob in _BLOBS[bounds[0]:bounds[1]]:
        pydicom.dcmread(io.BytesIO(blob))
    return bounds[1] - bounds[0]


def _bare_read_in_processes(blobs: list[bytes], processes: int) -> float:
    """For reference beside the ratio (not its baseline): the same bare read split over one process per CPU
    (forked with the bytes, warmed up; only the reads timed), as several serving processes could use them."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _BLOBS[:] = blobs
    step = -(-len(blobs) // processes)
    ranges = [(at, min(at + step, len(blobs))) for at in range(0, len(blobs), step)]
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
        list(pool.map(_bare_read_range, [(0, 1)] * processes * 4))  # workers started and pydicom imported
        started = time.perf_counter()
        done = sum(pool.map(_bare_read_range, ranges))
        return done / (time.perf_counter() - started)


def _cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_stow_scaled(ctx, logdir: Path) -> dict:
    """bench_stow_http_parallel against the scaled stack (scripts/scaled.sh: two Daphne processes with their
    connection pools behind nginx) on this bench's database; no Celery workers or relay workers (STOW
    queues no task): only what serves the requests."""
    run_dir = logdir / "scaled"
    logdir.chmod(0o755)  # nginx's worker (not root) keeps request bodies under it
    nginx_port, daphne_ports = free_port(), [free_port(), free_port()]
    stack = subprocess.Popen(["bash", "scripts/scaled.sh"], cwd=ROOT, stdout=open(logdir / "scaled.log", "w"),
                             stderr=subprocess.STDOUT, env=dict(
                                 os.environ, PORT=str(nginx_port), DAPHNE_PORTS=" ".join(map(str, daphne_ports)),
                                 CELERY_WORKERS="0", RELAY_WORKERS="0", SCALED_DIR=str(run_dir)))
    try:
        deadline = time.monotonic() + 120
        while "is running" not in (logdir / "scaled.log").read_text():
            if stack.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"scaled stack did not start: {(logdir / 'scaled.log').read_text()[-2000:]}")
            time.sleep(0.5)
        pids = [int(line.split()[0]) for line in (run_dir / "pids").read_text().splitlines() if "daphne" in line]
        out = bench_stow_http_parallel(nginx_port, ctx, server_pids=pids)
        out["stack"] = "scripts/scaled.sh: nginx -> 2 Daphne (DB_POOL: daphne_db_pool), CELERY_WORKERS=0, RELAY_WORKERS=0"
        return out
    finally:
        stack.terminate()
        stack.wait(timeout=60)


def bench_c_store(ctx, n: int = 300, rounds: int = 3) -> dict:
    """n instances sent by C-STORE over loopback on one association, TCP_NODELAY on both ends (DCMTK's through
    its TCP_NODELAY variable), to our receiver (group commit: studies/services/cstore.py) from DCMTK's storescu,
    in `rounds` rounds each beside, in the same round, DCMTK storescu -> storescp (files written, not fsynced)
    and storescu -> a bare pynetdicom receiver that stores nothing (pynetdicom's defaults); then once from
    pynetdicom's sender (in this process) to ours, ours with batches of one (a transaction per instance, as
    before), and the bare receiver. Each row sends fresh SOP Instance UIDs, so ours really stores."""
    import statistics

    from studies import dicom_scp
    from studies.models import Instance

    village = ctx["doctor"].organisation
    village.dicom_ae_title, village.dicom_peers = "BENCH_CT", "127.0.0.1"
    village.save(update_fields=["dicom_ae_title", "dicom_peers"])
    out = {"instances": n, "tcp_nodelay": "both ends",
           "files": "a CT series: CT_small.dcm (128x128, Explicit VR LE) with fresh UIDs per row"}
    port = free_port()
    server = dicom_scp.start(host="127.0.0.1", port=port, block=False)
    bare_port, bare = _bare_server()
    rows: dict[str, list] = {"ours_from_storescu": [], "bare_pynetdicom_receiver_from_storescu": [],
                             "baseline_storescu_to_storescp": []}
    try:
        for _ in range(rounds):
            before = Instance.objects.count()
            sent = _send_storescu(port, _ct_blobs(n))
            sent["stored"] = Instance.objects.count() - before
            rows["ours_from_storescu"].append(sent)
            rows["bare_pynetdicom_receiver_from_storescu"].append(_send_storescu(bare_port, _ct_blobs(n)))
            rows["baseline_storescu_to_storescp"].append(_storescp_baseline(_ct_blobs(n)))
        for name, runs in rows.items():
            rates = [run["instances_per_s"] for run in runs]
            out[name] = {"median_instances_per_s": statistics.median(rates), "instances_per_s": rates,
                         "runs": runs}
        before = Instance.objects.count()
        out["ours_from_pynetdicom"] = _send_pynetdicom(port, _ct_blobs(n))
        out["ours_from_pynetdicom"]["stored"] = Instance.objects.count() - before
        from studies.services import cstore

        batch_max, cstore.BATCH_MAX = cstore.BATCH_MAX, 1
        try:
            out["ours_from_pynetdicom_one_per_transaction"] = _send_pynetdicom(port, _ct_blobs(n))
        finally:
            cstore.BATCH_MAX = batch_max
        out["bare_pynetdicom_receiver"] = _send_pynetdicom(bare_port, _ct_blobs(n))
    finally:
        server.shutdown()
        bare.shutdown()
    ours = out["ours_from_storescu"]["median_instances_per_s"]
    out["ratio_to_storescp"] = round(ours / out["baseline_storescu_to_storescp"]["median_instances_per_s"], 3)
    out["ratio_to_bare_pynetdicom"] = round(
        ours / out["bare_pynetdicom_receiver_from_storescu"]["median_instances_per_s"], 3)
    out["goal_instances_per_s"] = 200
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return out


# DCMTK (Debian's build) leaves Nagle's algorithm on unless TCP_NODELAY=1 is in its environment: without it
# storescu -> storescp ran at 11 instances/s here (one delayed ACK per instance), with it at 170/s.
DCMTK_ENV = dict(os.environ, TCP_NODELAY="1")


def _ct_blobs(n: int) -> list[bytes]:
    """n slices of one new CT series (CT_small.dcm's pixels, fresh UIDs) for the seeded patient."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.PatientID = generate_uid(), generate_uid(), "B-0001"
    blobs = []
    for i in range(n):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = i + 1
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
        blobs.append(out.getvalue())
    return blobs


def _send_pynetdicom(port: int, blobs: list[bytes]) -> dict:
    import pydicom
    from pynetdicom import AE, evt

    from studies import dicom_scp

    datasets = [pydicom.dcmread(io.BytesIO(b)) for b in blobs]
    ae = AE(ae_title="BENCH_CT")
    for pair in sorted({(str(d.SOPClassUID), str(d.file_meta.TransferSyntaxUID)) for d in datasets}):
        ae.add_requested_context(*pair)
    assoc = ae.associate("127.0.0.1", port, ae_title="TELECLINIC",
                         evt_handlers=[(evt.EVT_CONN_OPEN, dicom_scp.set_nodelay)])
    started = time.perf_counter()
    statuses = [assoc.send_c_store(d).Status for d in datasets]
    assoc.release()  # our receiver answers the release once the last batch is indexed: counted in
    elapsed = time.perf_counter() - started
    return {"succeeded": statuses.count(0), "instances_per_s": round(len(blobs) / elapsed, 1)}


def _write_files(blobs: list[bytes]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="tc-bench-cstore-"))
    for i, blob in enumerate(blobs):
        (folder / f"{i:05d}.dcm").write_bytes(blob)
    return folder


def _send_storescu(port: int, blobs: list[bytes]) -> dict:
    """DCMTK storescu, one association, the files' own syntaxes (-R); the process's start is counted in."""
    folder = _write_files(blobs)
    started = time.perf_counter()
    done = subprocess.run(["storescu", "-R", "-nh", "-aet", "BENCH_CT", "-aec", "TELECLINIC", "+sd", "127.0.0.1",
                           str(port), str(folder)], capture_output=True, text=True, timeout=600, env=DCMTK_ENV)
    elapsed = time.perf_counter() - started
    return {"exit": done.returncode, "instances_per_s": round(len(blobs) / elapsed, 1)}


def _storescp_baseline(blobs: list[bytes]) -> dict:
    port = free_port()
    target = Path(tempfile.mkdtemp(prefix="tc-bench-storescp-"))
    scp = subprocess.Popen(["storescp", "-aet", "TELECLINIC", "+xa", "-od", str(target), str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=DCMTK_ENV)
    try:
        _wait_port(port)
        sent = _send_storescu(port, blobs)
    finally:
        scp.terminate()
        scp.wait(timeout=20)
    sent["stored_files"] = len(list(target.iterdir()))
    return sent


def _bare_server():
    """A pynetdicom receiver with pynetdicom's defaults that answers every C-STORE "success" and stores nothing."""
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt

    from studies import dicom_scp

    ae = AE(ae_title="TELECLINIC")
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.maximum_pdu_size = 0
    port = free_port()
    return port, ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[
        (evt.EVT_C_STORE, lambda event: 0), (evt.EVT_CONN_OPEN, dicom_scp.set_nodelay)])


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def bench_ecg_measure(repeats: int = 10) -> dict:
    from pydicom.data import get_testdata_file

    from studies.parsing import parse_upload
    from studies.services.ingest import limits, thresholds

    data = Path(get_testdata_file("waveform_ecg.dcm")).read_bytes()
    parse_upload(data, kind="ecg", limits=limits(), thresholds=thresholds())  # imports neurokit2
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        parse_upload(data, kind="ecg", limits=limits(), thresholds=thresholds())
        times.append(time.perf_counter() - started)
    return {"record": "pydicom waveform_ecg.dcm (12 leads, 10 s)", "repeats": repeats,
            "median_ms": round(statistics.median(times) * 1000, 1), "min_ms": round(min(times) * 1000, 1)}


def main() -> dict:
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    ctx = seed()
    logdir = Path(tempfile.mkdtemp(prefix="tc-bench-logs-"))
    from teleclinic.celery import app

    app.control.purge()
    result = {"bench": "studies_bench", "cpus": os.cpu_count(),
              "load_average_before": [round(x, 2) for x in os.getloadavg()]}
    if "--stow-scaled" in sys.argv or "--c-store-only" in sys.argv:  # neither needs this bench's own Daphne
        try:
            if "--stow-scaled" in sys.argv:
                log("DICOM STOW-RS, batches of 10 from 4 clients, to the scaled stack ...")
                result["dicom_stow_http_parallel_scaled"] = bench_stow_scaled(ctx, logdir)
            else:
                log("C-STORE ...")
                result["dicom_c_store"] = bench_c_store(ctx)
            return result
        finally:
            connections.close_all()
            recreate_database(drop_only=True)
    port, procs = start_services(logdir)
    try:
        if "--stow-parallel-only" in sys.argv:
            log("DICOM STOW-RS, batches of 10 from 4 clients ...")
            result["dicom_stow_http_parallel"] = bench_stow_http_parallel(port, ctx, server_pids=[procs[0].pid])
            return result
        log("dropping link ...")
        result["upload_dropping_link"] = bench_dropping_link(port, ctx)
        log("ECG latency ...")
        result["ecg_upload_to_expert_ws"] = bench_ecg_latency(port, ctx)
        log("DICOM ingest ...")
        result["dicom_ingest"] = bench_dicom_ingest(ctx)
        log("DICOM STOW-RS over HTTP ...")
        result["dicom_stow_http"] = bench_stow_http(port, ctx)
        log("DICOM STOW-RS, batches of 10 from 4 clients ...")
        result["dicom_stow_http_parallel"] = bench_stow_http_parallel(port, ctx, server_pids=[procs[0].pid])
        log("C-STORE ...")
        result["dicom_c_store"] = bench_c_store(ctx)
        log("ECG measure ...")
        result["ecg_parse_measure"] = bench_ecg_measure()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        connections.close_all()
        recreate_database(drop_only=True)
    return result


if __name__ == "__main__":
    started = time.monotonic()
    out = main()
    out["runtime_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(out))
