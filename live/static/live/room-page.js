// The staff live room page: tiles, controls, participants (admit/remove for the host), chat, invite,
// the shared live ECG panel (the host replays an uploaded ECG or streams a device: EcgSender).
import { MediaSession, REFUSAL_TEXT, RoomClient, cameraErrorText, openCamera, qualityLevel } from "./client.js";
import { EcgPanel, EcgSender, connectPanel } from "./ecg-panel.js";
import { ROLE_TEXT, RoomState, STATE_TEXT } from "./room-state.js";
import { formatDateTime, formatTime } from "../frontend/js/time.js";

const root = document.getElementById("live-room");
const roomId = Number(root.dataset.room);
const isHost = root.dataset.host === "1";
const consultationId = Number(root.dataset.consultation);
const $ = (id) => document.getElementById(id);
const wsBase = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;

const client = new RoomClient({ socketUrl: async () => `${wsBase}/ws/rooms/${roomId}/` });
const state = new RoomState();
let media = null;
let muted = { audio: false, video: false };
let audioOnly = false;
const remoteTiles = new Map();   // publisher id -> figure
const quality = new Map();       // participant id -> {loss, rtt_ms}
const ecgPanel = new EcgPanel($("ecg-panel"), { studyLink: () => (isHost ? null : `/read/${consultationId}/`) });
connectPanel(client, ecgPanel);
const ecgSender = isHost ? new EcgSender(client) : null;   // a device on the village side feeds it
if (ecgSender) ecgSender.addEventListener("chunk", (e) => ecgPanel.push(e.detail));
let liveEcg = null;                                         // the room's live stream id, or null
window.liveRoom = { client, state, ecgPanel, ecgSender, get media() { return media; } };   // tests and debugging

function setStatus(text, cls) {
  const el = $("conn-status");
  el.textContent = text;
  el.className = `status ${cls || ""}`;
}

function tileFor(publisher) {
  let tile = remoteTiles.get(publisher);
  if (!tile) {
    tile = document.createElement("figure");
    tile.className = "tile";
    tile.dataset.participant = publisher;
    tile.innerHTML = `<video autoplay playsinline></video><div class="avatar" hidden></div>
      <figcaption><span class="name"></span> <span class="badges"></span></figcaption>`;
    $("tiles").appendChild(tile);
    remoteTiles.set(publisher, tile);
  }
  return tile;
}

function renderTiles() {
  for (const [publisher, tile] of remoteTiles) {
    const p = state.participants.get(Number(publisher));
    tile.querySelector(".name").textContent = p ? `${p.name} · ${ROLE_TEXT[p.role] || p.role}` : `#${publisher}`;
    const badges = [];
    if (p && p.audio_muted) badges.push("已静音");
    if (p && p.video_muted) badges.push("摄像头关");
    if (p && p.audio_only) badges.push("仅语音");
    const q = quality.get(Number(publisher));
    if (q) badges.push(`<span class="quality ${qualityLevel(q)}">●</span>`);
    tile.querySelector(".badges").innerHTML = badges.join(" ");
    const hideVideo = p && (p.video_muted || p.audio_only || audioOnly);
    tile.querySelector(".avatar").hidden = !hideVideo;
    tile.querySelector(".avatar").textContent = p ? p.name.slice(0, 1) : "?";
  }
}

function renderParticipants() {
  const list = $("participants");
  list.innerHTML = "";
  for (const p of state.participants.values()) {
    if (p.state === "removed" || p.state === "left") continue;
    const li = document.createElement("li");
    li.dataset.participant = p.id;
    li.className = `person ${p.state}`;
    const me = state.me && p.id === state.me.id ? "（我）" : "";
    li.innerHTML = `<span class="who"></span> <span class="state">${STATE_TEXT[p.state] || p.state}${p.connected ? "" : " · 离线"}</span>`;
    li.querySelector(".who").textContent = `${p.name}${me} · ${ROLE_TEXT[p.role] || p.role}`;
    if (isHost && p.role !== "host") {
      if (p.state === "waiting") li.appendChild(actionButton("准入 Admit", "admit", p.id));
      li.appendChild(actionButton("移出 Remove", "remove", p.id, "danger"));
    }
    list.appendChild(li);
  }
}

function actionButton(text, type, participant, cls = "primary") {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `${cls} small`;
  button.dataset.action = type;
  button.textContent = text;
  button.addEventListener("click", () => client.send({ type, participant }));
  return button;
}

function addChatLine({ participant, text, at }) {
  const li = document.createElement("li");
  const time = formatTime(at);
  li.innerHTML = `<span class="who"></span> <time></time><p></p>`;
  li.querySelector(".who").textContent = state.name(participant);
  li.querySelector("time").textContent = time;
  li.querySelector("p").textContent = text;
  $("chat-log").appendChild(li);
  li.scrollIntoView({ block: "end" });
}

client.addEventListener("welcome", async (e) => {
  const first = media === null;
  state.welcome(e.detail);
  setStatus("已连接 Connected", "ok");
  $("room-error").hidden = true;
  if (first) {
    media = new MediaSession(client, { iceServers: e.detail.ice_servers });
    media.addEventListener("remote", ({ detail }) => {
      const tile = tileFor(detail.publisher);
      const video = tile.querySelector("video");
      if (video.srcObject !== detail.stream) video.srcObject = detail.stream;
      renderTiles();
    });
    media.addEventListener("remote-gone", ({ detail }) => {
      const tile = remoteTiles.get(detail.publisher);
      if (tile) { tile.remove(); remoteTiles.delete(detail.publisher); }
    });
    media.addEventListener("failure", ({ detail }) => showError(`媒体连接失败：${detail.error}`));
    const { stream, error } = await openCamera();
    if (error) { $("camera-error").textContent = cameraErrorText(error); $("camera-error").hidden = false; }
    if (stream) $("local-video").srcObject = stream;
    media.stream = stream;
    setInterval(() => media.measure().then(showMyQuality).catch(() => {}), 4000);
  }
  renderParticipants();
  if (state.me.state === "admitted") media.publish().catch((err) => showError(`无法发送音视频：${err.detail || err.message}`));
});

client.addEventListener("event", (e) => {
  const event = e.detail;
  const wasAdmitted = state.me && state.me.state === "admitted";
  state.apply(event);
  if (event.kind === "chat") addChatLine(state.chat[state.chat.length - 1]);
  if (!wasAdmitted && state.me && state.me.state === "admitted" && media) media.publish().catch(() => {});
  renderParticipants();
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

function showMyQuality(report) {
  if (!report) return;
  const level = qualityLevel(report);
  const el = $("my-quality");
  el.className = `quality ${level}`;
  el.textContent = `网络 ${{ good: "良好", fair: "一般", poor: "较差", unknown: "—" }[level]} · ${report.rtt_ms} ms`;
}

function showError(text) { $("room-error").textContent = text; $("room-error").hidden = false; }

client.addEventListener("error", (e) => {
  const frame = e.detail;
  if (REFUSAL_TEXT[frame.code]) showError(REFUSAL_TEXT[frame.code]);
  else if (!["not_admitted"].includes(frame.code)) showError(`${frame.code}: ${frame.detail}`);
});
client.addEventListener("reconnecting", () => setStatus("连接中断，正在重连… Reconnecting…", "warn"));
client.addEventListener("closed", (e) => {
  setStatus("已断开 Disconnected", "bad");
  if (media) media.closeAll();
  const code = e.detail.reason && e.detail.reason.code;
  if (e.detail.code === 4410) showError(REFUSAL_TEXT.room_closed);
  else if (code && REFUSAL_TEXT[code]) showError(REFUSAL_TEXT[code]);
});

$("btn-mic").addEventListener("click", (e) => {
  muted.audio = !muted.audio;
  e.currentTarget.setAttribute("aria-pressed", String(muted.audio));
  e.currentTarget.textContent = muted.audio ? "取消静音 Unmute" : "静音 Mute";
  media && media.setMuted(muted);
});
$("btn-cam").addEventListener("click", (e) => {
  muted.video = !muted.video;
  e.currentTarget.setAttribute("aria-pressed", String(muted.video));
  e.currentTarget.textContent = muted.video ? "打开摄像头 Camera on" : "关闭摄像头 Camera off";
  media && media.setMuted(muted);
});
$("btn-audio-only").addEventListener("click", (e) => {
  audioOnly = !audioOnly;
  e.currentTarget.setAttribute("aria-pressed", String(audioOnly));
  media && media.setAudioOnly(audioOnly, muted.video);
  renderTiles();
});
$("btn-leave").addEventListener("click", () => {
  client.send({ type: "leave" });
  client.stop();
  if (media) media.closeAll();
});
$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("chat-text").value.trim();
  if (text && client.send({ type: "chat", text })) $("chat-text").value = "";
});

async function loadEcgStudies() {
  const response = await fetch(`/api/consultations/${consultationId}/studies/`, { credentials: "same-origin" });
  if (!response.ok) return;
  const ecgs = (await response.json()).filter((study) => study.type === "ecg");
  if (!ecgs.length) return;
  const chosen = $("ecg-study").value;
  $("ecg-study").replaceChildren(...ecgs.map((study) => new Option(
    `心电图 ECG #${study.id} · ${new Date(study.created_at).toLocaleString("zh-CN")}`, study.id)));
  if (chosen && ecgs.some((study) => String(study.id) === chosen)) $("ecg-study").value = chosen;
  renderEcgControls();
}

function renderEcgControls() {
  if (!isHost) return;
  $("btn-ecg-replay").disabled = liveEcg !== null || !$("ecg-study").value;
  $("btn-ecg-stop").disabled = liveEcg === null;
}

client.addEventListener("welcome", (e) => { liveEcg = e.detail.ecg ? e.detail.ecg.stream : null; renderEcgControls(); });
client.addEventListener("event", (e) => {
  const { kind, data } = e.detail;
  if (kind === "ecg.started") liveEcg = data.stream;
  else if (kind === "ecg.stopped" && liveEcg === data.stream) liveEcg = null;
  else if (kind === "ecg.saved" && isHost && !data.replayed) loadEcgStudies().catch(() => {});
  if (kind.startsWith("ecg.")) renderEcgControls();
});

if (isHost) {
  $("ecg-study").addEventListener("change", renderEcgControls);
  $("btn-ecg-replay").addEventListener("click", () => {
    const ecg = Number($("ecg-study").value);
    if (ecg) client.send({ type: "ecg_replay", ecg });
  });
  $("btn-ecg-stop").addEventListener("click", () => {
    if (liveEcg === null) return;
    if (ecgSender && ecgSender.stream === liveEcg) ecgSender.stop();
    else client.send({ type: "ecg_stop", stream: liveEcg });
  });
  loadEcgStudies().catch(() => {});
  $("btn-invite").addEventListener("click", async () => {
    const response = await fetch(`/api/live/rooms/${roomId}/invites/`, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
      body: "{}", credentials: "same-origin",
    });
    const body = await response.json();
    if (!response.ok) { showError(body.detail); return; }
    $("invite").hidden = false;
    $("invite-qr").innerHTML = body.qr_svg;
    $("invite-url").value = body.url;
    $("invite-expiry").textContent = formatDateTime(body.expires_at);
  });
}

client.connect();
