// The live ECG in a room (protocol: docs/signalling.md, "Live ECG"). Plain ES module.
//
// EcgPanel: a scrolling strip of one lead (the newest samples at the right) on ECG paper,
// 25 mm/s and 10 mm/mV as on the workstation's viewer, a lead selector, a sample counter, and
// the stream's state (live, stopped, saved as study #id). Every participant's page has one.
// EcgSender: the village side's device path: samples in, numbered chunks out every 250 ms, and
// after a reconnect the chunks the server did not store are sent again (welcome.ecg.next_seq).

import { PAPER, cssPxPerMm, decodeSamples, drawPaper } from "../frontend/js/ecg-viewer.js";
import { t } from "../frontend/js/strings.js";

const KEEP_SECONDS = 12;   // samples kept per lead: a wide screen shows about 10 s at 25 mm/s
const SPEED = 25;          // mm/s
const GAIN = 10;           // mm/mV
const HEIGHT_MM = 32;

// Module scripts run once the page is parsed: the strings table (#tc-strings) is there.
const REASON_TEXT = {
  stopped: t("Stopped"), finished: t("Finished"), left: t("The host left"),
  room_closed: t("Room closed"), idle: t("Signal lost"), failed: t("Replay failed"),
};

export class EcgPanel {
  // studyLink(id) -> URL of the saved study for this reader, or null (the patient's phone)
  constructor(container, { studyLink = () => null } = {}) {
    this.container = container;
    this.studyLink = studyLink;
    this.stream = null;
    this.received = 0;
    this.build();
  }

  build() {
    const doc = this.container.ownerDocument;
    this.container.classList.add("ecg-panel");
    this.container.innerHTML = `
      <div class="ecg-panel-bar">
        <label>${t("Lead")} <select class="ecg-lead" disabled></select></label>
        <span class="ecg-count" aria-live="off">0 samples</span>
        <span class="ecg-state" role="status">${t("No ECG")}</span>
      </div>
      <canvas class="ecg-strip" aria-label="${t("Live ECG")}"></canvas>`;
    this.select = this.container.querySelector(".ecg-lead");
    this.count = this.container.querySelector(".ecg-count");
    this.stateEl = this.container.querySelector(".ecg-state");
    this.canvas = this.container.querySelector("canvas");
    this.select.addEventListener("change", () => this.scheduleDraw());
    this.pxPerMm = cssPxPerMm(doc);
    this.container.dataset.samples = "0";
    new ResizeObserver(() => this.scheduleDraw()).observe(this.container);
    this.draw();
  }

  // A stream starts (event ecg.started, or welcome.ecg when the page opens mid-stream).
  start(info) {
    if (this.stream && this.stream.stream === info.stream) return;
    const rate = Number(info.sampling_rate);
    const capacity = Math.ceil(rate * KEEP_SECONDS);
    this.stream = { stream: info.stream, rate, leads: info.leads, capacity, total: null, ended: false, lastSeq: -1,
                    buffers: Object.fromEntries(info.leads.map((n) => [n, new Float32Array(capacity).fill(NaN)])) };
    this.received = 0;
    this.select.replaceChildren(...info.leads.map((n) => new Option(n, n)));
    this.select.value = info.leads.includes("II") ? "II" : info.leads[0];
    this.select.disabled = false;
    this.container.dataset.stream = info.stream;
    this.container.dataset.state = "live";
    this.setState(info.source === "replay" ? t("Replaying ECG #{id}", { id: info.ecg }) : t("Live now"), "live");
    this.showCount();
    this.scheduleDraw();
  }

  // An ecg_chunk frame: {stream, seq, start, n, leads: {name: base64 int16}}.
  push(chunk) {
    const s = this.stream;
    if (!s || chunk.stream !== s.stream || chunk.seq <= s.lastSeq) return;  // another stream's, or had it
    s.lastSeq = chunk.seq;
    const decoded = decodeSamples({ encoding: "int16-le-base64", units: "uV", n_samples: chunk.n,
                                    sampling_rate: s.rate, leads: chunk.leads });
    if (s.total !== null && chunk.start > s.total) this.blank(s.total, chunk.start);  // skipped while away
    for (const [name, values] of Object.entries(decoded.leads)) {
      const buffer = s.buffers[name];
      if (!buffer) continue;
      for (let i = 0; i < values.length; i++) buffer[(chunk.start + i) % s.capacity] = values[i];
    }
    s.total = Math.max(s.total ?? 0, chunk.start + chunk.n);
    this.received += chunk.n;
    this.showCount();
    this.scheduleDraw();
  }

  blank(from, to) {
    const s = this.stream;
    for (let i = Math.max(from, to - s.capacity); i < to; i++) {
      for (const buffer of Object.values(s.buffers)) buffer[i % s.capacity] = NaN;
    }
  }

  stopped(data) {
    if (!this.stream || this.stream.stream !== data.stream) return;
    this.stream.ended = true;
    this.container.dataset.state = "stopped";
    this.setState(`${REASON_TEXT[data.reason] || data.reason} · ${data.duration_s.toFixed(1)} s`, "stopped");
  }

  saved(data) {
    if (this.stream && this.stream.stream !== data.stream) return;
    this.container.dataset.state = "saved";
    this.container.dataset.study = data.study;
    const text = data.replayed ? t("Replayed ECG #{id}", { id: data.study }) : t("Saved as ECG #{id}", { id: data.study });
    this.setState(text, "saved", this.studyLink(data.study));
    if (data.critical && data.critical.length) this.stateEl.append(` · ⚠ ${t("critical")}`);
  }

  failed(data) {
    if (this.stream && this.stream.stream !== data.stream) return;
    this.container.dataset.state = "failed";
    this.setState(t("Not saved: {detail}", { detail: data.detail }), "failed");
  }

  setState(text, cls, href = null) {
    this.stateEl.className = `ecg-state ${cls}`;
    if (href) {
      const link = this.container.ownerDocument.createElement("a");
      link.href = href;
      link.textContent = text;
      this.stateEl.replaceChildren(link);
    } else {
      this.stateEl.textContent = text;
    }
  }

  showCount() {
    this.count.textContent = `${this.received} samples`;
    this.container.dataset.samples = String(this.received);
  }

  scheduleDraw() {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => { this.drawPending = false; this.draw(); });
  }

  draw() {
    const ratio = window.devicePixelRatio || 1;
    const cssW = Math.max(200, this.container.clientWidth);
    const cssH = HEIGHT_MM * this.pxPerMm;
    if (this.canvas.width !== Math.round(cssW * ratio)) {
      this.canvas.width = Math.round(cssW * ratio);
      this.canvas.height = Math.round(cssH * ratio);
      this.canvas.style.width = `${cssW}px`;
      this.canvas.style.height = `${cssH}px`;
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(ratio * this.pxPerMm, 0, 0, ratio * this.pxPerMm, 0, 0);  // draw in mm
    const widthMm = cssW / this.pxPerMm;
    this.drawGrid(ctx, widthMm);
    this.drawTrace(ctx, widthMm);
  }

  drawGrid(ctx, w) {
    drawPaper(ctx, w, HEIGHT_MM, this.pxPerMm);
  }

  drawTrace(ctx, widthMm) {
    const s = this.stream;
    if (!s || s.total === null) return;
    const lead = this.select.value;
    const buffer = s.buffers[lead];
    const base = HEIGHT_MM * 0.6;
    const visible = Math.min(s.capacity, Math.floor((widthMm / SPEED) * s.rate), s.total);
    const first = s.total - visible;
    ctx.beginPath();
    let pen = false;
    for (let i = first; i < s.total; i++) {
      const value = buffer[i % s.capacity];
      if (Number.isNaN(value)) { pen = false; continue; }
      const x = widthMm - ((s.total - i) / s.rate) * SPEED;
      const y = base - value * GAIN;
      if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      pen = true;
    }
    ctx.strokeStyle = PAPER.trace;
    ctx.lineWidth = 1.1 / this.pxPerMm;
    ctx.lineJoin = "round";
    ctx.stroke();
    ctx.fillStyle = PAPER.label;
    ctx.font = "bold 3.2px system-ui, sans-serif";
    ctx.fillText(lead, 1.5, 4.5);
  }
}

// Wire a panel to a RoomClient: started/stopped/saved events, chunks, and the welcome's live stream.
export function connectPanel(client, panel) {
  client.addEventListener("welcome", (e) => { if (e.detail.ecg) panel.start(e.detail.ecg); });
  client.addEventListener("ecg_chunk", (e) => panel.push(e.detail));
  client.addEventListener("event", (e) => {
    const { kind, data } = e.detail;
    if (kind === "ecg.started") panel.start(data);
    else if (kind === "ecg.stopped") panel.stopped(data);
    else if (kind === "ecg.saved") panel.saved(data);
    else if (kind === "ecg.save_failed") panel.failed(data);
  });
}

function base64Int16(values) {
  const clipped = Int16Array.from(values, (v) => Math.max(-32767, Math.min(32767, Math.round(v))));
  const bytes = new Uint8Array(clipped.buffer);  // little-endian on every browser platform we target
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

export class EcgSender extends EventTarget {
  // The host's device: `await sender.start({leads, samplingRate})`, then `sender.push({II: [µV...], ...})`
  // as samples arrive, then `sender.stop()`. Chunks go out every `chunkMs`.
  constructor(client, { chunkMs = 250, keepSeconds = 60 } = {}) {
    super();
    this.client = client;
    this.chunkMs = chunkMs;
    this.keepSeconds = keepSeconds;
    this.stream = null;
    this.sent = [];        // [{seq, n, message}] kept for a resend after a reconnect
    this.blocked = false;  // the socket dropped: queue until the welcome says where the server is
    client.addEventListener("reconnecting", () => { this.blocked = true; });
    client.addEventListener("welcome", (e) => this.resume(e.detail.ecg));
  }

  start({ leads, samplingRate }) {
    this.leads = leads;
    this.rate = samplingRate;
    this.pending = Object.fromEntries(leads.map((n) => [n, []]));
    this.seq = 0;
    this.total = 0;
    return new Promise((resolve, reject) => {
      const onEvent = (e) => {
        const { kind, data } = e.detail;
        if (kind !== "ecg.started" || data.source !== "device") return;
        this.client.removeEventListener("event", onEvent);
        this.client.removeEventListener("error", onError);
        this.stream = data.stream;
        this.timer = setInterval(() => this.flush(), this.chunkMs);
        resolve(data.stream);
      };
      const onError = (e) => {
        if (!/^(not_host|ecg_busy|invalid|room_closed)$/.test(e.detail.code)) return;
        this.client.removeEventListener("event", onEvent);
        this.client.removeEventListener("error", onError);
        reject(e.detail);
      };
      this.client.addEventListener("event", onEvent);
      this.client.addEventListener("error", onError);
      this.client.send({ type: "ecg_start", leads, sampling_rate: samplingRate, units: "uV" });
    });
  }

  push(samples) {
    for (const name of this.leads) this.pending[name].push(...samples[name]);
  }

  flush() {
    const n = Math.min(this.pending[this.leads[0]].length, Math.floor(this.rate));
    if (!this.stream || n === 0) return;
    const leads = {};
    for (const name of this.leads) leads[name] = base64Int16(this.pending[name].splice(0, n));
    const message = { type: "ecg_chunk", stream: this.stream, seq: this.seq++, leads };
    this.sent.push({ seq: message.seq, n, message });
    const keep = Math.ceil((this.keepSeconds * this.rate) / n);
    if (this.sent.length > keep) this.sent.splice(0, this.sent.length - keep);
    if (!this.blocked && !this.client.send(message)) this.blocked = true;
    // The server does not echo a chunk to its sender: the page draws it from here (an ecg_chunk frame).
    this.dispatchEvent(new CustomEvent("chunk", { detail: { ...message, start: this.total, n } }));
    this.total += n;
  }

  resume(live) {
    if (!this.stream) return;
    if (!live || live.stream !== this.stream) { this.end(); return; }  // ended while we were away
    for (const { seq, message } of this.sent) if (seq >= live.next_seq) this.client.send(message);
    this.blocked = false;
  }

  stop() {
    if (!this.stream) return;
    while (this.pending[this.leads[0]].length) this.flush();
    this.client.send({ type: "ecg_stop", stream: this.stream });
    this.end();
  }

  end() {
    clearInterval(this.timer);
    this.stream = null;
    this.sent = [];
  }
}
