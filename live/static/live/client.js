// The room socket and the media peer connections (protocol: docs/signalling.md). Plain ES module.
//
// RoomClient: one WebSocket, reopened by itself after a drop; it resumes from the last
// event seq it saw, so no room event is missed or shown twice.
// MediaSession: one upstream peer connection (our camera/mic, sendonly) and one downstream
// per other participant, offered by the relay. No trickle ICE: SDP is sent complete.

const FINAL_CLOSE_CODES = new Set([4401, 4403, 4404, 4410, 4429, 1000]);

export class RoomClient extends EventTarget {
  // socketUrl: async () => ws(s) URL (the patient fetches a fresh single-use ticket each time)
  constructor({ socketUrl }) {
    super();
    this.socketUrl = socketUrl;
    this.lastSeq = null;      // last event seq received; null until the first welcome
    this.ecgSeq = null;       // last chunk seq received of the live ECG (resumed from there)
    this.ws = null;
    this.retry = 0;
    this.stopped = false;
    this.pending = [];
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  async connect() {
    if (this.stopped) return;
    let url;
    try {
      url = await this.socketUrl();
    } catch (error) {
      if (error.final) { this.stop(); this.emit("refused", { code: error.code, detail: error.message }); return; }
      this.scheduleReconnect();
      return;
    }
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      const join = { type: "join" };
      if (this.lastSeq !== null) join.last_seq = this.lastSeq;
      if (this.lastSeq !== null && this.ecgSeq !== null) join.ecg_seq = this.ecgSeq;
      ws.send(JSON.stringify(join));
      this.emit("open", {});
    };
    ws.onmessage = (message) => this.onFrame(JSON.parse(message.data));
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const dropped = ws.dropped;  // our own simulated drop: the server's echo may say 1000
      if (this.stopped || (!dropped && FINAL_CLOSE_CODES.has(event.code))) {
        this.stopped = true;
        this.emit("closed", { code: event.code, reason: this.lastError });
      } else {
        this.emit("reconnecting", { code: event.code });
        this.scheduleReconnect();
      }
    };
  }

  scheduleReconnect() {
    // Exponential backoff with jitter: when a Daphne process dies, its hundreds of clients spread
    // their knocks on the survivor instead of arriving in waves.
    const delay = Math.min(10000, 500 * 2 ** this.retry++) * (0.5 + Math.random() / 2);
    setTimeout(() => this.connect(), delay);
  }

  onFrame(frame) {
    if (frame.type === "event") {
      if (this.lastSeq !== null && frame.seq <= this.lastSeq) return;  // seen already
      this.lastSeq = frame.seq;
      if (frame.kind === "ecg.started") this.ecgSeq = null;
      this.emit("event", frame);
      return;
    }
    if (frame.type === "ecg_chunk") this.ecgSeq = frame.seq;
    if (frame.type === "welcome") {
      // The events that follow start after `after`: 0 when the host has just let this client in
      // (a waiting participant is sent nothing of the room before), the client's own last_seq on a resume.
      this.lastSeq = frame.after ?? this.lastSeq ?? 0;
      this.emit("welcome", frame);
      return;
    }
    if (frame.type === "error") this.lastError = frame;
    this.emit(frame.type, frame);
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  // Simulate a dropped link (tests, and the "reconnect" button): the socket closes, the client reopens it.
  drop() {
    if (!this.ws) return;
    this.ws.dropped = true;
    this.ws.close(4000);
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000);
  }
}

function gatheringComplete(pc, timeoutMs = 3000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, timeoutMs);  // send what we have: host candidates come first
  });
}

export class MediaSession extends EventTarget {
  constructor(client, { iceServers = [] } = {}) {
    super();
    this.client = client;
    this.iceServers = iceServers;
    this.stream = null;
    this.upstream = null;
    this.downstreams = new Map();   // pc_id -> { pc, publisher }
    this.answerWaiter = null;       // { id, resolve, reject } of the offer waiting for the relay's answer
    this.offers = 0;                // ids of our offers; the relay's answer repeats the id
    this.publishing = null;         // the publish under way
    this.publishAgain = false;
    client.addEventListener("publish_answer", (e) => {
      if (this.answerWaiter && this.isForWaiter(e.detail)) this.answerWaiter.resolve(e.detail.sdp);
    });
    client.addEventListener("subscribe_offer", (e) => this.subscribe(e.detail).catch((err) => this.fail(err)));
    client.addEventListener("unsubscribe", (e) => this.unsubscribe(e.detail.pc_id));
    // The room's relay worker died: publish again (the server places the room on a live one).
    client.addEventListener("relay_moved", () => {
      if (this.upstream) this.publish().catch((err) => this.fail(err));
    });
    client.addEventListener("error", (e) => {
      if (this.answerWaiter && this.isForWaiter(e.detail) && /sdp|encryption|codec|relay/.test(e.detail.code)) {
        this.answerWaiter.reject(e.detail);
      }
    });
  }

  // An answer (or a refusal) for the offer we wait on: the same id, or none (a server that sends none).
  isForWaiter(frame) { return frame.id === undefined || frame.id === null || frame.id === this.answerWaiter.id; }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }
  fail(error) { this.emit("failure", { error: String(error && (error.detail || error.message || error)) }); }
  config() { return { iceServers: this.iceServers }; }

  // Publish our tracks; call again to reconnect (fresh peer connections, same room and participant).
  // One at a time: a call while a publish is under way makes it run once more when it is done (calls
  // meanwhile count once). Two offers never wait together, so the relay's answer to one is never applied
  // to the other's connection (whose ICE would then never connect: no picture for anyone).
  publish(stream) {
    if (stream) this.stream = stream;
    if (this.publishing) {
      this.publishAgain = true;
      return this.publishing;
    }
    this.publishing = (async () => {
      try {
        do {
          this.publishAgain = false;
          try {
            await this.publishOnce();
          } catch (error) {
            if (!this.publishAgain) throw error;
          }
        } while (this.publishAgain);
      } finally {
        this.publishing = null;
      }
    })();
    return this.publishing;
  }

  async publishOnce() {
    if (!this.stream || this.stream.getTracks().length === 0) return;
    this.closeAll();
    const pc = new RTCPeerConnection(this.config());
    this.upstream = pc;
    for (const track of this.stream.getTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [this.stream] });
    pc.addEventListener("iceconnectionstatechange", () => {
      if (pc === this.upstream && pc.iceConnectionState === "failed") this.publish().catch((err) => this.fail(err));
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    const id = ++this.offers;
    const answer = new Promise((resolve, reject) => { this.answerWaiter = { id, resolve, reject }; });
    let timer = null;
    const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error("no answer from the relay")), 15000); });
    this.client.send({ type: "publish", id, sdp: pc.localDescription.sdp });
    let sdp;
    try {
      sdp = await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
      this.answerWaiter = null;
    }
    if (pc !== this.upstream) return;
    await pc.setRemoteDescription({ type: "answer", sdp });
  }

  async subscribe({ pc_id, publisher, sdp }) {
    const pc = new RTCPeerConnection(this.config());
    this.downstreams.set(pc_id, { pc, publisher });
    const stream = new MediaStream();
    pc.addEventListener("track", (event) => {
      stream.addTrack(event.track);
      this.emit("remote", { publisher, stream, pcId: pc_id });
    });
    await pc.setRemoteDescription({ type: "offer", sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gatheringComplete(pc);
    this.client.send({ type: "subscribe_answer", pc_id, sdp: pc.localDescription.sdp });
  }

  unsubscribe(pcId) {
    const entry = this.downstreams.get(pcId);
    if (!entry) return;
    entry.pc.close();
    this.downstreams.delete(pcId);
    this.emit("remote-gone", { publisher: entry.publisher, pcId });
  }

  closeAll() {
    for (const pcId of [...this.downstreams.keys()]) this.unsubscribe(pcId);
    if (this.upstream) this.upstream.close();
    this.upstream = null;
  }

  setMuted({ audio, video }) {
    for (const track of this.stream ? this.stream.getAudioTracks() : []) track.enabled = !audio;
    for (const track of this.stream ? this.stream.getVideoTracks() : []) track.enabled = !video;
    this.client.send({ type: "mute", audio, video });
  }

  setAudioOnly(enabled, videoMuted) {
    // Stop receiving video (the relay stops forwarding it) and stop sending ours.
    for (const track of this.stream ? this.stream.getVideoTracks() : []) track.enabled = !enabled && !videoMuted;
    this.client.send({ type: "audio_only", enabled });
  }

  // Our own view of the link, from RTCP: loss of what we send and round-trip time to the relay.
  async measure() {
    if (!this.upstream) return null;
    let loss = 0, rtt = null;
    const stats = await this.upstream.getStats();
    stats.forEach((s) => {
      if (s.type === "remote-inbound-rtp") {
        if (typeof s.fractionLost === "number") loss = Math.max(loss, Math.min(1, Math.max(0, s.fractionLost)));
        if (typeof s.roundTripTime === "number") rtt = s.roundTripTime * 1000;
      }
    });
    if (rtt === null) return null;
    const report = { type: "quality", loss, rtt_ms: Math.min(60000, Math.round(rtt)) };
    this.client.send(report);
    return report;
  }
}

// What a quality figure means to a person: good / fair / poor.
export function qualityLevel({ loss, rtt_ms }) {
  if (loss == null && rtt_ms == null) return "unknown";
  if ((loss || 0) > 0.1 || (rtt_ms || 0) > 600) return "poor";
  if ((loss || 0) > 0.03 || (rtt_ms || 0) > 250) return "fair";
  return "good";
}

export const REFUSAL_TEXT = {
  token_forged: "链接无效，请向医生索取新的链接。",
  token_expired: "链接已过期，请向医生索取新的链接。",
  token_reused: "该链接已在另一部手机上使用，请向医生索取新的链接。",
  token_other_room: "该链接不属于这个诊室。",
  token_revoked: "医生已收回该链接。",
  removed: "您已被医生移出本次会诊。",
  room_closed: "本次会诊已结束。",
  ticket_unknown: "连接凭证无效，请重新打开链接。",
  ticket_expired: "连接凭证已过期，请重新打开链接。",
  ticket_reused: "连接凭证已使用，请重新打开链接。",
  unauthenticated: "请先登录，或打开医生发给您的链接。",
  not_found: "找不到这个诊室。",
  rate_limited: "消息发送过快，连接已断开。",
};

export function cameraErrorText(error) {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "SecurityError") {
    return "无法使用摄像头和麦克风：浏览器拒绝了访问。请点击地址栏的摄像头图标，选择“允许”，然后刷新页面。(Camera and microphone access was denied.)";
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return "没有找到摄像头或麦克风。(No camera or microphone found.)";
  }
  if (name === "NotReadableError") return "摄像头正被其他程序使用，请关闭后重试。(The camera is in use by another program.)";
  return "无法打开摄像头和麦克风。(Could not open the camera or microphone.)";
}

export async function openCamera() {
  // Camera and mic; if the camera is refused or missing, try the mic alone.
  try {
    return { stream: await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } }) };
  } catch (error) {
    try {
      return { stream: await navigator.mediaDevices.getUserMedia({ audio: true }), error };
    } catch (_) {
      return { stream: null, error };
    }
  }
}
