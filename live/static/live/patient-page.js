// The patient's phone page: opened from the link (token in the URL fragment), no account.
// Camera/mic check -> waiting room -> the call. Each socket uses a fresh single-use ticket.
import { MediaSession, REFUSAL_TEXT, RoomClient, cameraErrorText, openCamera, qualityLevel } from "./client.js";
import { EcgPanel, connectPanel } from "./ecg-panel.js";
import { RoomState } from "./room-state.js";

const root = document.getElementById("patient");
const roomId = Number(root.dataset.room);
const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.hash.slice(1));
const wsBase = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;
let stream = null;
let media = null;
let muted = { audio: false, video: false };
let audioOnly = false;
const state = new RoomState();
window.livePatient = { state, get media() { return media; } };

function show(step) {
  for (const id of ["step-check", "step-wait", "step-call", "step-end"]) $(id).hidden = id !== step;
}
function message(text) { $("message").textContent = text; $("message").hidden = !text; }

async function fetchTicket() {
  const response = await fetch(`/api/live/rooms/${roomId}/join/`, {
    method: "POST", headers: { "Content-Type": "application/json" }, credentials: "same-origin",
    body: JSON.stringify({ token }),
  });
  const body = await response.json();
  if (!response.ok) {
    const error = new Error(REFUSAL_TEXT[body.code] || body.detail);
    error.code = body.code;
    error.final = response.status < 500;
    throw error;
  }
  return `${wsBase}${body.ws_path}`;
}

function meter(mediaStream) {
  if (!mediaStream.getAudioTracks().length) return;
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  context.createMediaStreamSource(mediaStream).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  const draw = () => {
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

function addRemote({ publisher, stream: remoteStream }) {
  let video = document.querySelector(`#remote video[data-participant="${publisher}"]`);
  if (!video) {
    video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.dataset.participant = publisher;
    $("remote").appendChild(video);
  }
  if (video.srcObject !== remoteStream) video.srcObject = remoteStream;
}

function connect() {
  const client = new RoomClient({ socketUrl: fetchTicket });
  window.livePatient.client = client;
  // The ECG the village doctor shows: visible once one starts (the samples come only once admitted).
  const ecgPanel = new EcgPanel($("ecg-panel"));
  window.livePatient.ecgPanel = ecgPanel;
  connectPanel(client, ecgPanel);
  client.addEventListener("welcome", (e) => { if (e.detail.ecg) $("ecg-card").hidden = false; });
  client.addEventListener("event", (e) => { if (e.detail.kind === "ecg.started") $("ecg-card").hidden = false; });
  client.addEventListener("welcome", (e) => {
    state.welcome(e.detail);
    $("conn-status").textContent = "";
    if (!media) {
      media = new MediaSession(client, { iceServers: e.detail.ice_servers });
      media.stream = stream;
      media.addEventListener("remote", ({ detail }) => addRemote(detail));
      media.addEventListener("remote-gone", ({ detail }) => {
        const video = document.querySelector(`#remote video[data-participant="${detail.publisher}"]`);
        if (video) video.remove();
      });
      setInterval(() => media.measure().then((r) => {
        if (r) $("net").textContent = `网络${{ good: "良好", fair: "一般", poor: "较差", unknown: "" }[qualityLevel(r)]}`;
      }).catch(() => {}), 4000);
    }
    enterIfAdmitted();
  });
  client.addEventListener("event", (e) => {
    const admittedBefore = state.me && state.me.state === "admitted";
    state.apply(e.detail);
    if (!admittedBefore) enterIfAdmitted();
  });
  client.addEventListener("reconnecting", () => { $("conn-status").textContent = "网络中断，正在重新连接…"; });
  client.addEventListener("refused", (e) => { show("step-end"); $("end-text").textContent = e.detail.detail; });
  client.addEventListener("closed", (e) => {
    if (media) media.closeAll();
    show("step-end");
    const code = e.detail.reason && e.detail.reason.code;
    if (e.detail.code === 4403) $("end-text").textContent = REFUSAL_TEXT.removed;
    else if (code && REFUSAL_TEXT[code]) $("end-text").textContent = REFUSAL_TEXT[code];
  });
  $("btn-hangup").onclick = () => { client.send({ type: "leave" }); client.stop(); };
  client.connect();
}

function enterIfAdmitted() {
  if (!state.me || state.me.state !== "admitted") { show("step-wait"); return; }
  show("step-call");
  document.body.classList.add("in-call");
  $("self-view").srcObject = stream;
  media.publish().catch((err) => message(`无法发送音视频：${err.detail || err.message}`));
}

function toggle(button, on, onText, offText) {
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? onText : offText;
}
$("btn-mic").addEventListener("click", (e) => {
  muted.audio = !muted.audio;
  toggle(e.currentTarget, muted.audio, "取消静音", "静音");
  media && media.setMuted(muted);
});
$("btn-cam").addEventListener("click", (e) => {
  muted.video = !muted.video;
  toggle(e.currentTarget, muted.video, "开摄像头", "关摄像头");
  media && media.setMuted(muted);
});
$("btn-audio-only").addEventListener("click", (e) => {
  audioOnly = !audioOnly;
  toggle(e.currentTarget, audioOnly, "恢复视频", "仅语音");
  media && media.setAudioOnly(audioOnly, muted.video);
});

if (!token) { show("step-end"); $("end-text").textContent = REFUSAL_TEXT.token_forged; }
