"""Benchmark of journey 1's machine time (issue 12); prints one JSON object.

From the first byte of a 12-lead ECG upload (tus, pydicom's waveform_ecg.dcm with fresh UIDs) to the
signed PDF, with its trace, fetched by the village clinic from its pending reports; the people's steps
in between (the offered expert accepts, starts the report, fills it in, signs) are API calls made at
once. p50/p95 over BENCH_JOURNEYS runs (20), one at a time, on:

1. the embedded default, started exactly as `make run` does (`manage.py rundemo`: SQLite, in-memory
   layer, eager in-process jobs);
2. the scaled stack: the same `rundemo` on PostgreSQL (its own database tc_bench_journey, created and
   dropped) and Redis (REDIS_URL, a private queue and channel prefix), with a real Celery worker
   (prefork, 2 processes) doing ingest, rendering and delivery.

Goal (issue 12): p95 under 2 s on both. Every run's PDF is checked to carry the trace (pdftotext
has no "could not be attached"); runs that fail the check are counted, not timed.
"""
import base64
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.journeys.demo import Demo  # noqa: E402

RUNS = int(os.environ.get("BENCH_JOURNEYS", "20"))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "tc_bench_journey"
REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
GOAL_P95_S = 2.0
POLL_S = 0.02
STEP_TIMEOUT_S = 120
EXPERT_LOGINS = [f"expert{n:02d}" for n in range(1, 9)]  # directory/demo.py
FILL = {"rhythm": "窦性心律", "findings": "各导联未见明显 ST-T 改变", "conclusion": "正常心电图",
        "recommendation": "定期随访", "critical": False}


def ecg_bytes() -> bytes:
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def wait_until(what: str, probe):
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(POLL_S)
    raise TimeoutError(what)


class Journey:
    def __init__(self, demo: Demo):
        self.demo = demo
        self.doctor, self.coordinator = demo.api("vdoc01"), demo.api("coord")
        self.experts = {username: demo.api(username) for username in EXPERT_LOGINS}
        display = {username: api.get("/api/me/").json()["display_name"] for username, api in self.experts.items()}
        names = {e["id"]: e["name"] for e in self.coordinator.get("/api/scheduling/experts/?specialty=cardiology").json()}
        self.username_of = {pk: next(u for u, shown in display.items() if shown and shown in name)
                            for pk, name in names.items()}
        self.patient = self.doctor.get("/api/patients/").json()["results"][0]

    def run(self) -> tuple[float, bytes]:
        """One journey; returns (seconds from the upload's first request to the PDF fetched, the PDF)."""
        consultation = self.doctor.post("/api/consultations/", json={
            "patient": self.patient["id"], "specialty": "cardiology", "mode": "async", "reason": "bench"}).json()
        data = ecg_bytes()
        meta = {"filename": "ecg.dcm", "kind": "ecg", "consultation": str(consultation["id"]),
                "patient": str(self.patient["id"])}
        started = time.perf_counter()
        created = self.doctor.post("/api/uploads/", headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)),
            "Upload-Metadata": ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())})
        location = created.headers["Location"]
        patched = self.doctor.patch(location, data=data, headers={
            "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        assert patched.status_code == 204, patched.text
        upload = wait_until("ingest", lambda: (lambda u: u if u["state"] in ("ingested", "failed") else None)(
            self.doctor.get(location).json()))
        assert upload["state"] == "ingested", upload
        offer = wait_until("offer", lambda: next((a for a in self.coordinator.get(
            "/api/scheduling/assignments/?status=offered&limit=500").json()["results"]
            if a["consultation"] == consultation["id"]), None))
        expert = self.experts[self.username_of[offer["expert"]]]
        assert expert.post(f"/api/scheduling/assignments/{offer['id']}/accept/", json={}).status_code == 200
        report = expert.post(f"/api/consultations/{consultation['id']}/reports/", json={
            "kind": "ecg", "study_ref": f"ecg:{upload['result']['id']}", "measurements": {}}).json()
        assert expert.put(f"/api/reports/{report['id']}/draft/", json={"content": FILL}).status_code == 200
        assert expert.post(f"/api/reports/{report['id']}/sign/").status_code == 201
        delivery = wait_until("delivery", lambda: next((d for d in self.doctor.get(
            "/api/reports/deliveries/pending/?limit=500").json()["results"]
            if d["consultation"] == consultation["id"] and d.get("pdf")), None))
        pdf = self.doctor.get(delivery["pdf"])
        elapsed = time.perf_counter() - started
        assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
        self.doctor.post(f"/api/reports/deliveries/{delivery['id']}/acknowledge/", json={})
        return elapsed, pdf.content


def _has_trace(pdf: bytes) -> bool:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        text = subprocess.run(["pdftotext", f.name, "-"], capture_output=True, text=True, check=True).stdout
    return "could not be attached" not in text


def _measure(demo: Demo) -> dict:
    journey = Journey(demo)
    journey.run()  # warm-up: first imports, first PDF font registration
    times, no_trace = [], 0
    for _ in range(RUNS):
        seconds, pdf = journey.run()
        if _has_trace(pdf):
            times.append(seconds)
        else:
            no_trace += 1
    ordered = sorted(times)
    pick = (lambda q: round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 3)) if ordered \
        else (lambda q: None)
    return {"runs": RUNS, "timed": len(times), "pdf_without_trace": no_trace, "p50_s": pick(0.5), "p95_s": pick(0.95),
            "mean_s": round(statistics.fmean(times), 3) if times else None, "max_s": pick(1.0)}


def _admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def embedded() -> dict:
    with tempfile.TemporaryDirectory() as var:
        demo = Demo(Path(var))
        try:
            return _measure(demo)
        except Exception:
            print(demo.log()[-20000:], file=sys.stderr)  # the server's side of the failure
            raise
        finally:
            demo.stop()


def scaled() -> dict:
    _admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    _admin_sql(f"CREATE DATABASE {DB_NAME}")
    with tempfile.TemporaryDirectory() as var:
        env = {"DATABASE_URL": f"{PG}/{DB_NAME}", "REDIS_URL": REDIS, "CELERY_QUEUE": "bench-journey",
               "CHANNEL_PREFIX": "bench-journey", "LOG_LEVEL": "WARNING"}
        worker_log = Path(var) / "worker.log"
        demo = Demo(Path(var), env=env)  # migrates and seeds the database before the worker starts
        with open(worker_log, "w") as out:
            worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "teleclinic", "worker", "-l", "info",
                                       "-c", "2", "--without-gossip", "--without-mingle", "-n", f"bench-journey-{os.getpid()}@%h"],
                                      cwd=ROOT, env={**{k: v for k, v in os.environ.items()
                                                       if k not in ("DJANGO_SETTINGS_MODULE",)}, **env,
                                                     "TELECLINIC_VAR_DIR": var},
                                      stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until("worker", lambda: "ready." in worker_log.read_text())
            return _measure(demo)
        except Exception:
            print(demo.log()[-10000:], worker_log.read_text()[-10000:], file=sys.stderr)
            raise
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            demo.stop()
            _admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def main() -> None:
    figures = {"embedded": embedded()}
    print(json.dumps(figures), file=sys.stderr, flush=True)  # kept if the second configuration fails
    figures["postgres_redis_celery"] = scaled()
    print(json.dumps({
        "bench": "journey_bench",
        "figure": "12-lead ECG upload -> signed PDF with its trace fetched by the village clinic (s), API steps at once",
        **figures,
        "baseline": {"goal_p95_s": GOAL_P95_S, "source": "issue 12"},
        "meets_goal": {name: f["p95_s"] is not None and f["p95_s"] < GOAL_P95_S for name, f in figures.items()},
        "note": "one machine, 2 cores shared with other work while measured: figures are noisy",
    }, indent=2))


if __name__ == "__main__":
    main()
