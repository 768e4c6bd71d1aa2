// A 12-lead ECG on calibrated grid paper: the standard 3x4 layout plus a lead II rhythm strip,
// gain/speed/zoom switches, time and amplitude calipers, device and computed measurements.
//
// Usage:  const viewer = new EcgViewer(containerElement);
//         viewer.load(samplesJson, { device: {...}, computed: {...}, statements: [...], critical: [{code, message}],
//                                    computedStatements: [{code, zh, en}] });
// samplesJson is the shape served by studies/formats/ecg/serve.py:
//   {sampling_rate, n_samples, units: "uV", encoding: "int16-le-base64" | "int-list", leads: {name: data}}
// Paper is drawn in millimetres and converted with the browser's CSS px per mm (1 in = 96 px = 25.4 mm),
// so at zoom 1 a 5 mm square on screen measures 5 mm on a screen whose CSS pixels are true to size.

import { t } from "./strings.js";
import { el } from "./dom.js";

export const LAYOUT_3X4 = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]];
export const RHYTHM_LEAD = "II";
export const GAINS = [5, 10, 20];        // mm/mV
export const SPEEDS = [25, 50];          // mm/s
export const ZOOMS = [0.75, 1, 1.5, 2, 3];
const COLUMN_SECONDS = 2.5;              // each of the 4 columns shows the next 2.5 s
const LEFT_MM = 10;                      // room for the 1 mV calibration pulse at 25 mm/s (wider at 50 mm/s)
const CALIBRATION_X_MM = 2.5;            // where the pulse rises
const LABEL_GAP_MM = 1;                  // between the pulse's tail and the first column's lead label
const LABEL_X_MM = 1;                    // a lead label's offset into its column
const RIGHT_MM = 2;
const TOP_MM = 4;
export const PAPER = { background: "#fff9f7", minor: "#f5cfcf", major: "#e39a9a", trace: "#111", label: "#333" };

/** ECG paper in a context scaled to millimetres: 1 mm minor and 5 mm major lines, each about one CSS pixel wide. */
export function drawPaper(ctx, w, h, pxPerMm) {
  ctx.fillStyle = PAPER.background;
  ctx.fillRect(0, 0, w, h);
  const minPx = 1 / pxPerMm; // one CSS pixel, in mm
  for (const [step, colour, width] of [[1, PAPER.minor, 0.6 * minPx], [5, PAPER.major, 1.2 * minPx]]) {
    ctx.beginPath();
    for (let x = 0; x <= w + 1e-6; x += step) { ctx.moveTo(x, 0); ctx.lineTo(x, h); }
    for (let y = 0; y <= h + 1e-6; y += step) { ctx.moveTo(0, y); ctx.lineTo(w, y); }
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.stroke();
  }
}
const MEASUREMENTS = [
  ["heart_rate_bpm", "Heart rate", "/min"], ["rr_ms", "RR", "ms"], ["rr_mean_ms", "RR", "ms"],
  ["pr_ms", "PR", "ms"], ["qrs_ms", "QRS", "ms"], ["qt_ms", "QT", "ms"], ["qtc_ms", "QTc", "ms"],
  ["p_axis_deg", "P axis", "°"], ["qrs_axis_deg", "QRS axis", "°"], ["t_axis_deg", "T axis", "°"],
];

/** CSS pixels per millimetre, measured from a 100 mm box (96/25.4 in every conforming browser). */
export function cssPxPerMm(doc = document) {
  const probe = doc.createElement("div");
  probe.style.cssText = "position:absolute;visibility:hidden;width:100mm;height:1px;left:-1000mm";
  doc.body.append(probe);
  const px = probe.getBoundingClientRect().width / 100;
  probe.remove();
  return px || 96 / 25.4;
}

/** Decode the served JSON into {rate, n, leads: {name: Float32Array of mV}}. */
export function decodeSamples(json) {
  const scale = (json.units || "uV").toLowerCase() === "mv" ? 1 : 1 / 1000;
  const leads = {};
  for (const [name, data] of Object.entries(json.leads || {})) {
    let values;
    if (json.encoding === "int-list" || Array.isArray(data)) {
      values = data;
    } else {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      values = new Int16Array(bytes.buffer, 0, bytes.length >> 1);
    }
    leads[name] = Float32Array.from(values, (v) => v * scale);
  }
  const n = json.n_samples ?? Math.max(0, ...Object.values(leads).map((a) => a.length));
  return { rate: Number(json.sampling_rate), n, leads };
}

export class EcgViewer {
  constructor(container, { gain = 10, speed = 25, zoom = 1, toolbar = true } = {}) {
    this.container = container;
    this.showToolbar = toolbar;  // false: a follower (the serial comparison's prior) takes its paper from setPaper
    this.gain = gain;
    this.speed = speed;
    this.zoom = zoom;
    this.caliperMode = "time";
    this.caliper = null;
    this.ecg = null;
    this.build();
  }

  build() {
    this.container.classList.add("ecg-viewer");
    this.toolbar = el("div", { class: "ecg-toolbar", role: "toolbar" });
    this.readout = el("output", { class: "ecg-caliper-readout", "aria-live": "polite" });
    this.canvas = el("canvas", { class: "ecg-paper", "aria-label": t("12-lead ECG") });
    this.overlay = el("canvas", { class: "ecg-overlay" });
    this.scroller = el("div", { class: "ecg-scroller" }, el("div", { class: "ecg-stack" }, this.canvas, this.overlay));
    this.measurements = el("aside", { class: "ecg-measurements" });
    this.container.replaceChildren(this.toolbar, el("div", { class: "ecg-body" }, this.scroller, this.measurements));
    this.buildToolbar();
    this.toolbar.hidden = !this.showToolbar;
    this.bindCalipers();
  }

  buildToolbar() {
    const group = (label, values, current, unit, set) => {
      const buttons = values.map((v) => el("button", {
        type: "button", dataset: { value: v }, "aria-pressed": String(v === current),
        onclick: () => { set(v); buttons.forEach((b) => b.setAttribute("aria-pressed", String(b === buttonFor(v)))); },
      }, `${v}${unit}`));
      const buttonFor = (v) => buttons.find((b) => Number(b.dataset.value) === v);
      return el("span", { class: "ecg-switch", dataset: { switch: label } }, el("span", { class: "ecg-switch-label" }, t(label)), buttons);
    };
    this.toolbar.replaceChildren(
      group("Gain", GAINS, this.gain, " mm/mV", (v) => this.setGain(v)),
      group("Speed", SPEEDS, this.speed, " mm/s", (v) => this.setSpeed(v)),
      group("Zoom", ZOOMS, this.zoom, "×", (v) => this.setZoom(v)),
      group("Caliper", [], null, "", () => {}),
      this.readout,
    );
    const caliperGroup = this.toolbar.querySelector('[data-switch="Caliper"]');
    for (const [mode, label] of [["time", "Time"], ["amplitude", "Amplitude"]]) {
      caliperGroup.append(el("button", {
        type: "button", dataset: { caliper: mode }, "aria-pressed": String(mode === this.caliperMode),
        onclick: (e) => {
          this.caliperMode = mode;
          caliperGroup.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === e.currentTarget)));
          this.clearCaliper();
        },
      }, t(label)));
    }
  }

  load(samplesJson, { device = {}, computed = {}, statements = [], critical = [], computedStatements = [] } = {}) {
    this.ecg = decodeSamples(samplesJson);
    this.renderMeasurements(device, computed, statements, critical, computedStatements);
    this.draw();
  }

  setGain(v) { this.gain = v; this.paperChanged(); }
  setSpeed(v) { this.speed = v; this.paperChanged(); }
  setZoom(v) { this.zoom = v; this.paperChanged(); }

  /** The same paper as another viewer's (gain, speed, zoom): the serial comparison draws both alike. */
  setPaper({ gain = this.gain, speed = this.speed, zoom = this.zoom } = {}) {
    Object.assign(this, { gain, speed, zoom });
    for (const [name, value] of [["Gain", gain], ["Speed", speed], ["Zoom", zoom]]) {
      this.toolbar.querySelectorAll(`[data-switch="${name}"] button`).forEach(
        (b) => b.setAttribute("aria-pressed", String(Number(b.dataset.value) === value)));
    }
    this.clearCaliper();
    this.draw();
  }

  get paper() { return { gain: this.gain, speed: this.speed, zoom: this.zoom }; }

  paperChanged() {
    this.clearCaliper();
    this.draw();
    this.container.dispatchEvent(new CustomEvent("paper-changed", { detail: this.paper }));
  }

  // --- geometry (all in mm) -------------------------------------------------
  get columnMm() { return COLUMN_SECONDS * this.speed; }
  /** Where the calibration pulse (0.2 s wide, 2 mm tails) ends: it widens with the paper speed. */
  get calibrationEndMm() { return CALIBRATION_X_MM + 0.2 * this.speed + 2; }
  /** The traces start right of the pulse, so that the first column's lead labels never overlap it. */
  get leftMm() { return Math.max(LEFT_MM, Math.ceil(this.calibrationEndMm + LABEL_GAP_MM - LABEL_X_MM)); }
  get rowMm() { return 15 + 1.5 * this.gain; }
  get widthMm() { return this.leftMm + 4 * this.columnMm + RIGHT_MM; }
  get heightMm() { return TOP_MM + 4 * this.rowMm + 2; }
  baselineMm(row) { return TOP_MM + row * this.rowMm + this.rowMm * 0.6; }
  get pxPerMm() { return this.cssPxPerMm * this.zoom; }

  draw() {
    if (!this.ecg) return;
    this.cssPxPerMm = cssPxPerMm(this.container.ownerDocument);
    const ratio = window.devicePixelRatio || 1;
    const cssW = this.widthMm * this.pxPerMm;
    const cssH = this.heightMm * this.pxPerMm;
    for (const canvas of [this.canvas, this.overlay]) {
      canvas.width = Math.round(cssW * ratio);
      canvas.height = Math.round(cssH * ratio);
      canvas.style.width = `${cssW}px`;
      canvas.style.height = `${cssH}px`;
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(ratio * this.pxPerMm, 0, 0, ratio * this.pxPerMm, 0, 0); // draw in mm
    this.drawGrid(ctx);
    LAYOUT_3X4.forEach((leads, row) => {
      this.drawCalibration(ctx, row);
      leads.forEach((lead, col) => {
        const t0 = col * COLUMN_SECONDS;
        const x = this.leftMm + col * this.columnMm;
        this.drawTrace(ctx, lead, t0, t0 + COLUMN_SECONDS, x, this.baselineMm(row));
        this.drawLabel(ctx, lead, x, this.baselineMm(row));
        if (col > 0) this.drawSeparator(ctx, x, this.baselineMm(row));
      });
    });
    this.drawCalibration(ctx, 3);
    this.drawTrace(ctx, RHYTHM_LEAD, 0, 4 * COLUMN_SECONDS, this.leftMm, this.baselineMm(3));
    this.drawLabel(ctx, RHYTHM_LEAD, this.leftMm, this.baselineMm(3));
    // the geometry, for checks: the pulse ends left of the first label
    Object.assign(this.container.dataset, { speed: String(this.speed), gain: String(this.gain), zoom: String(this.zoom),
      calibrationEndMm: String(this.calibrationEndMm),
      labelXMm: String(this.leftMm + LABEL_X_MM) });
    this.container.dataset.drawnLeads = String(this.drawnLeads.size);
    this.drawCaliper();
    // the first trace on screen, for bench/reading_bench.py: a mark at the next frame, from the navigation's start
    if (!this.painted) { this.painted = true; requestAnimationFrame(() => performance.mark("ecg-painted")); }
  }

  drawGrid(ctx) {
    const w = this.widthMm, h = this.heightMm;
    drawPaper(ctx, w, h, this.pxPerMm);
  }

  drawCalibration(ctx, row) {
    // A 1 mV, 0.2 s square pulse: its height is the gain, its width 0.2 s at the paper speed.
    const base = this.baselineMm(row), x = CALIBRATION_X_MM, w = 0.2 * this.speed;
    ctx.beginPath();
    ctx.moveTo(x - 2, base); ctx.lineTo(x, base); ctx.lineTo(x, base - this.gain);
    ctx.lineTo(x + w, base - this.gain); ctx.lineTo(x + w, base); ctx.lineTo(x + w + 2, base);
    ctx.strokeStyle = PAPER.trace;
    ctx.lineWidth = 1.2 / this.pxPerMm;
    ctx.stroke();
  }

  drawTrace(ctx, lead, t0, t1, xMm, baseMm) {
    const samples = this.ecg.leads[lead];
    if (!samples) return;
    const rate = this.ecg.rate;
    const first = Math.max(0, Math.floor(t0 * rate));
    const last = Math.min(samples.length, Math.ceil(t1 * rate));
    if (last - first < 2) return;
    ctx.beginPath();
    for (let i = first; i < last; i++) {
      const x = xMm + (i / rate - t0) * this.speed;
      const y = baseMm - samples[i] * this.gain;
      if (i === first) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    }
    ctx.strokeStyle = PAPER.trace;
    ctx.lineWidth = 1.1 / this.pxPerMm;
    ctx.lineJoin = "round";
    ctx.stroke();
    this.drawnLeads.add(lead);
  }

  drawLabel(ctx, lead, xMm, baseMm) {
    ctx.fillStyle = PAPER.label;
    ctx.font = `bold 3.2px system-ui, sans-serif`;
    ctx.fillText(lead, xMm + LABEL_X_MM, baseMm - this.rowMm * 0.42);
  }

  drawSeparator(ctx, xMm, baseMm) {
    ctx.beginPath();
    ctx.moveTo(xMm, baseMm - 3); ctx.lineTo(xMm, baseMm + 3);
    ctx.strokeStyle = PAPER.trace;
    ctx.lineWidth = 1 / this.pxPerMm;
    ctx.stroke();
  }

  get drawnLeads() {
    if (!this._drawn || this._drawnFor !== this.ecg) { this._drawn = new Set(); this._drawnFor = this.ecg; }
    return this._drawn;
  }

  // --- calipers ---------------------------------------------------------------
  bindCalipers() {
    const toMm = (event) => {
      const box = this.overlay.getBoundingClientRect();
      return { x: (event.clientX - box.left) / this.pxPerMm, y: (event.clientY - box.top) / this.pxPerMm };
    };
    this.overlay.addEventListener("pointerdown", (event) => {
      if (!this.ecg || event.button !== 0) return;
      this.overlay.setPointerCapture?.(event.pointerId);
      const at = toMm(event);
      this.caliper = { mode: this.caliperMode, a: at, b: at, dragging: true };
      this.drawCaliper();
    });
    this.overlay.addEventListener("pointermove", (event) => {
      if (!this.caliper?.dragging) return;
      this.caliper.b = toMm(event);
      this.drawCaliper();
    });
    const end = (event) => {
      if (!this.caliper?.dragging) return;
      this.caliper.b = toMm(event);
      this.caliper.dragging = false;
      this.drawCaliper();
    };
    this.overlay.addEventListener("pointerup", end);
    this.overlay.addEventListener("pointercancel", end);
  }

  clearCaliper() {
    this.caliper = null;
    this.readout.textContent = "";
    this.drawCaliper();
  }

  /** The caliper's measure: {ms, bpm} for time, {mv} for amplitude, from the paper's speed and gain. */
  caliperValue() {
    if (!this.caliper) return null;
    const { a, b, mode } = this.caliper;
    if (mode === "time") {
      const ms = (Math.abs(b.x - a.x) / this.speed) * 1000;
      return { mode, ms, bpm: ms > 0 ? 60000 / ms : null };
    }
    return { mode, mv: Math.abs(b.y - a.y) / this.gain };
  }

  drawCaliper() {
    const ctx = this.overlay.getContext("2d");
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    if (!this.caliper) return;
    ctx.setTransform(ratio * this.pxPerMm, 0, 0, ratio * this.pxPerMm, 0, 0);
    const { a, b, mode } = this.caliper;
    ctx.strokeStyle = "#1f5fa8";
    ctx.fillStyle = "#1f5fa8";
    ctx.lineWidth = 1.5 / this.pxPerMm;
    ctx.beginPath();
    if (mode === "time") {
      for (const x of [a.x, b.x]) { ctx.moveTo(x, 0); ctx.lineTo(x, this.heightMm); }
      ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, a.y);
    } else {
      for (const y of [a.y, b.y]) { ctx.moveTo(0, y); ctx.lineTo(this.widthMm, y); }
      ctx.moveTo(a.x, a.y); ctx.lineTo(a.x, b.y);
    }
    ctx.stroke();
    const value = this.caliperValue();
    const text = value.mode === "time"
      ? `Δt ${Math.round(value.ms)} ms` + (value.bpm ? ` · ${Math.round(value.bpm)} /min` : "")
      : `ΔV ${value.mv.toFixed(2)} mV`;
    this.readout.textContent = text;
    this.readout.dataset.ms = value.ms !== undefined ? value.ms.toFixed(1) : "";
    this.readout.dataset.mv = value.mv !== undefined ? value.mv.toFixed(3) : "";
    ctx.font = "bold 3.5px system-ui, sans-serif";
    const at = { x: Math.min(a.x, b.x) + 1, y: Math.max(5, Math.min(a.y, b.y) - 1.5) };
    ctx.fillStyle = "rgba(255,255,255,.85)";
    ctx.fillRect(at.x - 0.5, at.y - 3.5, ctx.measureText(text).width + 1, 4.5);
    ctx.fillStyle = "#1f5fa8";
    ctx.fillText(text, at.x, at.y);
  }

  // --- measurements -------------------------------------------------------------
  renderMeasurements(device, computed, statements, critical = [], computedStatements = []) {
    const known = new Set(MEASUREMENTS.map(([key]) => key));
    const table = (title, values, computedLabel) => {
      const withheld = computedLabel ? (values?.withheld || {}) : {};
      const rows = MEASUREMENTS.filter(([key]) => (values?.[key] !== null && values?.[key] !== undefined) || withheld[key])
        .map(([key, label, unit]) => el("tr", { dataset: { key } },
          el("th", {}, t(label)),
          withheld[key] ? el("td", { class: "muted", title: withheld[key] }, t("not applicable"))
            : el("td", {}, `${Math.round(Number(values[key]))} ${unit}`),
          computedLabel ? el("td", { class: "computed-tag" }, t("computed")) : null));
      // a device's own measurements under their own names (e.g. GE "Ventricular Heart Rate")
      const others = computedLabel ? [] : Object.entries(values || {})
        .filter(([key, v]) => !known.has(key) && typeof v === "number")
        .map(([key, v]) => el("tr", { dataset: { key } }, el("th", {}, key), el("td", {}, `${v}`)));
      const all = [...rows, ...others];
      return el("section", { class: computedLabel ? "ecg-computed" : "ecg-device" },
        el("h3", {}, title),
        all.length ? el("table", {}, el("tbody", {}, all)) : el("p", { class: "muted" }, t("None")));
    };
    const lead = computed?.lead ? ` (${t("lead")} ${computed.lead})` : "";
    this.measurements.replaceChildren(...[
      critical.length ? el("section", { class: "ecg-critical", role: "alert" }, el("h3", {}, t("Critical value")),
        el("ul", {}, critical.map((f) => el("li", {}, f.message || f.code)))) : null,
      table(t("Device measurements"), device, false),
      table(`${t("Computed measurements")}${lead}`, computed, true),
      statements?.length ? el("section", { class: "ecg-device-statements" }, el("h3", {}, t("Device statements")),
        el("ul", {}, statements.map((s) => el("li", {}, s)))) : null,
      computedStatements?.length ? el("section", { class: "ecg-computed-statements" },
        el("h3", {}, t("Computed statements"), " ", el("span", { class: "computed-tag" }, t("to be confirmed by the expert"))),
        el("ul", {}, computedStatements.map((s) => el("li", { dataset: { code: s.code } }, `${s.zh} · ${s.en}`)))) : null,
    ].filter(Boolean));
  }
}
