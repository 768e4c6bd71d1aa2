// The staff live room page: tiles, controls, participants (admit/remove for the host), chat, invite,
// the shared live ECG panel (the host replays an uploaded ECG or streams a device: EcgSender).
import { cameraErrorText, openCamera } from "./camera.js";
import { REFUSAL_TEXT, RoomClient } from "./client.js";
import { MediaSession } from "./media.js";
import { QUALITY_ICON, qualityLevel, qualityText, worseQuality } from "./quality.js";
import { EcgPanel, EcgSender, connectPanel } from "./ecg-panel.js";
import { ReconnectBanner } from "./reconnecting.js";
import { ROLE_TEXT, RoomState, STATE_TEXT } from "./room-state.js";
import { api, rows } from "../frontend/js/api.js";
import {
  CONSULTATION_STUDIES, LIVE_INVITE_SMS, LIVE_INVITES, LIVE_ROOM_CLOSE, LIVE_ROOM_SOCKET, READING_PAGE,
} from "../frontend/js/endpoints.js";
import { socketUrl } from "../frontend/js/socket.js";
import { t } from "../frontend/js/strings.js";
import { formatDateTime, formatTime } from "../frontend/js/time.js";

const root = document.getElementById("live-room");
const roomId = Number(root.dataset.room);
const isHost = root.dataset.host === "1";
const consultationId = Number(root.dataset.consultation);
const $ = (id) => document.getElementById(id);

const client = new RoomClient({ socketUrl: async () => socketUrl(LIVE_ROOM_SOCKET(roomId)) });
const state = new RoomState();
let media = null;
let muted = { audio: false, video: false };
let audioOnly = false;
let ended = false;               // we left, or the room was closed
const reconnectMs = Number(root.dataset.reconnectMs) || 5000;
const remoteTiles = new Map();   // publisher id -> figure
const quality = new Map();       // participant id -> {loss, rtt_ms}: the relay's or their own report
const received = new Map();      // publisher id -> {loss, rtt_ms, fps, dead}: what we receive of them
const ecgPanel = new EcgPanel($("ecg-panel"), { studyLink: () => (isHost ? null : READING_PAGE(consultationId)) });
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

const banner = new ReconnectBanner($("reconnecting"), { onChange: (on) => {
  if (on) setStatus(t("Reconnecting…"), "warn");
  else if (!ended && client.ws) setStatus(t("Connected"), "ok");
} }).watchClient(client);

function tileFor(publisher) {
  let tile = remoteTiles.get(publisher);
  if (!tile) {
    tile = document.createElement("figure");
    tile.className = "tile";
    tile.dataset.participant = publisher;
    tile.innerHTML = `<video autoplay playsinline></video><div class="avatar" hidden></div>
      <p class="tile-state" hidden></p>
      <figcaption><span class="name"></span> <span class="role"></span>
        <span class="link quality unknown"><span class="icon" aria-hidden="true"></span> <span class="text"></span></span>
        <span class="badges"></span></figcaption>`;
    $("tiles").appendChild(tile);
    remoteTiles.set(publisher, tile);
  }
  return tile;
}

function showLink(el, figures) {
  const level = figures ? qualityLevel(figures) : "unknown";
  el.className = `link quality ${level}`;
  el.dataset.level = level;
  el.querySelector(".icon").textContent = QUALITY_ICON[level];
  el.querySelector(".text").textContent = qualityText(level);
  if (figures && figures.rtt_ms != null) el.title = `${figures.rtt_ms} ms${figures.fps != null ? ` · ${Math.round(figures.fps)} fps` : ""}`;
}

function renderTiles() {
  for (const [publisher, tile] of remoteTiles) {
    const p = state.participants.get(Number(publisher));
    tile.querySelector(".name").textContent = p && p.name ? p.name : `#${publisher}`;
    tile.querySelector(".role").textContent = p && p.role ? ROLE_TEXT[p.role] || p.role : "";
    tile.dataset.role = p ? p.role : "";
    const badges = [];
    if (p && p.audio_muted) badges.push(t("Muted"));
    if (p && p.video_muted) badges.push(t("Camera off"));
    if (p && p.audio_only) badges.push(t("Audio only"));
    tile.querySelector(".badges").textContent = badges.join(" · ");
    showLink(tile.querySelector(".link"), worseQuality(quality.get(Number(publisher)), received.get(Number(publisher))));
    const lost = Boolean(p && p.media_lost);
    tile.classList.toggle("lost", lost);
    tile.querySelector(".tile-state").hidden = !lost;
    tile.querySelector(".tile-state").textContent = lost ? t("Reconnecting…") : "";
    const hideVideo = p && (p.video_muted || p.audio_only || audioOnly);
    tile.querySelector(".avatar").hidden = !hideVideo;
    tile.querySelector(".avatar").textContent = p && p.name ? p.name.slice(0, 1) : "?";
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
    const me = state.me && p.id === state.me.id ? t(" (me)") : "";
    li.dataset.role = p.role;
    li.innerHTML = `<span class="who"></span> <span class="state"></span>`;
    li.querySelector(".state").textContent = `${STATE_TEXT[p.state] || p.state}${p.connected ? "" : ` · ${t("offline")}`}`
      + (p.media_lost ? ` · ${t("reconnecting")}` : "");
    li.querySelector(".who").textContent = `${p.name}${me} · ${ROLE_TEXT[p.role] || p.role}`;
    if (isHost && p.role !== "host") {
      if (p.state === "waiting") li.appendChild(actionButton(t("Admit"), "admit", p.id));
      li.appendChild(actionButton(t("Remove"), "remove", p.id, "danger"));
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
  $("room-error").hidden = true;
  if (first) {
    media = new MediaSession(client, { iceServers: e.detail.ice_servers, reconnectAfterMs: reconnectMs });
    banner.watchMedia(media);
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
    media.addEventListener("failure", ({ detail }) => {
      if (!media.mediaLost) showError(t("The media connection failed: {error}", { error: detail.error }));
    });
    const { stream, error } = await openCamera();
    if (ended) { for (const track of stream ? stream.getTracks() : []) track.stop(); return; }
    if (error) { $("camera-error").textContent = cameraErrorText(error); $("camera-error").hidden = false; }
    if (stream) $("local-video").srcObject = stream;
    media.stream = stream;
    setInterval(() => {
      if (ended) return;
      media.measure().then(showMyQuality).catch(() => {});
      media.downstreamQuality().then((figures) => {
        for (const [publisher, f] of Object.entries(figures)) received.set(Number(publisher), { ...f, fps: f.video && !audioOnly ? f.fps : null });
        renderTiles();
      }).catch(() => {});
    }, 2000);
  }
  renderParticipants();
  renderTiles();
  if (state.me.state === "admitted") publish();
});

function publish() {
  if (!media || ended) return;
  media.publish().catch((err) => {
    showError(t("Could not send audio and video: {error}", { error: err.detail || err.message }));
    media.recover();
  });
}

client.addEventListener("event", (e) => {
  const event = e.detail;
  const wasAdmitted = state.me && state.me.state === "admitted";
  state.apply(event);
  if (event.kind === "chat") addChatLine(state.chat[state.chat.length - 1]);
  if (!wasAdmitted && state.me && state.me.state === "admitted" && media) publish();
  renderParticipants();
  renderTiles();
  if (isHost) foldInvite();
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
  el.dataset.level = level;
  el.textContent = `${QUALITY_ICON[level]} ${qualityText(level)} · ${report.rtt_ms} ms`;
}

function showError(text) { $("room-error").textContent = text; $("room-error").hidden = false; }

client.addEventListener("error", (e) => {
  const frame = e.detail;
  if (REFUSAL_TEXT[frame.code]) showError(REFUSAL_TEXT[frame.code]);
  // not_admitted: a race with the host's admission; unknown_peer_connection: an answer to a subscription the
  // relay had replaced meanwhile (its new offer follows)
  else if (!["not_admitted", "unknown_peer_connection"].includes(frame.code)) showError(`${frame.code}: ${frame.detail}`);
});
client.addEventListener("closed", (e) => {
  const code = e.detail.reason && e.detail.reason.code;
  end(e.detail.code === 4410 ? REFUSAL_TEXT.room_closed : (code && REFUSAL_TEXT[code]) || null);
});

// The call is over for us (left, removed, or the room closed): connections closed, camera and mic released.
function end(text) {
  ended = true;
  if (media) media.stop();
  const local = $("local-video").srcObject;
  for (const track of local ? local.getTracks() : []) track.stop();
  $("local-video").srcObject = null;
  for (const tile of remoteTiles.values()) tile.remove();
  remoteTiles.clear();
  banner.end();
  setStatus(t("Disconnected"), "bad");
  for (const id of ["btn-mic", "btn-cam", "btn-audio-only", "btn-leave", "btn-end"]) if ($(id)) $(id).disabled = true;
  if (text) showError(text);
  root.dataset.ended = "true";
}

$("btn-mic").addEventListener("click", (e) => {
  muted.audio = !muted.audio;
  e.currentTarget.setAttribute("aria-pressed", String(muted.audio));
  e.currentTarget.textContent = muted.audio ? t("Unmute") : t("Mute");
  media && media.setMuted(muted);
});
$("btn-cam").addEventListener("click", (e) => {
  muted.video = !muted.video;
  e.currentTarget.setAttribute("aria-pressed", String(muted.video));
  e.currentTarget.textContent = muted.video ? t("Camera on") : t("Camera off");
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
  end(t("You left the call."));
});
$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("chat-text").value.trim();
  if (text && client.send({ type: "chat", text })) $("chat-text").value = "";
});

async function loadEcgStudies() {
  const ecgs = (await rows(CONSULTATION_STUDIES(consultationId))).filter((study) => study.type === "ecg");
  if (!ecgs.length) return;
  const chosen = $("ecg-study").value;
  $("ecg-study").replaceChildren(...ecgs.map((study) => new Option(
    `${t("ECG")} #${study.id} · ${formatDateTime(study.created_at)}`, study.id)));
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
  let invite = null;   // {id, url, ...} of the link made last
  $("btn-invite").addEventListener("click", async () => {
    let body;
    try {
      body = await api(LIVE_INVITES(roomId), { method: "POST", body: {} });
    } catch (error) { showError(error.message); return; }
    invite = body;
    $("invite").hidden = false;
    $("invite-qr").innerHTML = body.qr_svg;
    $("invite-url").value = body.url;
    $("invite-expiry").textContent = formatDateTime(body.expires_at);
    if (!$("sms-phone").value) $("sms-phone").value = body.phone || "";
    $("copy-state").textContent = "";
    $("sms-state").textContent = "";
  });
  $("btn-copy").addEventListener("click", async () => {
    const ok = await copyText($("invite-url").value);
    $("copy-state").textContent = ok ? t("Link copied.") : t("Could not copy: select the link and copy it by hand.");
    $("copy-state").dataset.copied = String(ok);
  });
  $("sms-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!invite) return;
    $("btn-sms").disabled = true;
    try {
      const sent = await api(LIVE_INVITE_SMS(roomId, invite.id),
        { method: "POST", body: { phone: $("sms-phone").value.trim() } });
      $("sms-state").textContent = t("Sent by SMS to {phone}.", { phone: sent.phone });
      $("sms-state").dataset.sent = "true";
    } catch (error) {
      $("sms-state").textContent = error.message;
      $("sms-state").dataset.sent = "false";
    } finally {
      $("btn-sms").disabled = false;
    }
  });
  $("btn-end").addEventListener("click", () => { $("end-confirm").hidden = false; $("btn-end").hidden = true; });
  $("btn-end-no").addEventListener("click", () => { $("end-confirm").hidden = true; $("btn-end").hidden = false; });
  $("btn-end-yes").addEventListener("click", async () => {
    $("btn-end-yes").disabled = true;
    try {
      await api(LIVE_ROOM_CLOSE(roomId), { method: "POST", body: {} });
    } catch (error) {
      showError(error.message);
      $("btn-end-yes").disabled = false;
      return;
    }
    // the room.closed event closes every socket, this one too (client "closed": end())
    $("end-confirm").hidden = true;
  });
}

// The Clipboard API where the page may use it (a secure context), else a selected field and execCommand.
async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); return true; }
  } catch (_) { /* refused: the old way below */ }
  const field = $("invite-url");
  field.focus();
  field.select();
  try { return document.execCommand("copy"); } catch (_) { return false; } finally { field.setSelectionRange(0, 0); }
}

// The invite panel folds away once the patient (or family) is in the call; it can be opened again.
let inviteFolded = false;
function foldInvite() {
  const patientIn = [...state.participants.values()].some((p) => (p.role === "patient" || p.role === "family") && p.state === "admitted");
  $("invite-folded").hidden = !patientIn;
  if (patientIn && !inviteFolded) { $("invite-card").open = false; inviteFolded = true; }
  if (!patientIn) inviteFolded = false;
}
if (isHost) client.addEventListener("welcome", foldInvite);

client.connect();
