"""The shared live ECG panel in a real browser: the village doctor replays the consultation's uploaded
ECG; the expert's page and the patient's phone draw the trace as it arrives (canvas pixels change and
the sample counter grows), and everyone sees where its samples are kept once it stops."""
import time

import numpy as np
import pytest
from django.db import transaction

from consult.models import Consultation
from live.models import EcgStream, Participant
from live.services import rooms, tokens
from studies.formats.ecg.model import Ecg
from studies.models import EcgRecord
from studies.selectors import ecg_signal
from studies.services.ingest import Source, ecg_measure, ecg_signal_store
from studies.services.storage import files_or_nothing
from tests.e2e.conftest import login, screenshot, wait_for_js
from tests.factories import PatientFactory
from tests.studies.ecgfiles import reference_ecg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The panel's canvas: how many dark (trace) pixels it holds and a digest of all of them.
CANVAS = """(selector) => {
  const canvas = document.querySelector(selector);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let dark = 0, digest = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] < 90 && data[i + 1] < 90 && data[i + 2] < 90) dark++;
    digest = (digest * 31 + data[i] + 7 * data[i + 1] + 13 * data[i + 2]) % 2147483647;
  }
  return { dark, digest, width: canvas.width };
}"""


NO_RELAY = "No media relay is running; try again in a moment."  # live/consumers.py, RelayUnavailable

def _samples(page, root: str) -> int:
    return int(page.get_attribute(root, "data-samples"))


def _wait_samples_above(page, root: str, value: int) -> int:
    wait_for_js(page, f"Number(document.querySelector('{root}').dataset.samples) > {value}", timeout_ms=20_000)
    return _samples(page, root)


@pytest.fixture
def room_with_an_uploaded_ecg(people, community, consultation_factory):
    doctor = people["village_doctor"]
    patient = PatientFactory(home_clinic=community.village_a1, name="赵春梅")
    consultation = consultation_factory(patient=patient, requested_by=doctor, mode=Consultation.Mode.LIVE,
                                        assigned_expert=people["expert"].expert, state=Consultation.State.ASSIGNED)
    once = reference_ecg()  # 10 s, 12 leads, 1000 Hz; three times over, the replay lasts 30 s
    ecg = Ecg(leads={k: np.tile(v, 3) for k, v in once.leads.items()}, sampling_rate=once.sampling_rate,
              source_format="csv")
    with files_or_nothing() as files, transaction.atomic():
        record = ecg_signal_store(parsed=ecg_measure(ecg), files=files, source=Source(
            by=doctor, organisation=doctor.organisation, consultation=consultation, patient=patient))
    room, _ = rooms.room_open(by=doctor, consultation_id=consultation.pk)
    return room, record


def test_everyone_in_the_room_sees_the_replayed_ecg_drawn_live(people, open_page, browser_devices,
                                                               room_with_an_uploaded_ecg):
    room, record = room_with_an_uploaded_ecg
    _, link_token = tokens.invite_create(by=people["village_doctor"], room_id=room.pk)
    # given the village doctor and the expert on the room page, and the patient admitted on their phone
    host = open_page("village-room")
    login(host, people["village_doctor"].username, next=f"/live/rooms/{room.pk}/")
    host.wait_for_selector("#conn-status.ok")
    expert = open_page("expert-room")
    login(expert, people["expert"].username, next=f"/live/rooms/{room.pk}/")
    expert.wait_for_selector("#conn-status.ok")
    phone = open_page("patient-phone", **browser_devices["Pixel 7"])
    phone.goto(f"/live/rooms/{room.pk}/join/#{link_token}")
    phone.click("#btn-check")
    phone.click("#btn-enter")
    admit = host.locator("#participants li.waiting button[data-action=admit]")
    admit.click()
    phone.wait_for_selector("#step-call", state="visible")
    for page in (host, expert):  # no relay runs here: the room pages say so (the ECG needs none), no console error
        page.wait_for_selector(f"#room-error:has-text('{NO_RELAY}')")
    panels = {"host": (host, "#ecg-panel"), "expert": (expert, "#ecg-panel"), "phone": (phone, "#ecg-panel")}
    blank = {who: page.evaluate(CANVAS, f"{root} canvas") for who, (page, root) in panels.items()
             if who != "phone"}
    assert all(figure["dark"] == 0 for figure in blank.values()), blank

    # when the village doctor chooses the consultation's ECG and replays it
    host.wait_for_selector(f"#ecg-study option[value='{record.pk}']", state="attached")
    host.select_option("#ecg-study", str(record.pk))
    host.click("#btn-ecg-replay")

    # then every panel draws a trace that keeps moving while the sample counter grows
    phone.wait_for_selector("#ecg-card", state="visible")
    first, second = {}, {}
    for who, (page, root) in panels.items():
        count = _wait_samples_above(page, root, 1000)
        first[who] = (count, page.evaluate(CANVAS, f"{root} canvas"))
    for who, (page, root) in panels.items():
        count = _wait_samples_above(page, root, first[who][0] + 1000)
        second[who] = (count, page.evaluate(CANVAS, f"{root} canvas"))
    for who in panels:
        (n1, canvas1), (n2, canvas2) = first[who], second[who]
        assert n2 > n1 and canvas1["dark"] > 50 and canvas2["dark"] > 50, (who, first[who], second[who])
        assert canvas1["digest"] != canvas2["digest"], f"{who}'s trace did not move"
    assert expert.get_attribute("#ecg-panel", "data-state") == "live"
    assert expert.input_value("#ecg-panel select.ecg-lead") == "II"
    screenshot(expert, "ecg-live-expert")
    screenshot(phone, "ecg-live-phone")

    # when the doctor stops the replay
    host.click("#btn-ecg-stop")
    # then every panel says where the samples are kept: the study it replayed
    for page, root in panels.values():
        page.wait_for_selector(f"{root}[data-state=saved][data-study='{record.pk}']")
    stopped_at = _samples(expert, "#ecg-panel")
    assert 0 < stopped_at < 30_000
    assert EcgStream.objects.get(room=room).stop_reason == "stopped"
    screenshot(host, "ecg-stopped")

    # (the pages close before the test database is emptied, so that no socket holds a room lock then)
    for page, _ in panels.values():
        page.goto("about:blank")
    deadline = time.monotonic() + 15
    while Participant.objects.filter(connected=True).exists() and time.monotonic() < deadline:
        time.sleep(0.2)


# The host page's device path (EcgSender), fed a synthetic 250 Hz signal as a device would: lead II a
# 1 Hz sine of 1 mV, lead I a cosine of 0.5 mV, 25 samples every 100 ms.
DEVICE = """async () => {
  const sender = window.liveRoom.ecgSender;
  window.__pushed = 0;
  await sender.start({ leads: ["I", "II"], samplingRate: 250 });
  window.__device = setInterval(() => {
    const I = [], II = [];
    for (let i = 0; i < 25; i++) {
      const t = (window.__pushed + i) / 250;
      I.push(Math.round(500 * Math.cos(2 * Math.PI * t)));
      II.push(Math.round(1000 * Math.sin(2 * Math.PI * t)));
    }
    sender.push({ I, II });
    window.__pushed += 25;
  }, 100);
}"""


def test_a_device_stream_from_the_host_page_survives_a_dropped_link_and_becomes_a_study(
        people, open_page, room_with_an_uploaded_ecg, celery_worker_process):
    room, uploaded = room_with_an_uploaded_ecg
    host = open_page("village-room")
    login(host, people["village_doctor"].username, next=f"/live/rooms/{room.pk}/")
    host.wait_for_selector("#conn-status.ok")
    expert = open_page("expert-room")
    login(expert, people["expert"].username, next=f"/live/rooms/{room.pk}/")
    expert.wait_for_selector("#conn-status.ok")
    for page in (host, expert):
        page.wait_for_selector(f"#room-error:has-text('{NO_RELAY}')")
    # given the village doctor's device streaming into the room
    host.evaluate(DEVICE)
    before_drop = _wait_samples_above(expert, "#ecg-panel", 500)
    assert _wait_samples_above(host, "#ecg-panel", 500) > 500  # the sender's page draws its own samples
    # when the doctor's link drops for a moment while the device keeps recording
    host.evaluate("window.liveRoom.client.drop()")
    host.wait_for_selector("#conn-status.warn")
    host.wait_for_selector("#conn-status.ok")
    # then the expert's trace carries on, and once stopped the study holds every sample recorded
    _wait_samples_above(expert, "#ecg-panel", before_drop + 750)
    pushed = host.evaluate("clearInterval(window.__device); window.liveRoom.ecgSender.stop(); window.__pushed")
    expert.wait_for_selector("#ecg-panel[data-state=saved]", timeout=60_000)
    study = int(expert.get_attribute("#ecg-panel", "data-study"))
    assert study != uploaded.pk and expert.get_attribute("#ecg-panel .ecg-state a", "href") == f"/read/{room.consultation_id}/"
    record = EcgRecord.objects.get(pk=study)
    assert record.consultation_id == room.consultation_id and record.n_samples == pushed
    signal = ecg_signal(record)
    t = np.arange(pushed) / 250
    assert np.array_equal(signal.leads["II"], np.round(1000 * np.sin(2 * np.pi * t)).astype(np.int32))
    assert np.array_equal(signal.leads["I"], np.round(500 * np.cos(2 * np.pi * t)).astype(np.int32))
    assert int(expert.get_attribute("#ecg-panel", "data-samples")) == pushed
    screenshot(expert, "device-saved")
    for page in (host, expert):
        page.goto("about:blank")
    deadline = time.monotonic() + 15
    while Participant.objects.filter(connected=True).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
