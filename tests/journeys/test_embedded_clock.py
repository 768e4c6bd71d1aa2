"""Issue 12, fault 1: the embedded default (`make run`) runs every periodic task the scaled stack's beat runs.

Without the fix the in-process beat raised NotRegistered for every entry (Celery imports the apps'
tasks modules lazily), so offers never lapsed, reserved slots were never released, critical reports
were never escalated and booked rooms never opened by themselves.
"""
import re
import time

import pytest

from teleclinic.celery import beat_schedule
from tests.journeys.demo import Demo


@pytest.fixture(scope="module")
def fast_clock_demo(tmp_path_factory):
    # every beat interval x0.01 (the hourly roster generation every 36 s); a routine offer lapses in 4 s
    running = Demo(tmp_path_factory.mktemp("rundemo-clock"),
                   env={"BEAT_INTERVAL_SCALE": "0.01", "SCHEDULING_OFFER_ROUTINE_SECONDS": "4"})
    yield running
    running.stop()


def test_rundemo_runs_every_periodic_task_of_the_beat_schedule(fast_clock_demo):
    # given `manage.py rundemo` on the embedded default
    tasks = sorted({entry["task"] for entry in beat_schedule().values()})
    assert len(tasks) >= 9
    # then each periodic task runs, and none fails
    deadline = time.monotonic() + 120
    for task in tasks:
        fast_clock_demo.wait_for_log(f"periodic task {task} ran", timeout_s=max(5.0, deadline - time.monotonic()))
    log = fast_clock_demo.log()
    assert "NotRegistered" not in log
    assert not re.findall(r"periodic task \S+ failed", log), log[-4000:]


def test_an_unanswered_offer_lapses_to_the_next_on_duty_expert(fast_clock_demo):
    # given a routine async cardiology consultation of a demo patient, offered to an on-call cardiologist
    doctor, coordinator = fast_clock_demo.api("vdoc01"), fast_clock_demo.api("coord")
    patient = doctor.get("/api/patients/").json()["results"][0]
    consultation = doctor.post("/api/consultations/", json={
        "patient": patient["id"], "specialty": "cardiology", "mode": "async", "urgency": "routine",
        "reason": "胸闷一周"}).json()
    first = doctor.post(f"/api/scheduling/consultations/{consultation['id']}/assignment/", json={})
    assert first.status_code == 201, first.text
    first = first.json()
    # when nobody answers within the offer's 4 s
    deadline, offers = time.monotonic() + 60, []
    while time.monotonic() < deadline:
        offers = [a for a in coordinator.get("/api/scheduling/assignments/?limit=500").json()["results"]
                  if a["consultation"] == consultation["id"]]
        if any(a["status"] == "offered" and a["id"] != first["id"] for a in offers):
            break
        time.sleep(0.5)
    # then beat's sweep (the only timer on the embedded default) expires it and offers the case to another expert
    by_id = {a["id"]: a for a in offers}
    assert by_id[first["id"]]["status"] == "expired", offers
    again = [a for a in offers if a["id"] != first["id"] and a["status"] == "offered"]
    assert again and again[0]["expert"] != first["expert"], offers
