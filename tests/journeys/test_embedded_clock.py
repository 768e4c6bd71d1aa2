"""Issue 12, fault 1: the embedded default (`make run`) runs every periodic task the scaled stack's beat runs.

Without the fix the in-process beat raised NotRegistered for every entry (Celery imports the apps'
tasks modules lazily), so offers never lapsed, reserved slots were never released, critical reports
were never escalated and booked rooms never opened by themselves.
"""
import re
import time

import pytest

from directory.demo import EXPERTS
from teleclinic.celery import beat_schedule
from tests.e2e.conftest import wait_for_js
from tests.journeys.conftest import login, request_async_cardiology
from tests.journeys.demo import Demo

SLOW_MS = 90_000  # a loaded 2-core machine
# Every offer that ever showed on a workstation page (its consultation ids), kept by the page itself: an offer
# lives seconds here, and the test must know it was seen even when it has gone again by the time it looks.
SEEN_OFFERS_JS = """() => {
  window.__seenOffers = new Set();
  const note = () => document.querySelectorAll('#offers li.offer').forEach(
    (li) => window.__seenOffers.add(li.dataset.consultation));
  new MutationObserver(note).observe(document.querySelector('#offers'), { childList: true, subtree: true });
  note();
}"""


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


@pytest.mark.browser
def test_in_chromium_an_unanswered_offer_leaves_the_first_experts_page_for_the_next_ones(fast_clock_demo, chromium):
    # given every on-call cardiologist's workstation open and live, and the village doctor's console
    cardiologists = [login_name for login_name, _, _, specialties in EXPERTS if "cardiology" in specialties]
    contexts, pages = [], {}
    try:
        def open_page(username: str):  # "/" is the workstation of an expert, the console of a village doctor
            context = chromium.new_context(base_url=fast_clock_demo.url, locale="zh-CN", timezone_id="Asia/Shanghai")
            context.set_default_timeout(SLOW_MS)
            contexts.append(context)
            page = context.new_page()
            page.errors = []
            page.on("pageerror", lambda error: page.errors.append(str(error)))
            login(page, username)
            page.wait_for_selector("#socket-state[data-state=open]")
            return page

        for username in cardiologists:
            pages[username] = open_page(username)
            pages[username].evaluate(SEEN_OFFERS_JS)
        village = open_page("vdoc03")
        patient = fast_clock_demo.api("vdoc03").get("/api/patients/").json()["results"][0]
        consultation_id = request_async_cardiology(village, patient["name"], "心悸三天")

        # when the case is offered to an on-duty cardiologist (as a study's arrival does) and nobody answers
        doctor, coordinator = fast_clock_demo.api("vdoc03"), fast_clock_demo.api("coord")
        first = doctor.post(f"/api/scheduling/consultations/{consultation_id}/assignment/", json={})
        assert first.status_code == 201, first.text
        first = first.json()
        experts = coordinator.get("/api/scheduling/experts/?specialty=cardiology").json()
        name_of = {e["id"]: e["name"] for e in experts}
        login_of = {e_id: next(u for u, full_name, *_ in EXPERTS if full_name in name) for e_id, name in name_of.items()}
        first_page = pages[login_of[first["expert"]]]
        offer = f"#offers li.offer[data-consultation='{consultation_id}']"
        # the offer showed on the first expert's workstation (live: that page was opened before it was made)
        wait_for_js(first_page, f"window.__seenOffers.has('{consultation_id}')", timeout_ms=SLOW_MS)
        # and the village console says the case is being offered
        village.wait_for_selector(f"#consultations tr[data-id='{consultation_id}'][data-state=offered]", timeout=SLOW_MS)
        row_text = village.inner_text(f"#consultations tr[data-id='{consultation_id}']")
        assert "正在邀请专家" in row_text or "等待专家接诊" in row_text, row_text

        # then it leaves the first expert's page without a reload, and shows on another cardiologist's
        first_page.evaluate("window.__lapseMark = 'kept'")
        first_page.wait_for_selector(offer, state="detached", timeout=SLOW_MS)
        assert first_page.evaluate("window.__lapseMark") == "kept", "the workstation was reloaded"
        deadline = time.monotonic() + SLOW_MS / 1000
        offers = []
        while time.monotonic() < deadline:
            offers = [a for a in coordinator.get("/api/scheduling/assignments/?limit=500").json()["results"]
                      if a["consultation"] == consultation_id and a["id"] != first["id"]]
            if offers:
                break
            time.sleep(0.5)
        assert offers, f"consultation {consultation_id} was not offered again"
        second = min(offers, key=lambda a: a["id"])
        assert second["expert"] != first["expert"], offers
        wait_for_js(pages[login_of[second["expert"]]], f"window.__seenOffers.has('{consultation_id}')",
                    timeout_ms=SLOW_MS)
        errors = [f"{name}: {e}" for name, page in [*pages.items(), ("vdoc03", village)] for e in page.errors]
        assert not errors, "uncaught errors in the pages:\n" + "\n".join(errors)
    finally:
        for context in contexts:
            context.close()
