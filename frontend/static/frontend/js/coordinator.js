// Coordinator views: rosters and reserved quotas, turnaround and QC charts, escalations, audit search.

import { rows, api } from "./api.js";
import { barChart } from "./charts.js";
import * as E from "./endpoints.js";
import { el, formatDateTime, say } from "./dom.js";
import { startNotifications } from "./socket.js";
import { t } from "./strings.js";

const $ = (sel) => document.querySelector(sel);

async function loadRosters() {
  const from = new Date(); from.setHours(0, 0, 0, 0);
  const to = new Date(from); to.setDate(to.getDate() + 14);
  try {
    const sessions = await rows(`${E.SESSIONS}?${new URLSearchParams({ from: from.toISOString(), to: to.toISOString() })}`);
    $("#rosters").replaceChildren(...sessions.map((s) => {
      const capacity = s.capacity || 0, reserved = s.reserved ?? 0, booked = s.booked ?? 0;
      return el("tr", {},
        el("td", {}, formatDateTime(s.starts_at)), el("td", {}, s.expert_name || ""), el("td", {}, s.specialty_name || s.specialty || ""),
        el("td", {}, `${booked}/${capacity}`),
        el("td", {}, `${reserved}${s.reserved_until ? ` (${t("until")} ${formatDateTime(s.reserved_until)})` : ""}`),
        el("td", {}, quotaBar(capacity, reserved, booked)));
    }));
    if (!sessions.length) $("#rosters").replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, t("No sessions in the next two weeks."))));
  } catch (error) {
    $("#rosters").replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "error" }, `${t("Rosters are not available")}: ${error.message}`)));
  }
}

/** A bar of the session's capacity: booked (solid), reserved for grassroots clinics (hatched), free. */
function quotaBar(capacity, reserved, booked) {
  const bar = el("div", { class: "quota", title: `${booked}/${capacity}` });
  const pct = (n) => `${capacity ? (100 * n) / capacity : 0}%`;
  bar.append(el("span", { class: "booked", style: `width:${pct(Math.min(booked, capacity))}` }),
    el("span", { class: "reserved", style: `width:${pct(Math.max(0, Math.min(reserved, capacity - booked)))}` }));
  return bar;
}

async function loadTurnaround() {
  try {
    const data = await api(E.TURNAROUND);
    const byUrgency = data.by_urgency || [];
    barChart($("#turnaround-chart"), {
      title: t("Turnaround"), unit: " min",
      series: [t("to assignment (median)"), t("to signature (median)"), t("to acknowledgement (median)")],
      rows: byUrgency.map((r) => ({ label: t(`urgency:${r.urgency}`),
        values: [r.to_assignment_p50_min, r.to_signature_p50_min, r.to_acknowledgement_p50_min] })),
    });
    const byExpert = data.by_expert || [];
    barChart($("#turnaround-expert-chart"), {
      title: t("By expert"), unit: " min", series: [t("to signature (median)")],
      rows: byExpert.map((r) => ({ label: r.expert_name, values: [r.to_signature_p50_min] })),
    });
  } catch (error) {
    say($("#turnaround-status"), `${t("Turnaround figures are not available")}: ${error.message}`, { error: true });
  }
}

async function loadQc() {
  try {
    const qc = await api(E.QC);
    barChart($("#qc-chart"), {
      title: t("Quality control"), series: [t("Number of reports")],
      rows: [["sampled", "Sampled"], ["reviewed", "Second read"], ["agreed", "Agreed"], ["minor", "Minor discrepancy"], ["major", "Major discrepancy"]]
        .map(([key, label]) => ({ label: t(label), values: [qc[key] ?? 0] })),
    });
  } catch (error) {
    say($("#qc-status"), `${t("QC figures are not available")}: ${error.message}`, { error: true });
  }
}

async function loadEscalations() {
  try {
    const items = await rows(E.ESCALATIONS);
    $("#escalations").replaceChildren(...items.map((c) => el("li", { class: `urgency-${c.urgency}` },
      el("span", { class: `badge urgency-${c.urgency}` }, t(`urgency:${c.urgency}`)),
      ` #${c.id} ${c.patient_name} · ${c.specialty} · ${formatDateTime(c.created_at)}`)));
    if (!items.length) $("#escalations").replaceChildren(el("li", { class: "muted" }, t("No escalations.")));
  } catch (error) {
    $("#escalations").replaceChildren(el("li", { class: "error" }, error.message));
  }
}

async function searchAudit(event) {
  event?.preventDefault();
  const form = $("#audit-form");
  const params = new URLSearchParams([...new FormData(form)].filter(([, v]) => String(v).trim()));
  params.set("limit", "100");
  try {
    const events = await rows(`${E.AUDIT}?${params}`);
    $("#audit").replaceChildren(...events.map((a) => el("tr", {},
      el("td", {}, formatDateTime(a.at)), el("td", {}, a.actor_username), el("td", {}, a.action),
      el("td", {}, `${a.object_type} ${a.object_id ?? ""}`), el("td", {}, a.patient_id ?? ""), el("td", {}, a.consultation_id ?? ""),
      el("td", {}, a.interface), el("td", {}, a.ip ?? ""))));
    say($("#audit-status"), t("{n} entries", { n: events.length }));
  } catch (error) {
    say($("#audit-status"), error.message, { error: true });
  }
}

async function main() {
  startNotifications($("#socket-state"), (e) => { if ((e.type || "").includes("escalat")) loadEscalations(); },
    { open: t("Live"), waiting: t("Reconnecting…"), closed: t("Offline") });
  const audit = $("#audit-form");
  if (audit) audit.addEventListener("submit", searchAudit);
  await Promise.all([loadRosters(), loadTurnaround(), loadQc(), loadEscalations(), audit ? searchAudit() : null]);
  document.body.dataset.ready = "true";
}

main();
