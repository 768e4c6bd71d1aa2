// The report editor: the template's fields, a debounced autosave of the draft, sign, amend with a reason.
//
// Shapes (branch reports): GET REPORT_TEMPLATES -> {kind: [{name, label, type: "text"|"number"|"bool", unit,
// required_to_sign}]}; GET CONSULTATION_REPORTS(id) -> [{id, kind, state: "draft"|"signed"|"amending",
// draft, versions: [{number, content, signed_at, amendment_reason, pdf_ready}]}]; PUT REPORT_DRAFT {content};
// POST REPORT_SIGN; POST REPORT_AMEND {reason} opens an amendment draft, signed like the first version.
//
// Text fields offer the expert's phrase library (phrases.js); signing asks first, in a dialog that sums up what is
// signed (dialog.js); the server's refusals are shown in the page's language by their code.
//
// The container gets a "report-loaded" event once the report is read and a "report-changed" event
// after each start, signature and amendment (detail: the report), so the page can refresh what depends on it.

import { api } from "./api.js";
import * as E from "./endpoints.js";
import { debounce, el, formatDateTime, say } from "./dom.js";
import { formatClock } from "./time.js";
import { t } from "./strings.js";
import { askDialog } from "./dialog.js";
import { PhraseLibrary } from "./phrases.js";

export const AUTOSAVE_MS = 1200;

export class ReportEditor {
  /** study: {kind: "ecg"|"imaging"|"consultation", ref: "ecg:12"|"dicom:<uid>"|null, measurements: {},
   *  statements: ["窦性心律 Sinus rhythm", ...] (computed, prefilled into an ECG draft)} */
  constructor(container, consultationId) {
    this.container = container;
    this.consultationId = consultationId;
    this.report = null;
    this.templates = {};
    this.study = { kind: "consultation", ref: null, measurements: {}, statements: [] };
    this.amendingReason = false;
    this.phrases = new PhraseLibrary();
    // what the sign dialog names besides the report: set by the page, () => ({patient, study})
    this.describe = () => ({});
    this.autosave = debounce(() => this.save(), AUTOSAVE_MS);
  }

  setStudy(study) {
    this.study = { ...this.study, ...study };
    if (!this.report) this.render();
  }

  async load() {
    try {
      const [templates, reports] = await Promise.all([api(E.REPORT_TEMPLATES), api(E.CONSULTATION_REPORTS(this.consultationId))]);
      this.templates = templates;
      this.report = reports.find((r) => r.state !== "signed") || reports[reports.length - 1] || null;
      if (this.report) await this.phrases.load(this.report.kind);
      this.render();
      this.announce("report-loaded");
    } catch (error) {
      this.container.replaceChildren(el("p", { class: "error" }, `${t("Could not load the report")}: ${error.message}`));
    }
  }

  announce(type) {
    this.container.dispatchEvent(new CustomEvent(type, { detail: this.report }));
  }

  get editable() { return this.report && this.report.state !== "signed"; }

  get latest() { return this.report?.versions?.[this.report.versions.length - 1] ?? null; }

  render() {
    this.status = el("p", { class: "status", role: "status" });
    if (!this.report) { this.renderStart(); return; }
    const r = this.report;
    const values = this.editable ? (r.draft || {}) : (this.latest?.content || {});
    this.fields = el("div", { class: "report-fields" }, (this.templates[r.kind] || []).map((f) => this.field(f, values[f.name])));
    this.container.replaceChildren(...[
      el("h3", {}, `${t("{kind} report", { kind: t(`kind:${r.kind}`) })} · ${t(`report:${r.state}`)}`),
      r.state === "amending" && r.draft_reason ? el("p", { class: "muted" }, `${t("Reason for the amendment")}: ${r.draft_reason}`) : null,
      this.fields, this.phraseTools(), this.actions(), this.status, this.versions()].filter(Boolean));
    this.container.dataset.state = r.state;
  }

  renderStart() {
    const kinds = Object.keys(this.templates);
    this.container.replaceChildren(
      el("p", { class: "muted" }, t("No report yet for this consultation.")),
      el("div", { class: "report-actions" }, kinds.map((kind) => el("button", {
        type: "button", class: kind === this.study.kind ? "primary" : "", dataset: { start: kind },
        onclick: () => this.start(kind) }, t("Start the {kind} report", { kind: t(`kind:${kind}`) })))),
      this.status);
    this.container.dataset.state = "none";
  }

  async start(kind) {
    try {
      const same = kind === this.study.kind;
      this.report = await api(E.CONSULTATION_REPORTS(this.consultationId), { method: "POST", body: {
        kind, study_ref: same ? this.study.ref : null, measurements: same ? this.study.measurements : {},
        statements: same ? (this.study.statements || []) : [] } });
      await this.phrases.load(kind);
      this.render();
      this.announce("report-changed");
    } catch (error) {
      say(this.status, this.errorText(error), { error: true });
    }
  }

  /** The hint for "/code" and the button to the expert's own phrases, while the report is edited. */
  phraseTools() {
    if (!this.editable) return null;
    const fields = (this.templates[this.report.kind] || []).filter((f) => f.type === "text");
    return el("div", { class: "phrase-manage" },
      el("p", { class: "phrase-hint" }, t("Type / and a phrase's code, then Enter or Tab, to insert it.")),
      el("button", { type: "button", class: "small", dataset: { managePhrases: "" },
        onclick: () => this.phrases.manage(fields, () => this.rerenderKeeping()) }, t("My phrases")));
  }

  /** Render again (phrases changed) keeping what was typed since the last save. */
  rerenderKeeping() {
    const typed = this.content();
    this.report = { ...this.report, draft: { ...(this.report.draft || {}), ...typed } };
    this.render();
  }

  /** A refusal of the server in the page's language: by its code, else the server's words. */
  errorText(error) {
    const code = error?.body?.code;
    if (code === "incomplete") return this.missingText(error.body.fields || []);
    const known = code ? t(`report-error:${code}`) : "";
    return known && known !== `report-error:${code}` ? known : error.message;
  }

  missingText(names) {
    const specs = this.templates[this.report?.kind] || [];
    const label = (name) => {
      const key = `report-field:${name}`;
      const text = t(key);
      return text !== key ? text : (specs.find((f) => f.name === name)?.label || name);
    };
    return t("Fill in before signing: {fields}.", { fields: names.map(label).join(t(", ")) });
  }

  actions() {
    if (this.editable) {
      return el("div", { class: "report-actions" },
        el("button", { type: "button", class: "primary", onclick: () => this.sign() },
          this.report.state === "amending" ? t("Sign the amendment") : t("Sign")));
    }
    if (this.amendingReason) {
      this.reason = el("textarea", { name: "amend_reason", rows: 2, placeholder: t("Why is the report amended?") });
      return el("div", { class: "report-actions" }, el("label", {}, t("Reason for the amendment"), this.reason),
        el("button", { type: "button", class: "primary", onclick: () => this.amend() }, t("Start the amendment")),
        el("button", { type: "button", onclick: () => { this.amendingReason = false; this.render(); } }, t("Cancel")));
    }
    return el("div", { class: "report-actions" },
      el("button", { type: "button", onclick: () => { this.amendingReason = true; this.render(); } }, t("Amend")));
  }

  versions() {
    const versions = this.report.versions || [];
    if (!versions.length) return null;
    return el("ul", { class: "plain versions" }, versions.map((v) => el("li", {},
      `${t("version")} ${v.number} · ${t("signed")} ${formatDateTime(v.signed_at)}`,
      v.amendment_reason ? ` · ${t("Reason for the amendment")}: ${v.amendment_reason}` : "",
      " ", v.pdf_ready ? el("a", { href: E.REPORT_PDF(this.report.id, v.number), target: "_blank", rel: "noopener" }, "PDF")
        : el("span", { class: "muted" }, t("PDF being prepared")))));
  }

  field(f, value) {
    const attrs = { name: f.name, disabled: !this.editable, dataset: { type: f.type } };
    let input;
    if (f.type === "bool") {
      input = el("input", { ...attrs, type: "checkbox", checked: Boolean(value) });
      input.addEventListener("change", () => this.changed());
      return el("label", { class: "choice" }, input, f.label);
    }
    if (f.type === "number") input = el("input", { ...attrs, type: "number", step: "any", value: value ?? "" });
    else input = el("textarea", { ...attrs, rows: f.name === "findings" || f.name === "conclusion" ? 3 : 1 }, value ?? "");
    input.addEventListener("input", () => this.changed());
    const label = `${f.label}${f.unit ? ` (${f.unit})` : ""}${f.required_to_sign ? " *" : ""}`;
    const phrases = f.type === "text" && this.editable ? this.phrases.attach(input, f.name) : null;
    return el("label", {}, label, input, phrases);
  }

  content() {
    const out = {};
    for (const input of this.fields.querySelectorAll("[name]")) {
      const type = input.dataset.type;
      out[input.name] = type === "bool" ? input.checked
        : type === "number" ? (input.value === "" ? null : Number(input.value)) : input.value;
    }
    return out;
  }

  changed() {
    say(this.status, t("Unsaved changes…"));
    this.autosave();
  }

  async save() {
    say(this.status, t("Saving…"));
    try {
      this.report = await api(E.REPORT_DRAFT(this.report.id), { method: "PUT", body: { content: this.content() } });
      say(this.status, t("Saved at {time}", { time: formatClock() }));
      this.container.dataset.saved = String(Date.now());
      return true;
    } catch (error) {
      say(this.status, `${t("Not saved")}: ${this.errorText(error)}`, { error: true });
      return false;
    }
  }

  async sign() {
    this.autosave.flush();
    const content = this.content();
    const specs = this.templates[this.report.kind] || [];
    const missing = specs.filter((f) => f.required_to_sign && !String(content[f.name] ?? "").trim()).map((f) => f.name);
    if (missing.length) { say(this.status, this.missingText(missing), { error: true }); return; }
    if (!(await this.confirmSign(content))) { say(this.status, t("Not signed yet.")); return; }
    try {
      if (!(await this.save())) return;
      await api(E.REPORT_SIGN(this.report.id), { method: "POST", body: {} });
      this.report = await api(E.REPORT(this.report.id));
      await this.phrases.load(this.report.kind);
      this.render();
      say(this.status, t("Signed. The report is on its way to the clinic."));
      this.announce("report-changed");
    } catch (error) {
      say(this.status, `${t("Not signed")}: ${this.errorText(error)}`, { error: true });
    }
  }

  /** The sign dialog: patient, study, conclusion and whether it is a critical value; true once confirmed. */
  confirmSign(content) {
    const about = this.describe() || {};
    const kind = this.report.kind;
    const conclusionField = (this.templates[kind] || []).find((f) => f.required_to_sign && f.type === "text");
    const critical = Boolean(content.critical);
    const amending = this.report.state === "amending";
    const row = (term, value, attrs = {}) => [el("dt", {}, term), el("dd", attrs, value || "—")];
    return askDialog({
      id: "sign-dialog",
      title: amending ? t("Sign this amendment?") : t("Sign this report?"),
      confirm: amending ? t("Sign the amendment") : t("Sign"),
      content: [
        el("dl", {},
          row(t("Patient"), about.patient),
          row(t("Study"), about.study || t("{kind} report", { kind: t(`kind:${kind}`) })),
          row(conclusionField ? (t(`report-field:${conclusionField.name}`) !== `report-field:${conclusionField.name}`
            ? t(`report-field:${conclusionField.name}`) : conclusionField.label) : t("Conclusion"),
          conclusionField ? content[conclusionField.name] : "", { dataset: { summary: "conclusion" } }),
          row(t("Critical value"), critical ? t("Yes: the clinic is alerted at once") : t("No"),
            { class: critical ? "critical" : "", dataset: { summary: "critical" } }),
          amending && this.report.draft_reason ? row(t("Reason for the amendment"), this.report.draft_reason) : []),
        el("p", { class: "muted" }, t("A signed version cannot be changed; it goes to the requesting clinic at once.")),
      ],
    });
  }

  async amend() {
    const reason = this.reason.value.trim();
    if (!reason) { say(this.status, t("An amendment needs a reason."), { error: true }); return; }
    try {
      this.report = await api(E.REPORT_AMEND(this.report.id), { method: "POST", body: { reason } });
      this.amendingReason = false;
      this.render();
      say(this.status, t("Amendment started: edit and sign it."));
      this.announce("report-changed");
    } catch (error) {
      say(this.status, `${t("Not amended")}: ${this.errorText(error)}`, { error: true });
    }
  }
}
