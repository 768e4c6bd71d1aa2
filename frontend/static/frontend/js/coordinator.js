// Coordinator views: rosters and reserved quotas, turnaround and QC charts, escalations, audit search.

import { allRows, rows, api } from "./api.js";
import { barChart } from "./charts.js";
import * as E from "./endpoints.js";
import { el, formatDateTime, say } from "./dom.js";
import { addDays, dayKey, startOfDay } from "./time.js";
import { startNotifications } from "./socket.js";
import { t } from "./strings.js";
import { loadOnCall, rosterActions, setupRosterAdmin } from "./roster-admin.js";

const $ = (sel) => document.querySelector(sel);

async function loadRosters() {
  const today = dayKey();
  const from = startOfDay(today);
  const to = startOfDay(addDays(today, 14));
  const range = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
  try {
    // whole lists: two weeks of slots outgrow one page (a page of 500 once left the second week at 0/0)
    const [sessions, slots, rosters] = await Promise.all([
      allRows(`${E.SESSIONS}?${range}`), allRows(`${E.SLOTS}?${range}`), allRows(E.ROSTERS)]);
    renderRosters(rosters, sessions);
    // per session: capacity = its slots, booked = taken ones, reserved = free ones still held for grassroots clinics
    const bySession = new Map(sessions.map((s) => [s.id, { ...s, capacity: 0, booked: 0, reserved: 0, release: null }]));
    for (const slot of slots) {
      const s = bySession.get(slot.session);
      if (!s) continue;
      s.capacity += 1;
      if (slot.taken) s.booked += 1;
      else if (slot.reserved) { s.reserved += 1; s.release = s.release && s.release < slot.release_at ? s.release : slot.release_at; }
    }
    $("#sessions").replaceChildren(...[...bySession.values()].map((s) => el("tr", { dataset: { session: s.id } },
      el("td", {}, formatDateTime(s.starts_at)), el("td", {}, s.expert_name || ""), el("td", {}, specialtyName(s.specialty)),
      el("td", {}, s.state === "cancelled" ? t("state:cancelled") : `${s.booked}/${s.capacity}`),
      el("td", {}, `${s.reserved}${s.release ? ` (${t("until")} ${formatDateTime(s.release)})` : ""}`),
      el("td", {}, quotaBar(s.capacity, s.reserved, s.booked)))));
    if (!sessions.length) $("#sessions").replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, t("No sessions in the next two weeks."))));
  } catch (error) {
    $("#sessions").replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "error" }, `${t("Rosters are not available")}: ${error.message}`)));
  }
}

function renderRosters(rosters, sessions) {
  $("#rosters").replaceChildren(...rosters.map((r) => el("tr", { dataset: { roster: r.id, active: r.active } },
    el("td", {}, r.expert_name || `#${r.expert}`), el("td", {}, specialtyName(r.specialty)),
    el("td", {}, (r.weekdays || []).map((d) => t(`weekday:${d % 7}`)).join(" ")),
    el("td", {}, `${(r.start_time || "").slice(0, 5)}–${(r.end_time || "").slice(0, 5)}`),
    el("td", {}, String(r.capacity)), el("td", {}, `${r.reserved_share}%`),
    el("td", {}, t("{h} h before", { h: r.release_hours })), rosterActions(r))));
  if (!rosters.length) $("#rosters").replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "muted" }, t("No rosters."))));
}

let specialties = {};

function specialtyName(code) {
  const s = specialties[code];
  if (!s) return code || "";
  return document.documentElement.lang.startsWith("en") && s.name_en ? s.name_en : s.name;
}

/** A bar of the session's capacity: booked (solid), reserved for grassroots clinics (hatched), free. */
function quotaBar(capacity, reserved, booked) {
  const bar = el("div", { class: "quota", title: `${booked}/${capacity}` });
  const pct = (n) => `${capacity ? (100 * n) / capacity : 0}%`;
  bar.append(el("span", { class: "booked", style: `width:${pct(Math.min(booked, capacity))}` }),
    el("span", { class: "reserved", style: `width:${pct(Math.max(0, Math.min(reserved, capacity - booked)))}` }));
  return bar;
}

const STEPS = [["assignment", "to assignment (median)"], ["first_open", "to first opening (median)"],
  ["signature", "to signature (median)"], ["acknowledgement", "to acknowledgement (median)"]];
const URGENCIES = ["stat", "urgent", "routine"];

async function loadTurnaround() {
  if (!E.TURNAROUND) { say($("#turnaround-status"), t("Turnaround figures are not available"), { error: true }); return; }
  try {
    const data = await api(`${E.TURNAROUND}?days=30`);
    const median = (group, step) => group?.[step]?.median ?? null;
    barChart($("#turnaround-chart"), {
      title: t("Turnaround"), unit: " min", series: STEPS.map(([, label]) => t(label)), empty: t("No reports yet."),
      rows: URGENCIES.filter((u) => data.by_urgency?.[u]).map((u) => ({
        label: t(`urgency:${u}`), values: STEPS.map(([step]) => median(data.by_urgency[u], step)) })),
    });
    barChart($("#turnaround-expert-chart"), {
      title: t("By expert"), unit: " min", series: [t("to signature (median)")], empty: t("No reports yet."),
      rows: Object.entries(data.by_expert || {}).map(([name, group]) => ({ label: name, values: [median(group, "signature")] })),
    });
    const n = Object.values(data.by_urgency || {}).reduce((sum, g) => sum + (g.first_open?.n ?? 0), 0);
    say($("#turnaround-status"), t("{n} reports in the last {days} days", { n, days: data.days }));
  } catch (error) {
    say($("#turnaround-status"), `${t("Turnaround figures are not available")}: ${error.message}`, { error: true });
  }
}

async function loadQc() {
  if (!E.QC) { say($("#qc-status"), t("QC figures are not available"), { error: true }); return; }
  try {
    const figures = await api(E.QC);
    barChart($("#qc-chart"), {
      title: t("Quality control"), empty: t("No second reads sampled yet."),
      series: [t("Sampled"), t("Second read"), t("Agreed"), t("Minor discrepancy"), t("Major discrepancy")],
      rows: figures.map((f) => ({ label: f.expert, values: [f.sampled, f.read, f.agree, f.minor, f.major] })),
    });
  } catch (error) {
    say($("#qc-status"), `${t("QC figures are not available")}: ${error.message}`, { error: true });
  }
}

async function drawSample(event) {
  event.preventDefault();
  const share = Number($("#qc-share").value) / 100;
  try {
    const samples = await api(E.QC_SAMPLE, { method: "POST", body: { share } });
    say($("#qc-status"), t("{n} signed reports sampled for a second read.", { n: samples.length }));
    await loadQc();
  } catch (error) {
    say($("#qc-status"), error.message, { error: true });
  }
}

async function loadEscalations() {
  try {
    const items = await allRows(E.ESCALATIONS);
    $("#escalations").replaceChildren(...items.map((c) => el("li", { class: `urgency-${c.urgency}`, dataset: { id: c.id } },
      el("span", { class: `badge urgency-${c.urgency}` }, t(`urgency:${c.urgency}`)),
      ` #${c.id} ${c.patient_name} · ${specialtyName(c.specialty)} · ${formatDateTime(c.created_at)} `,
      assignForm(c), declines(c))));
    if (!items.length) $("#escalations").replaceChildren(el("li", { class: "muted" }, t("No escalations.")));
  } catch (error) {
    $("#escalations").replaceChildren(el("li", { class: "error" }, error.message));
  }
}

// Who declined the case before it was escalated, and why (the expert's choice and words), filled in once read.
function declines(consultation) {
  const list = el("ul", { class: "plain declines muted", dataset: { declines: consultation.id } });
  rows(E.CONSULTATION_OFFERS(consultation.id)).then((offers) => {
    const declined = offers.filter((a) => a.status === "declined");
    list.replaceChildren(...declined.map((a) => el("li", { dataset: { expert: a.expert } },
      `${t("Declined by {name}", { name: a.expert_name })}${a.decided_at ? ` ${formatDateTime(a.decided_at)}` : ""}：`,
      [a.decline_code ? t(`decline:${a.decline_code}`) : "", a.reason].filter(Boolean).join(" — ") || "—")));
  }).catch((error) => list.replaceChildren(el("li", { class: "error" }, error.message)));
  return list;
}

// The experts of a specialty to give a case to, on duty first, then least loaded (asked once per specialty).
const expertsOf = new Map();

function assignForm(consultation) {
  const select = el("select", { name: "expert", "aria-label": t("Choose an expert") });
  const button = el("button", { type: "submit", disabled: true }, t("Assign"));
  const form = el("form", { class: "assign inline" }, select, button);
  if (!expertsOf.has(consultation.specialty)) expertsOf.set(consultation.specialty, rows(E.EXPERTS_TO_ASSIGN(consultation.specialty)));
  expertsOf.get(consultation.specialty).then((experts) => {
    select.replaceChildren(...experts.map((x) => el("option", { value: x.id },
      `${x.name}${x.title ? ` ${x.title}` : ""} · ${x.on_duty ? t("on duty") : t("off duty")} · ${x.load}/${x.max_open_assignments}`)));
    button.disabled = !experts.length;
  }).catch((error) => say($("#escalations-status"), error.message, { error: true }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await api(E.CONSULTATION_ASSIGN(consultation.id), { method: "POST", body: { expert: Number(select.value) } });
      expertsOf.delete(consultation.specialty); // the loads changed
      say($("#escalations-status"), t("Assigned to {name}.", { name: select.selectedOptions[0].textContent.split(" · ")[0] }));
      await loadEscalations();
    } catch (error) {
      button.disabled = false;
      say($("#escalations-status"), error.message, { error: true });
    }
  });
  return form;
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
  $("#qc-sample-form")?.addEventListener("submit", drawSample);
  const audit = $("#audit-form");
  if (audit) audit.addEventListener("submit", searchAudit);
  const specialtyList = await rows(E.SPECIALTIES);
  specialties = Object.fromEntries(specialtyList.map((s) => [s.code, s]));
  setupRosterAdmin({ specialties: specialtyList, specialtyName, reload: loadRosters });
  await Promise.all([loadRosters(), loadOnCall(), loadTurnaround(), loadQc(), loadEscalations(), audit ? searchAudit() : null]);
  document.body.dataset.ready = "true";
}

main();
