// The patient's phone page: opened from the link (token in the URL fragment), no account.
// Link check (a refused link never reaches the camera) -> camera/mic check -> waiting room -> the call.
// Each socket uses a fresh single-use ticket.
import { cameraErrorText, openCamera } from "./camera.js";
import { REFUSAL_TEXT, RoomClient } from "./client.js";
import { MediaSession } from "./media.js";
import { QUALITY_ICON, qualityLevel, qualityText, worseQuality } from "./quality.js";
import { EcgPanel, connectPanel } from "./ecg-panel.js";
import { ReconnectBanner } from "./reconnecting.js";
import { ROLE_TEXT, RoomState } from "./room-state.js";
import { ApiError, api } from "../frontend/js/api.js";
import { backoff } from "../frontend/js/backoff.js";
import { LIVE_JOIN, LIVE_LINK_CHECK } from "../frontend/js/endpoints.js";
import { socketUrl } from "../frontend/js/socket.js";
import { t } from "../frontend/js/strings.js";

const root = document.getElementById("patient");
const roomId = Number(root.dataset.room);
const reconnectMs = Number(root.dataset.reconnectMs) || 5000;
const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.hash.slice(1));
let stream = null;
let media = null;
let client = null;
let muted = { audio: false, video: false };
let audioOnly = false;
let ended = false;
const quality = new Map();    // participant id -> {loss, rtt_ms}: the relay's or their own report
const received = new Map();   // publisher id -> what this phone receives of them
const state = new RoomState();
const banner = new ReconnectBanner($("reconnecting"), {
  onChange: (on) => { $("conn-status").textContent = on ? t("Reconnecting…") : ""; },
});
window.livePatient = { state, get media() { return media; }, get client() { return client; }, get stream() { return stream; } };

function show(step) {
  for (const id of ["step-link", "step-check", "step-wait", "step-call", "step-end"]) $(id).hidden = id !== step;
}
function message(text) { $("message").textContent = text; $("message").hidden = !text; }

function refusal(body) {
  return REFUSAL_TEXT[body?.code] || body?.detail || t("This link is not valid. Ask your doctor for a new one.");
}

// A refusal (4xx) is final: the link will not be let in by trying again. A 5xx or no network is not.
const isFinal = (error) => error instanceof ApiError && error.status < 500;

async function fetchTicket() {
  let body;
  try {
    body = await api(LIVE_JOIN(roomId), { method: "POST", body: { token } });
  } catch (error) {
    const refused = new Error(refusal(error.body));
    refused.code = error.body?.code;
    refused.final = isFinal(error);
    throw refused;
  }
  return socketUrl(body.ws_path);
}

// The server says whether the link would be let in before anything asks for the camera.
async function checkLink() {
  if (!token) { finish(REFUSAL_TEXT.token_forged); return; }
  for (let attempt = 0; ; attempt++) {
    try {
      await api(LIVE_LINK_CHECK(roomId), { method: "POST", body: { token } });
      show("step-check");
      return;
    } catch (error) {
      if (isFinal(error)) {
        root.dataset.refused = error.body?.code || "refused";
        finish(refusal(error.body));
        return;
      }
    }
    await backoff(attempt, { baseMs: 1000, maxMs: 10000 });  // no network yet, or the server is down: try again
  }
}

function meter(mediaStream) {
  if (!mediaStream.getAudioTracks().length) return;
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  context.createMediaStreamSource(mediaStream).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  const draw = () => {
    if (ended) { context.close().catch(() => {}); return; }
    analyser.getByteTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
    $("mic-level").style.width = `${Math.min(100, peak * 2)}%`;
    requestAnimationFrame(draw);
  };
  draw();
}

$("btn-check").addEventListener("click", async () => {
  const opened = await openCamera();
  stream = opened.stream;
  if (opened.error) message(cameraErrorText(opened.error));
  if (stream) {
    $("preview").srcObject = stream;
    meter(stream);
    $("btn-enter").hidden = false;
    $("btn-check").hidden = true;
  }
});

$("btn-enter").addEventListener("click", () => {
  show("step-wait");
  connect();
});

// One tile per other participant: their video, name, role and link quality.
function tileFor(publisher) {
  let tile = document.querySelector(`#remote figure[data-participant="${publisher}"]`);
  if (!tile) {
    tile = document.createElement("figure");
    tile.className = "tile phone-tile";
    tile.dataset.participant = publisher;
    tile.innerHTML = `<video autoplay playsinline></video><p class="tile-state" hidden></p>
      <figcaption><span class="name"></span> <span class="role"></span>
        <span class="link quality unknown"><span class="icon" aria-hidden="true"></span> <span class="text"></span></span></figcaption>`;
    tile.querySelector("video").dataset.participant = publisher;
    $("remote").appendChild(tile);
  }
  return tile;
}

function renderTiles() {
  for (const tile of document.querySelectorAll("#remote figure")) {
    const id = Number(tile.dataset.participant);
    const p = state.participants.get(id);
    tile.querySelector(".name").textContent = p && p.name ? p.name : "";
    tile.querySelector(".role").textContent = p && p.role ? ROLE_TEXT[p.role] || p.role : "";
    tile.dataset.role = p ? p.role : "";
    const figures = worseQuality(quality.get(id), received.get(id));
    const level = figures ? qualityLevel(figures) : "unknown";
    const link = tile.querySelector(".link");
    link.className = `link quality ${level}`;
    link.dataset.level = level;
    link.querySelector(".icon").textContent = QUALITY_ICON[level];
    link.querySelector(".text").textContent = qualityText(level);
    const lost = Boolean(p && p.media_lost);
    tile.classList.toggle("lost", lost);
    tile.querySelector(".tile-state").hidden = !lost;
    tile.querySelector(".tile-state").textContent = lost ? t("Reconnecting…") : "";
  }
}

function addRemote({ publisher, stream: remoteStream }) {
  const video = tileFor(publisher).querySelector("video");
  if (video.srcObject !== remoteStream) video.srcObject = remoteStream;
  renderTiles();
}

function connect() {
  client = new RoomClient({ socketUrl: fetchTicket });
  banner.watchClient(client);
  // The ECG the village doctor shows: visible once one starts (the samples come only once admitted).
  const ecgPanel = new EcgPanel($("ecg-panel"));
  window.livePatient.ecgPanel = ecgPanel;
  connectPanel(client, ecgPanel);
  client.addEventListener("welcome", (e) => { if (e.detail.ecg) $("ecg-card").hidden = false; });
  client.addEventListener("event", (e) => { if (e.detail.kind === "ecg.started") $("ecg-card").hidden = false; });
  client.addEventListener("welcome", (e) => {
    state.welcome(e.detail);
    if (!media) {
      media = new MediaSession(client, { iceServers: e.detail.ice_servers, reconnectAfterMs: reconnectMs });
      media.stream = stream;
      media.addEventListener("remote", ({ detail }) => addRemote(detail));
      media.addEventListener("remote-gone", ({ detail }) => {
        const tile = document.querySelector(`#remote figure[data-participant="${detail.publisher}"]`);
        if (tile) tile.remove();
      });
      banner.watchMedia(media);
      setInterval(() => {
        if (ended) return;
        media.measure().then((r) => {
          if (r) $("net").textContent = `${QUALITY_ICON[qualityLevel(r)]} ${qualityText(qualityLevel(r))}`;
        }).catch(() => {});
        media.downstreamQuality().then((figures) => {
          for (const [publisher, f] of Object.entries(figures)) received.set(Number(publisher), { ...f, fps: f.video && !audioOnly ? f.fps : null });
          renderTiles();
        }).catch(() => {});
      }, 2000);
    }
    enterIfAdmitted();
    renderTiles();
  });
  client.addEventListener("event", (e) => {
    const admittedBefore = state.me && state.me.state === "admitted";
    state.apply(e.detail);
    if (!admittedBefore) enterIfAdmitted();
    renderTiles();
  });
  client.addEventListener("quality", (e) => {
    for (const [id, figures] of Object.entries(e.detail.participants)) {
      quality.set(Number(id), { loss: figures.upstream_loss ?? figures.downstream_loss, rtt_ms: figures.rtt_ms });
    }
    renderTiles();
  });
  client.addEventListener("client_quality", (e) => {
    quality.set(e.detail.participant, { loss: e.detail.loss, rtt_ms: e.detail.rtt_ms });
    renderTiles();
  });
  client.addEventListener("refused", (e) => finish(e.detail.detail));
  client.addEventListener("closed", (e) => {
    const code = e.detail.reason && e.detail.reason.code;
    if (e.detail.code === 4403) finish(REFUSAL_TEXT.removed);
    else if (e.detail.code === 4410) finish(REFUSAL_TEXT.room_closed);
    else finish(code && REFUSAL_TEXT[code]);
  });
  $("btn-hangup").onclick = () => { client.send({ type: "leave" }); client.stop(); finish(null); };
  client.connect();
}

// The call is over: connections closed, camera and microphone released (no live track left).
function finish(text) {
  ended = true;
  if (media) media.stop();
  for (const track of stream ? stream.getTracks() : []) track.stop();
  for (const id of ["preview", "self-view"]) $(id).srcObject = null;
  $("remote").replaceChildren();
  banner.end();
  show("step-end");
  if (text) $("end-text").textContent = text;
  root.dataset.ended = "true";
}

function enterIfAdmitted() {
  if (ended) return;
  if (!state.me || state.me.state !== "admitted") { show("step-wait"); return; }
  show("step-call");
  document.body.classList.add("in-call");
  $("self-view").srcObject = stream;
  media.publish().catch((err) => {
    message(t("Could not send audio and video: {error}", { error: err.detail || err.message }));
    media.recover();
  });
}

function toggle(button, on, onText, offText) {
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? onText : offText;
}
$("btn-mic").addEventListener("click", (e) => {
  muted.audio = !muted.audio;
  toggle(e.currentTarget, muted.audio, t("Unmute"), t("Mute"));
  media && media.setMuted(muted);
});
$("btn-cam").addEventListener("click", (e) => {
  muted.video = !muted.video;
  toggle(e.currentTarget, muted.video, t("Camera on"), t("Camera off"));
  media && media.setMuted(muted);
});
$("btn-audio-only").addEventListener("click", (e) => {
  audioOnly = !audioOnly;
  toggle(e.currentTarget, audioOnly, t("Video back"), t("Audio only"));
  media && media.setAudioOnly(audioOnly, muted.video);
});
// The language switch keeps the link: the token is in the fragment, which a redirect would drop.
for (const form of document.querySelectorAll("form.phone-lang")) {
  form.addEventListener("submit", () => { form.querySelector("input[name=next]").value = location.pathname + location.hash; });
}

checkLink();
