// The expert's referrals on the reading page (双向转诊): recommend an upward referral, which books the
// lead hospital's earliest free green-channel slot of the consultation's specialty, or send the
// patient back down with a follow-up plan that becomes the village clinic's tasks.

import { allRows, api } from "./api.js";
import * as E from "./endpoints.js";
import { el, formatDateTime, say } from "./dom.js";
import { t } from "./strings.js";

const PLAN_ROWS = 3;         // empty task rows offered; unfilled ones are left out
const DEFAULT_DUE_DAYS = [7, 14, 30];

export class ReferralPanel {
  constructor(container, consultationId) {
    this.container = container;
    this.consultationId = consultationId;
  }

  async load() {
    let referrals = [];
    try {
      referrals = (await allRows(E.REFERRALS)).filter((r) => r.consultation === this.consultationId);
    } catch (error) {
      this.container.replaceChildren(el("p", { class: "error" }, `${t("Referrals are not available")}: ${error.message}`));
      return;
    }
    this.status = el("p", { class: "status", role: "status" });
    this.container.replaceChildren(this.list(referrals), this.upForm(), this.downForm(), this.status);
  }

  list(referrals) {
    if (!referrals.length) return el("p", { class: "muted" }, t("No referrals."));
    return el("ul", { class: "plain referrals" }, referrals.map((r) => el("li", { class: `referral ${r.direction}`, dataset: { id: r.id, state: r.state } },
      el("strong", {}, t(`direction:${r.direction}`)), ` · ${t(`referral:${r.state}`)}`, " ",
      el("a", { href: E.RECORD_PAGE(r.patient), class: "small record-link" }, t("Patient record")),
      r.slot_starts_at ? ` · ${t("Green channel")} ${formatDateTime(r.slot_starts_at)}` : "",
      (r.follow_ups || []).length ? el("ul", { class: "tasks" }, r.follow_ups.map((task) => el("li", {}, `${task.due_on} ${task.title}`))) : null)));
  }

  upForm() {
    const reason = el("textarea", { name: "reason", rows: 2, maxlength: 4000 });
    return el("form", { id: "refer-up", class: "fields", onsubmit: (e) => { e.preventDefault(); this.referUp(reason.value.trim()); } },
      el("h3", {}, t("Recommend an upward referral")),
      el("label", {}, t("Reason for the referral"), reason),
      el("button", { type: "submit", class: "primary" }, t("Refer up: book a green-channel slot")));
  }

  downForm() {
    const summary = el("textarea", { name: "summary", rows: 2, maxlength: 8000 });
    const tasks = [...Array(PLAN_ROWS)].map((_, i) => el("div", { class: "row plan-item" },
      el("input", { name: "title", maxlength: 200, placeholder: t("Follow-up task"), "aria-label": t("Follow-up task") }),
      el("label", { class: "small" }, el("input", { name: "due_in_days", type: "number", min: 0, max: 3650, value: DEFAULT_DUE_DAYS[i] }), ` ${t("days until due")}`)));
    const plan = () => tasks.map((row) => ({ title: row.querySelector("[name=title]").value.trim(),
      due_in_days: Number(row.querySelector("[name=due_in_days]").value || 0) })).filter((item) => item.title);
    return el("form", { id: "refer-down", class: "fields", onsubmit: (e) => { e.preventDefault(); this.referDown(summary.value.trim(), plan()); } },
      el("h3", {}, t("Send the patient back with a follow-up plan")),
      el("label", {}, t("Summary for the village clinic"), summary), ...tasks,
      el("button", { type: "submit" }, t("Send back")));
  }

  async referUp(reason) {
    try {
      const referral = await api(E.REFERRALS, { method: "POST", body: { consultation: this.consultationId, reason } });
      await this.load();
      say(this.status, t("Referred up: green-channel slot {time} booked.", { time: formatDateTime(referral.slot_starts_at) }));
      this.container.dispatchEvent(new CustomEvent("referral-changed", { detail: referral }));
    } catch (error) {
      say(this.status, error.message, { error: true });
    }
  }

  async referDown(summary, plan) {
    if (!summary || !plan.length) { say(this.status, t("Add a summary and at least one follow-up task."), { error: true }); return; }
    try {
      await api(E.REFERRAL_DOWN, { method: "POST", body: { consultation: this.consultationId, summary, plan } });
      await this.load();
      say(this.status, t("Sent back with {n} follow-up tasks.", { n: plan.length }));
      this.container.dispatchEvent(new CustomEvent("referral-changed", {}));
    } catch (error) {
      say(this.status, error.message, { error: true });
    }
  }
}
