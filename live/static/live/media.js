// The media peer connections of a room (protocol: docs/signalling.md), signalled over a RoomClient.
//
// MediaSession: one upstream peer connection (our camera/mic, sendonly) and one downstream
// per other participant, offered by the relay. No trickle ICE: SDP is sent complete.
// A connection that fails, stays `disconnected` for `reconnectAfterMs`, or never connects, is
// replaced: we publish again, and the relay offers fresh downstreams with it (relay/README.md).

function gatheringComplete(pc, timeoutMs = 3000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, timeoutMs);  // send what we have: host candidates come first
  });
}

// When a peer connection counts as dead, from its states alone (no timers of its own: `setTimer` and
// `clearTimer` are given, so that tests drive it with a fake clock). update(state) on every change of
// the connection's state; onDead() runs once per death: at "failed" or "closed" at once, after `afterMs` of
// "disconnected", after `connectMs` of never connecting ("new", "checking", "connecting").
const CONNECTING = new Set(["new", "checking", "connecting"]);
const DEATH_GRACE_MS = 1500;

export class DeadLinkTimer {
  constructor({ afterMs = 5000, connectMs = 20000, onDead,
    setTimer = (fn, ms) => setTimeout(fn, ms), clearTimer = (id) => clearTimeout(id) }) {
    Object.assign(this, { afterMs, connectMs, onDead, setTimer, clearTimer });
    this.timer = null;
    this.state = null;
    this.dead = false;
  }

  update(state) {
    if (state === this.state || this.dead) return;
    const wasConnecting = CONNECTING.has(this.state) && this.timer !== null;
    this.state = state;
    if (CONNECTING.has(state) && wasConnecting) return;  // still on its way: the first deadline holds
    this.cancel();
    if (state === "failed" || state === "closed") this.fire();  // closed by the far end (ours are unwatched first)
    else if (state === "disconnected") this.timer = this.setTimer(() => this.fire(), this.afterMs);
    else if (CONNECTING.has(state)) this.timer = this.setTimer(() => this.fire(), this.connectMs);
    // connected, completed: alive
  }

  fire() {
    this.timer = null;
    if (this.dead) return;
    this.dead = true;
    this.onDead(this.state);
  }

  cancel() {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
  }
}

// The worse of a connection's two state machines (Chromium may keep one "connected" a while longer).
function linkState(pc) {
  const order = ["failed", "disconnected", "closed", "new", "checking", "connecting", "connected", "completed"];
  const ice = pc.iceConnectionState;
  const conn = pc.connectionState || ice;
  return order.indexOf(ice) <= order.indexOf(conn) ? ice : conn;
}

export class MediaSession extends EventTarget {
  constructor(client, { iceServers = [], reconnectAfterMs = 5000, connectMs = 30000 } = {}) {
    super();
    this.client = client;
    this.iceServers = iceServers;
    this.reconnectAfterMs = reconnectAfterMs;
    this.connectMs = connectMs;
    this.mediaLost = false;         // our media died; we are reconnecting it (the room was told)
    this.watches = new Map();       // pc -> DeadLinkTimer
    this.recoveries = 0;            // recoveries in a row (since the upstream last connected)
    this.stopped = false;
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
    // The socket came back: tell the room how our media is (a "lost" sent while it was down was not).
    client.addEventListener("welcome", () => {
      if (this.mediaLost) this.client.send({ type: "media", state: "lost" });
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

  // Watch a peer connection; when it dies, recover (publish again: a fresh upstream and fresh downstreams).
  watch(pc, which) {
    // Each recovery in a row waits longer (x2, x4, x8): a link slow rather than dead (a busy relay, a
    // congested uplink) is not torn down again and again, each time adding a handshake to its load.
    const backoff = 2 ** Math.min(this.recoveries, 3);
    const timer = new DeadLinkTimer({
      afterMs: this.reconnectAfterMs * backoff, connectMs: this.connectMs * backoff,
      onDead: (state) => this.linkDied(pc, which, state),
    });
    this.watches.set(pc, timer);
    const update = () => timer.update(linkState(pc));
    pc.addEventListener("iceconnectionstatechange", update);
    pc.addEventListener("connectionstatechange", update);
    update();
  }

  unwatch(pc) {
    const timer = this.watches.get(pc);
    if (timer) { timer.cancel(); timer.dead = true; }
    this.watches.delete(pc);
  }

  linkDied(pc, which, state) {
    // A connection the relay closed on purpose (it replaced a subscription, the publisher left, the room
    // closed) is followed by a message saying so; give it a moment to arrive before calling it dead.
    const current = () => !this.stopped && (which === "upstream" ? pc === this.upstream
      : [...this.downstreams.values()].some((d) => d.pc === pc));
    setTimeout(() => {
      if (!current()) return;
      this.recoveries += 1;
      this.setMediaLost(true, { which, state });
      this.recover();
    }, state === "closed" || state === "failed" ? DEATH_GRACE_MS : 0);
  }

  // Publish again until the upstream connects (each try's own timer says when it is dead too).
  recover() {
    if (this.stopped || !this.stream || this.stream.getTracks().length === 0) return;
    this.publish().catch((err) => {
      this.fail(err);
      if (this.mediaLost && !this.stopped) setTimeout(() => this.recover(), this.reconnectAfterMs);
    });
  }

  setMediaLost(lost, detail = {}) {
    if (this.mediaLost === lost) return;
    this.mediaLost = lost;
    this.client.send({ type: "media", state: lost ? "lost" : "restored" });
    this.emit(lost ? "media-lost" : "media-restored", detail);
  }

  async publishOnce() {
    if (!this.stream || this.stream.getTracks().length === 0) return;
    this.closeAll();
    const pc = new RTCPeerConnection(this.config());
    this.upstream = pc;
    for (const track of this.stream.getTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [this.stream] });
    this.watch(pc, "upstream");
    pc.addEventListener("connectionstatechange", () => {
      if (pc === this.upstream && pc.connectionState === "connected") {
        this.recoveries = 0;
        this.setMediaLost(false);
      }
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
    this.downstreams.set(pc_id, { pc, publisher, last: null });
    this.watch(pc, "downstream");
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
    this.unwatch(entry.pc);
    entry.pc.close();
    this.downstreams.delete(pcId);
    this.emit("remote-gone", { publisher: entry.publisher, pcId });
  }

  closeAll() {
    for (const pcId of [...this.downstreams.keys()]) this.unsubscribe(pcId);
    if (this.upstream) { this.unwatch(this.upstream); this.upstream.close(); }
    this.upstream = null;
  }

  // Leave: every connection closed and our camera and microphone released (no live track left).
  stop() {
    this.stopped = true;
    this.closeAll();
    for (const track of this.stream ? this.stream.getTracks() : []) track.stop();
  }

  // What we receive of each other participant, from getStats: round trip, loss since the last call,
  // frames a second. {publisher: {rtt_ms, loss, fps, video}}
  async downstreamQuality() {
    const out = {};
    for (const entry of this.downstreams.values()) {
      const { pc, publisher } = entry;
      if (pc.connectionState === "closed") continue;
      let rtt = null, received = 0, lost = 0, fps = null, video = false;
      (await pc.getStats()).forEach((s) => {
        if (s.type === "candidate-pair" && s.nominated && typeof s.currentRoundTripTime === "number") {
          rtt = s.currentRoundTripTime * 1000;
        }
        if (s.type === "inbound-rtp") {
          received += s.packetsReceived || 0;
          lost += Math.max(0, s.packetsLost || 0);
          if (s.kind === "video") { video = true; fps = s.framesPerSecond ?? 0; }
        }
      });
      const last = entry.last;
      entry.last = { received, lost };
      const dReceived = last ? received - last.received : received;
      const dLost = last ? lost - last.lost : lost;
      const loss = dReceived + dLost > 0 ? dLost / (dReceived + dLost) : null;
      const dead = linkState(pc) !== "connected" && linkState(pc) !== "completed";
      out[publisher] = { rtt_ms: rtt === null ? null : Math.round(rtt), loss, fps, video, dead };
    }
    return out;
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
