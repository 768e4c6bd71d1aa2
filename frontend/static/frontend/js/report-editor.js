// The report editor: the template's fields, a debounced autosave of the draft, sign, amend with a reason.
//
// Shape (branch reports): GET CONSULTATION_REPORT(id) ->
//   {report: {id, version, state: "draft"|"signed", content: {key: value}, signed_at, signed_by_name},
//    template: {name, fields: [{key, label, type: "text"|"textarea"|"choice", choices: [..], required}]}}

import { api } from "./api.js";
import { CONSULTATION_REPORT, REPORT_AMEND, REPORT_DRAFT, REPORT_SIGN } from "./endpoints.js";
import { debounce, el, formatDateTime, say } from "./dom.js";
import { t } from "./strings.js";

export const AUTOSAVE_MS = 1200;

export class ReportEditor {
  constructor(container, consultationId) {
    this.container = container;
    this.consultationId = consultationId;
    this.report = null;
    this.template = null;
    this.amending = false;
    this.autosave = debounce(() => this.save(), AUTOSAVE_MS);
  }

  async load() {
    try {
      const data = await api(CONSULTATION_REPORT(this.consultationId));
      this.report = data.report;
      this.template = data.template;
      this.render();
    } catch (error) {
      this.container.replaceChildren(el("p", { class: "error" }, `${t("Could not load the report")}: ${error.message}`));
    }
  }

  get editable() { return this.report.state === "draft" || this.amending; }

  render() {
    const r = this.report;
    this.status = el("p", { class: "status", role: "status" });
    this.fields = el("div", { class: "report-fields" }, this.template.fields.map((f) => this.field(f)));
    const signed = r.state === "signed"
      ? el("p", { class: "signed" }, t("Signed by {who} at {when}", { who: r.signed_by_name || "", when: formatDateTime(r.signed_at) }))
      : null;
    this.reason = el("textarea", { name: "amend_reason", rows: 2, placeholder: t("Why is the report amended?") });
    const actions = r.state === "draft"
      ? [el("button", { type: "button", class: "primary", onclick: () => this.sign() }, t("Sign"))]
      : this.amending
        ? [el("label", {}, t("Reason for the amendment"), this.reason),
          el("button", { type: "button", class: "primary", onclick: () => this.amend() }, t("Sign the amendment")),
          el("button", { type: "button", onclick: () => { this.amending = false; this.render(); } }, t("Cancel"))]
        : [el("button", { type: "button", onclick: () => { this.amending = true; this.render(); } }, t("Amend"))];
    this.container.replaceChildren(
      el("h3", {}, `${this.template.name || t("Report")} · ${t("version")} ${r.version}`),
      ...[signed, this.fields, el("div", { class: "report-actions" }, actions), this.status].filter(Boolean));
    this.container.dataset.state = this.amending ? "amending" : r.state;
  }

  field(f) {
    const value = this.report.content?.[f.key] ?? "";
    const attrs = { name: f.key, disabled: !this.editable, required: f.required, oninput: () => this.changed() };
    let input;
    if (f.type === "textarea") input = el("textarea", { ...attrs, rows: 4 }, value);
    else if (f.type === "choice") {
      input = el("select", attrs, el("option", { value: "" }, "—"),
        (f.choices || []).map((c) => el("option", { value: c, selected: c === value }, c)));
      input.addEventListener("change", () => this.changed());
    } else input = el("input", { ...attrs, type: "text", value });
    return el("label", {}, f.label, input);
  }

  content() {
    const out = {};
    for (const input of this.fields.querySelectorAll("[name]")) out[input.name] = input.value;
    return out;
  }

  changed() {
    if (this.report.state !== "draft") return; // an amendment is sent whole when signed
    say(this.status, t("Unsaved changes…"));
    this.autosave();
  }

  async save() {
    say(this.status, t("Saving…"));
    try {
      const saved = await api(REPORT_DRAFT(this.report.id), { method: "PATCH", body: { content: this.content() } });
      if (saved?.version) this.report.version = saved.version;
      say(this.status, t("Saved at {time}", { time: new Date().toLocaleTimeString() }));
      this.container.dataset.saved = String(Date.now());
    } catch (error) {
      say(this.status, `${t("Not saved")}: ${error.message}`, { error: true });
    }
  }

  async sign() {
    this.autosave.flush();
    try {
      const missing = [...this.fields.querySelectorAll("[required]")].filter((i) => !i.value.trim());
      if (missing.length) { say(this.status, t("Fill in the required fields first."), { error: true }); return; }
      await this.save();
      this.report = await api(REPORT_SIGN(this.report.id), { method: "POST", body: {} });
      this.render();
      say(this.status, t("Signed. The report is on its way to the clinic."));
    } catch (error) {
      say(this.status, `${t("Not signed")}: ${error.message}`, { error: true });
    }
  }

  async amend() {
    const reason = this.reason.value.trim();
    if (!reason) { say(this.status, t("An amendment needs a reason."), { error: true }); return; }
    try {
      this.report = await api(REPORT_AMEND(this.report.id), { method: "POST", body: { reason, content: this.content() } });
      this.amending = false;
      this.render();
      say(this.status, t("Amendment signed."));
    } catch (error) {
      say(this.status, `${t("Not amended")}: ${error.message}`, { error: true });
    }
  }
}
