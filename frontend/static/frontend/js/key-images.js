// Key images of an imaging report: the expert marks the frame on screen in one click (in the window it is
// shown in), sees the choice as thumbnails and unmarks one; the signed PDF draws them (none marked: each
// series' first frame). The server keeps the choice (REPORT_KEY_IMAGES) and refuses a frame of another study.
//
// Usage: const keys = new KeyImages(listContainer, imageViewer);
//        keys.setReport(report)     // the page's report (an imaging one carries key images) or null
//        keys.setShown("dicom:<uid>")  // the study in the viewer: only the report's own study is marked

import { api } from "./api.js";
import * as E from "./endpoints.js";
import { el, say } from "./dom.js";
import { t } from "./strings.js";

export const KEY_IMAGES_MAX = 4; // the PDF's key-image page holds four (studies/services/key_images.py)

export class KeyImages {
  constructor(container, viewer) {
    this.container = container;
    this.viewer = viewer;
    this.report = null;
    this.shown = null;
    this.items = [];
    this.button = el("button", { type: "button", class: "key-image-toggle", dataset: { keyImage: "" },
      "aria-pressed": "false", onclick: () => this.toggle() }, `★ ${t("Key image")}`);
    viewer.toolbar.append(this.button);
    viewer.container.addEventListener("frame-shown", () => this.sync());
    this.list = el("ul", { class: "plain key-image-list" });
    this.status = el("p", { class: "status", role: "status" });
    this.container.replaceChildren(el("h3", {}, t("Key images for the report")), this.list, this.status);
    this.render();
  }

  get editable() { return Boolean(this.report && this.report.kind === "imaging" && this.report.state !== "signed"); }

  /** Whether the viewer shows the study the report reads (a prior or another study is never marked). */
  get own() { return Boolean(this.report && this.shown && this.report.study_ref === this.shown); }

  /** The page's report (any kind, or null): an imaging one's key images are read. */
  async setReport(report) {
    const changed = report?.id !== this.report?.id;
    this.report = report && report.kind === "imaging" ? report : null;
    if (changed) this.items = this.report ? await api(E.REPORT_KEY_IMAGES(this.report.id)) : [];
    this.render();
    this.container.dataset.count = String(this.items.length);
  }

  setShown(studyRef) {
    this.shown = studyRef;
    this.sync();
  }

  indexOf(shown) {
    return shown ? this.items.findIndex((k) => k.instance === shown.instance && k.frame === shown.frame) : -1;
  }

  sync() {
    const shown = this.viewer.current();
    const marked = this.indexOf(shown) >= 0;
    this.button.setAttribute("aria-pressed", String(marked));
    this.button.disabled = !this.editable || !this.own || !shown || (!marked && this.items.length >= KEY_IMAGES_MAX);
    this.button.title = !this.report ? t("Start the imaging report to mark key images.")
      : !this.editable ? t("This report is signed: start an amendment to change it.")
        : !this.own ? t("Key images come from this case's own study.")
          : !marked && this.items.length >= KEY_IMAGES_MAX ? t("At most {n} key images.", { n: KEY_IMAGES_MAX }) : "";
  }

  render() {
    this.container.hidden = !this.report;
    this.list.replaceChildren(...this.items.map((k, n) => el("li", { dataset: { instance: k.instance, frame: k.frame } },
      el("button", { type: "button", class: "link", onclick: () => this.viewer.showFrame(k.instance, k.frame) },
        el("img", { src: k.rendered_url, alt: `${t("Key image")} ${n + 1}`, width: 64, height: 64 }),
        ` ${n + 1}. ${t("Frame")} ${k.frame}${k.window_width ? ` · ${t("Window")} ${k.window_center} / ${k.window_width}` : ""}`),
      this.editable ? el("button", { type: "button", class: "small", dataset: { unmark: n },
        onclick: () => this.save(this.items.filter((_, i) => i !== n)) }, t("Remove")) : null)));
    if (!this.items.length && this.report) {
      this.list.append(el("li", { class: "muted" }, t("None marked: the PDF shows the first image of each series.")));
    }
    this.sync();
  }

  toggle() {
    const shown = this.viewer.current();
    if (!shown || !this.editable || !this.own) return;
    const at = this.indexOf(shown);
    const pick = { instance: shown.instance, frame: shown.frame, window_center: shown.window?.center ?? null,
      window_width: shown.window?.width ?? null };
    return this.save(at >= 0 ? this.items.filter((_, i) => i !== at) : [...this.items, pick]);
  }

  async save(items) {
    const body = { key_images: items.map((k) => ({ instance: k.instance, frame: k.frame,
      window_center: k.window_center ?? null, window_width: k.window_width ?? null })) };
    try {
      this.items = await api(E.REPORT_KEY_IMAGES(this.report.id), { method: "PUT", body });
      say(this.status, t("{n} key images marked.", { n: this.items.length }));
    } catch (error) {
      const known = error?.body?.code ? t(`report-error:${error.body.code}`) : "";
      say(this.status, known && !known.startsWith("report-error:") ? known : error.message, { error: true });
    }
    this.render();
    this.container.dataset.count = String(this.items.length);
  }
}
