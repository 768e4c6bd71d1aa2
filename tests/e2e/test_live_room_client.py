"""The live room's page scripts (live/static/live) in a real browser, where journey 2 was flaky.

The cause: a patient admitted before their phone's room socket had joined (a quick doctor, a slow 4G
link) got a welcome saying "admitted", then the room's history, whose old "joined" set them back to
"waiting" until the "admitted" that followed: the phone published twice, the second offer while the
first waited for the relay's answer, and the first answer was applied to the second connection, which
never connected. The doctor and the expert saw no picture of the patient."""
import json
import re

import pytest

from tests.e2e.conftest import login, outside_the_browser_loop, screenshot
from tests.e2e.media import video_decoding

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _hold_join(page):
    """Route the page's room socket through the test: its first 'join' is held until release() is
    called; every frame the page sends is recorded."""
    sent, held = [], []

    def route(ws):
        server = ws.connect_to_server()

        def to_server(message):
            frame = json.loads(message)
            sent.append(frame)
            if frame.get("type") == "join" and not held:
                held.append((server, message))
                return
            server.send(message)

        ws.on_message(to_server)

    page.route_web_socket(re.compile(r".*/ws/rooms/\d+/.*"), route)

    def release():
        server, message = held[0]
        server.send(message)

    return sent, held, release


def test_patient_admitted_before_their_socket_joined_publishes_once_and_is_seen(
        relay_worker, people, cardiology, patient_factory, consultation_factory, open_page, browser_devices):
    from live.models import Participant
    from live.services.rooms import room_open

    # given the doctor's live room open, with a link for the patient
    doctor = people["village_doctor"]
    consultation = consultation_factory(
        patient=patient_factory(name="孙立新", home_clinic=doctor.organisation), requested_by=doctor,
        requesting_org=doctor.organisation, specialty=cardiology, mode="live", state="assigned",
        assigned_expert=people["expert"].expert)
    room, _ = outside_the_browser_loop(room_open, by=doctor, consultation_id=consultation.id)
    host = open_page("host")
    login(host, doctor.username, next=f"/live/rooms/{room.id}/")
    host.wait_for_selector("#conn-status.ok")
    host.click("#btn-invite")
    host.wait_for_selector("#invite-qr svg")
    link = host.input_value("#invite-url")

    # and the patient's phone, whose room socket is slow to join
    phone = open_page("patient-phone", **browser_devices["Pixel 7"])
    sent, held, release = _hold_join(phone)
    phone.goto(link)
    phone.click("#btn-check")
    phone.click("#btn-enter")
    phone.wait_for_selector("#step-wait", state="visible")
    for _ in range(300):  # the phone's socket is open and its 'join' held here (Playwright's callbacks run meanwhile)
        if held:
            break
        phone.wait_for_timeout(100)
    # when the doctor admits the patient before the phone's 'join' reached the server
    host.locator("#participants li.waiting button[data-action=admit]").click()
    patient = Participant.objects.get(room=room, role="patient")
    host.wait_for_selector(f"#participants li.admitted[data-participant='{patient.pk}']")
    assert held and not [f for f in sent if f["type"] == "publish"]
    release()

    # then the phone enters the call, and the doctor sees its camera
    phone.wait_for_selector("#step-call", state="visible")
    video_decoding(host, f'#tiles figure.tile[data-participant="{patient.pk}"] video')
    host_id = Participant.objects.get(room=room, role="host").pk
    video_decoding(phone, f'#remote video[data-participant="{host_id}"]')
    # and the phone published exactly once
    assert [f["type"] for f in sent].count("publish") == 1, [f["type"] for f in sent]
    assert phone.is_hidden("#message")
    screenshot(phone, "call")
    screenshot(host, "call-host")


# A MediaSession with a stand-in room client, the relay's side played by peer connections in the page.
PUBLISH_TWICE_JS = """async () => {
  const { MediaSession } = await import('/static/live/media.js');
  const client = new EventTarget();
  client.sent = [];
  client.send = (message) => { client.sent.push(message); return true; };
  const session = new MediaSession(client);
  session.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  const publishes = () => client.sent.filter((m) => m.type === 'publish');
  const until = async (check) => { for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 25)); };
  const answerTo = async (offer) => {
    const relay = new RTCPeerConnection();
    await relay.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    await relay.setLocalDescription(await relay.createAnswer());
    return relay.localDescription.sdp;
  };
  const answer = (id, sdp) => client.dispatchEvent(new CustomEvent('publish_answer', { detail: { type: 'publish_answer', id, sdp } }));

  const done = session.publish();
  session.publish();                      // again, while the first offer waits for its answer
  await until(() => publishes().length >= 1);
  await new Promise((r) => setTimeout(r, 500));
  const offersWhileTheFirstWaits = publishes().length;
  const first = publishes()[0];
  const firstAnswer = await answerTo(first);
  answer(first.id, firstAnswer);
  await until(() => publishes().length >= 2);
  const second = publishes()[1];
  answer(first.id, firstAnswer);          // a late copy of the first answer: not for the second offer
  const secondAnswer = await answerTo(second);
  answer(second.id, secondAnswer);
  await done;
  return { offersWhileTheFirstWaits, ids: publishes().map((m) => m.id),
           applied: session.upstream.remoteDescription.sdp === secondAnswer };
}"""


def test_a_publish_asked_for_while_one_waits_runs_after_it_and_takes_only_its_own_answer(people, open_page):
    page = open_page("client")
    page.goto("/login/")
    result = page.evaluate(PUBLISH_TWICE_JS)
    # then the second offer was sent only after the first was answered, and its connection took its own answer
    assert result == {"offersWhileTheFirstWaits": 1, "ids": [1, 2], "applied": True}
