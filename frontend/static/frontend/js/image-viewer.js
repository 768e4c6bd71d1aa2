// A DICOM image viewer on server-rendered frames: frame scroll (wheel/slider), window/level by
// drag and presets, zoom/pan, series thumbnails. The server renders each frame with the window
// asked for (PNG), so the browser never decodes DICOM.
//
// Usage:  const viewer = new ImageViewer(containerElement);
//         viewer.load({ series: [{ description, modality, instances: [{ id, frames }] }] });
// (the shape of the studies branch's imaging-study endpoint; frames 0 means a single-frame instance)

import { FRAME } from "./endpoints.js";
import { el } from "./dom.js";
import { t } from "./strings.js";

// Window centre / width in Hounsfield units, as radiologists set them on CT.
export const PRESETS = {
  lung: { label: "Lung", center: -600, width: 1500 },
  mediastinum: { label: "Mediastinum", center: 40, width: 400 },
  bone: { label: "Bone", center: 400, width: 1800 },
  brain: { label: "Brain", center: 40, width: 80 },
  abdomen: { label: "Abdomen", center: 60, width: 400 },
};
const DRAG_REQUEST_MS = 120;   // at most one frame request per this while dragging the window
const LEVEL_PER_PX = 2;        // HU per pixel of drag
const DEFAULT_WINDOW = { center: 40, width: 400 };

export class ImageViewer {
  constructor(container) {
    this.container = container;
    this.series = [];
    this.frames = [];       // [{instance, frame}] of the current series
    this.index = 0;
    this.window = { center: null, width: null }; // null: the file's own window
    this.view = { scale: 1, x: 0, y: 0 };
    this.tool = "window";
    this.image = null;
    this.requestSeq = 0;
    this.build();
  }

  build() {
    this.container.classList.add("image-viewer");
    this.thumbs = el("nav", { class: "iv-thumbs", "aria-label": t("Series") });
    this.canvas = el("canvas", { class: "iv-canvas", width: 512, height: 512, tabindex: 0 });
    this.slider = el("input", { type: "range", min: 0, max: 0, value: 0, class: "iv-slider", "aria-label": t("Frame") });
    this.info = el("output", { class: "iv-info" });
    const presets = Object.entries(PRESETS).map(([key, p]) =>
      el("button", { type: "button", dataset: { preset: key }, onclick: () => this.setWindow(p.center, p.width) }, t(p.label)));
    const tools = [["window", "Window/level"], ["pan", "Pan"]].map(([tool, label]) =>
      el("button", { type: "button", dataset: { tool }, "aria-pressed": String(tool === this.tool),
        onclick: (e) => this.setTool(tool, e.currentTarget) }, t(label)));
    this.toolbar = el("div", { class: "iv-toolbar", role: "toolbar" }, tools, presets,
      el("button", { type: "button", onclick: () => this.zoomBy(1.25) }, "+"),
      el("button", { type: "button", onclick: () => this.zoomBy(0.8) }, "−"),
      el("button", { type: "button", onclick: () => this.reset() }, t("Reset")));
    this.container.replaceChildren(this.toolbar,
      el("div", { class: "iv-body" }, this.thumbs, el("div", { class: "iv-main" }, this.canvas, this.slider, this.info)));
    this.slider.addEventListener("input", () => this.show(Number(this.slider.value)));
    this.canvas.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    this.bindDrag();
  }

  load(study) {
    this.series = study.series || [];
    this.thumbs.replaceChildren(...this.series.map((s, i) => {
      const first = s.instances?.[0];
      return el("button", { type: "button", class: "iv-thumb", dataset: { series: i }, onclick: () => this.openSeries(i) },
        first ? el("img", { src: FRAME(first.id, 1), alt: s.description || s.modality || "", loading: "lazy" }) : null,
        el("span", {}, `${s.modality || ""} ${s.description || ""}`.trim() || `#${i + 1}`,
          el("small", {}, ` (${frameList(s).length})`)));
    }));
    if (this.series.length) this.openSeries(0);
  }

  openSeries(i) {
    this.frames = frameList(this.series[i]);
    this.thumbs.querySelectorAll(".iv-thumb").forEach((b) => b.setAttribute("aria-current", String(Number(b.dataset.series) === i)));
    this.slider.max = String(Math.max(0, this.frames.length - 1));
    this.reset(false);
    this.show(0);
  }

  show(index) {
    if (!this.frames.length) return;
    this.index = Math.max(0, Math.min(this.frames.length - 1, index));
    this.slider.value = String(this.index);
    this.request();
  }

  setWindow(center, width) {
    this.window = { center: Math.round(center), width: Math.max(1, Math.round(width)) };
    for (const button of this.toolbar.querySelectorAll("[data-preset]")) {
      const p = PRESETS[button.dataset.preset];
      button.setAttribute("aria-pressed", String(p.center === this.window.center && p.width === this.window.width));
    }
    this.request();
  }

  setTool(tool, button) {
    this.tool = tool;
    this.toolbar.querySelectorAll("[data-tool]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
  }

  zoomBy(factor) {
    this.view.scale = Math.max(0.25, Math.min(8, this.view.scale * factor));
    this.paint();
  }

  reset(repaint = true) {
    this.view = { scale: 1, x: 0, y: 0 };
    if (repaint) { this.window = { center: null, width: null }; this.request(); }
  }

  /** Fetch the current frame with the current window; a newer request makes older ones stale. */
  async request() {
    const { instance, frame } = this.frames[this.index] || {};
    if (instance === undefined) return;
    const seq = ++this.requestSeq;
    const url = FRAME(instance, frame + 1, this.window.center, this.window.width); // the API counts frames from 1
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const [center, width] = (response.headers.get("X-Window") || "").split(",").map((v) => (v === "" || v === "None" ? null : Number(v)));
      const bitmap = await createImageBitmap(await response.blob());
      if (seq !== this.requestSeq) return;
      if (this.window.center === null && Number.isFinite(center) && Number.isFinite(width)) {
        this.window = { center: Math.round(center), width: Math.round(width) };
      }
      this.image = bitmap;
      this.paint();
    } catch (error) {
      if (seq === this.requestSeq) this.info.textContent = `${t("Could not load the image")}: ${error.message}`;
    }
  }

  paint() {
    const ctx = this.canvas.getContext("2d");
    const { width: W, height: H } = this.canvas;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, W, H);
    if (this.image) {
      const fit = Math.min(W / this.image.width, H / this.image.height) * this.view.scale;
      const w = this.image.width * fit, h = this.image.height * fit;
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.image, (W - w) / 2 + this.view.x, (H - h) / 2 + this.view.y, w, h);
    }
    const win = this.window.center === null ? t("default") : `${this.window.center} / ${this.window.width}`;
    this.info.textContent = `${t("Frame")} ${this.index + 1}/${this.frames.length} · ${t("Window")} ${win} · ${Math.round(this.view.scale * 100)}%`;
    this.container.dataset.frame = String(this.index);
    this.container.dispatchEvent(new CustomEvent("frame-shown", { detail: this.current() }));
  }

  /** What is on screen: {instance, frame (1-based, as the API counts), window: {center, width} | null}. */
  current() {
    const { instance, frame } = this.frames[this.index] || {};
    if (instance === undefined) return null;
    const window = this.window.center === null ? null : { ...this.window };
    return { instance, frame: frame + 1, window };
  }

  /** Show a frame of an instance (1-based), opening its series. */
  showFrame(instanceId, frame) {
    const i = this.series.findIndex((s) => (s.instances || []).some((x) => x.id === instanceId));
    if (i < 0) return;
    this.openSeries(i);
    const index = this.frames.findIndex((f) => f.instance === instanceId && f.frame === frame - 1);
    if (index >= 0) this.show(index);
  }

  onWheel(event) {
    event.preventDefault();
    if (event.ctrlKey) this.zoomBy(event.deltaY < 0 ? 1.1 : 0.9);
    else this.show(this.index + (event.deltaY > 0 ? 1 : -1));
  }

  bindDrag() {
    let start = null;
    let last = 0;
    this.canvas.addEventListener("pointerdown", (e) => {
      this.canvas.setPointerCapture?.(e.pointerId);
      const base = this.window.center === null ? DEFAULT_WINDOW : this.window;
      start = { x: e.clientX, y: e.clientY, view: { ...this.view }, window: { ...base }, tool: e.button === 2 ? "pan" : this.tool };
    });
    this.canvas.addEventListener("pointermove", (e) => {
      if (!start) return;
      const dx = e.clientX - start.x, dy = e.clientY - start.y;
      if (start.tool === "pan") {
        this.view.x = start.view.x + dx;
        this.view.y = start.view.y + dy;
        this.paint();
      } else if (performance.now() - last > DRAG_REQUEST_MS) {
        last = performance.now();
        this.setWindow(start.window.center + dy * LEVEL_PER_PX, start.window.width + dx * LEVEL_PER_PX);
      }
    });
    const end = (e) => {
      if (start && start.tool === "window") {
        this.setWindow(start.window.center + (e.clientY - start.y) * LEVEL_PER_PX,
          start.window.width + (e.clientX - start.x) * LEVEL_PER_PX);
      }
      start = null;
    };
    this.canvas.addEventListener("pointerup", end);
    this.canvas.addEventListener("pointercancel", () => { start = null; });
    this.canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  }
}

function frameList(series) {
  const out = [];
  for (const instance of series?.instances || []) {
    for (let f = 0; f < Math.max(1, instance.frames || 1); f++) out.push({ instance: instance.id, frame: f });
  }
  return out;
}
