// Coordinator views: escalations first (what needs action now, and why), rosters and reserved quotas, the
// next two weeks' sessions (folded, paged), turnaround, volume and QC charts (ECharts), the audit search.

import { allRows, api, rows } from "./api.js";
import { barChart } from "./charts.js";
import * as E from "./endpoints.js";
import { cardTables, el, formatDateTime, say } from "./dom.js";
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
    sessionRows = [...bySession.values()];
    sessionsPage = 0;
    renderSessions();
  } catch (error) {
    $("#sessions").replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "error" }, `${t("Rosters are not available")}: ${error.message}`)));
  }
}

const SESSIONS_PAGE = 15;
let sessionRows = [];
let sessionsPage = 0;

/** One page of the sessions table (the next two weeks hold a hundred or more): folded under its heading, paged. */
function renderSessions() {
  const pages = Math.max(1, Math.ceil(sessionRows.length / SESSIONS_PAGE));
  sessionsPage = Math.min(sessionsPage, pages - 1);
  const shown = sessionRows.slice(sessionsPage * SESSIONS_PAGE, (sessionsPage + 1) * SESSIONS_PAGE);
  $("#sessions-count").textContent = String(sessionRows.length);
  $("#sessions").replaceChildren(...shown.map((s) => el("tr", { dataset: { session: s.id } },
    el("td", {}, formatDateTime(s.starts_at)), el("td", {}, s.expert_name || ""), el("td", {}, specialtyName(s.specialty)),
    el("td", {}, s.state === "cancelled" ? t("state:cancelled") : `${s.booked}/${s.capacity}`),
    el("td", {}, `${s.reserved}${s.release ? ` (${t("until")} ${formatDateTime(s.release)})` : ""}`),
    el("td", {}, quotaBar(s.capacity, s.reserved, s.booked)))));
  if (!sessionRows.length) $("#sessions").replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, t("No sessions in the next two weeks."))));
  pager($("#sessions-pager"), { offset: sessionsPage * SESSIONS_PAGE, size: SESSIONS_PAGE, count: sessionRows.length,
    go: (offset) => { sessionsPage = offset / SESSIONS_PAGE; renderSessions(); } });
}

/** Previous / "first–last of count" / next. */
function pager(node, { offset, size, count, go }) {
  const last = Math.min(offset + size, count);
  node.replaceChildren(
    el("button", { type: "button", class: "small", dataset: { page: "previous" }, disabled: offset === 0,
      onclick: () => go(Math.max(0, offset - size)) }, t("Previous")),
    el("span", { class: "muted" }, count ? t("{first}–{last} of {count}", { first: offset + 1, last, count }) : ""),
    el("button", { type: "button", class: "small", dataset: { page: "next" }, disabled: last >= count,
      onclick: () => go(offset + size) }, t("Next")));
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
      name: t("Turnaround by urgency"),
      rows: URGENCIES.filter((u) => data.by_urgency?.[u]).map((u) => ({
        label: t(`urgency:${u}`), values: STEPS.map(([step]) => median(data.by_urgency[u], step)) })),
    });
    barChart($("#turnaround-expert-chart"), {
      title: t("By expert"), unit: " min", series: [t("to signature (median)")], empty: t("No reports yet."),
      name: `${t("Turnaround")} · ${t("By expert")}`,
      rows: Object.entries(data.by_expert || {}).map(([name, group]) => ({ label: name, values: [median(group, "signature")] })),
    });
    barChart($("#volumes-chart"), {
      title: t("Consultations per clinic"), series: [t("Consultations requested"), t("With a signed report")], empty: t("No consultations yet."),
      name: t("Consultations per clinic"),
      rows: Object.entries(data.by_clinic || {}).map(([clinic, v]) => ({ label: clinic, values: [v.requested, v.reported] })),
    });
    say($("#volumes-status"), t("Consultations requested in the last {days} days", { days: data.days }));
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
      title: t("Quality control"), empty: t("No second reads sampled yet."), name: t("Quality control (second reads)"),
      series: [t("Sampled"), t("Second read"), t("Agreed"), t("Minor discrepancy"), t("Major discrepancy")],
      rows: figures.map((f) => ({ label: f.expert, values: [f.sampled, f.read, f.agree, f.minor, f.major] })),
    });
    const read = figures.reduce((sum, f) => sum + f.read, 0), agreed = figures.reduce((sum, f) => sum + f.agree, 0);
    if (read) say($("#qc-status"), t("Agreement: {rate}% of {n} second reads", { rate: Math.round((100 * agreed) / read), n: read }));
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
    const items = await api(E.SCHEDULING_ESCALATIONS);
    $("#escalations-count").textContent = items.length ? String(items.length) : "";
    $("#escalations").replaceChildren(...items.map((c) => el("li", { class: `escalation urgency-${c.urgency}`, dataset: { id: c.id } },
      el("div", { class: "case" },
        el("span", { class: `badge urgency-${c.urgency}` }, t(`urgency:${c.urgency}`)),
        el("strong", {}, `#${c.id} ${c.patient_name}`),
        el("span", {}, `${specialtyName(c.specialty)} · ${c.requesting_org_name} · ${t("requested at")} ${formatDateTime(c.created_at)}`)),
      el("ul", { class: "why", dataset: { declines: c.id } }, ...whyEscalated(c)),
      assignForm(c))));
    if (!items.length) $("#escalations").replaceChildren(el("li", { class: "muted" }, t("No escalations.")));
  } catch (error) {
    $("#escalations").replaceChildren(el("li", { class: "error" }, error.message));
  }
}

// Break-glass reads (紧急调阅) of the community's records: who opened whose record, why, until when.
async function loadBreakGlass() {
  try {
    const items = await rows(`${E.BREAK_GLASS_READS}?limit=50`);
    $("#break-glass-reads").replaceChildren(...items.map((g) => el("li", { dataset: { id: g.id, patient: g.patient } },
      el("strong", {}, g.user_name), ` · ${formatDateTime(g.created_at)} · `,
      el("a", { href: E.RECORD_PAGE(g.patient) }, g.patient_name),
      el("span", { class: "muted" }, ` · ${t("until {time}", { time: formatDateTime(g.expires_at) })}`),
      el("p", { class: "reason" }, g.reason))));
    if (!items.length) $("#break-glass-reads").replaceChildren(el("li", { class: "muted" }, t("No emergency reads.")));
  } catch (error) {
    $("#break-glass-reads").replaceChildren(el("li", { class: "error" }, error.message));
  }
}

/** Why a case is with the coordinators, one line per cause: each decline (who, the reason they chose, their
 * words), offers that lapsed, nobody (else) on duty. */
function whyEscalated(c) {
  const lines = c.declines.map((d) => el("li", { dataset: { expert: d.expert } },
    `${t("Declined by {name}", { name: d.expert_name })}${d.at ? ` ${formatDateTime(d.at)}` : ""}: `,
    [d.decline_code ? t(`decline:${d.decline_code}`) : "", d.reason].filter(Boolean).join(" — ") || "—"));
  const add = (text) => lines.push(el("li", {}, text));
  if (c.expired) add(t("{n} offers lapsed unanswered", { n: c.expired }));
  if (c.escalation_reason === "no_expert_available") {
    add(c.declines.length || c.expired ? t("No other expert on duty") : t("No expert on duty"));
  } else if (c.escalation_reason === "requested") {
    add(t("Handed to the coordinators by hand"));
  } else if (c.escalation_reason) {
    add(`${t("Escalated")}: ${c.escalation_reason}`);
  }
  if (!lines.length) add(t("Escalated"));
  return lines;
}

function assignForm(consultation) {
  // nobody preselected: the coordinator chooses; those who declined this case are marked and last
  const select = el("select", { name: "expert", "aria-label": t("Choose an expert"), required: true },
    el("option", { value: "", selected: true }, t("Choose an expert")));
  const button = el("button", { type: "submit", disabled: true }, t("Assign"));
  const form = el("form", { class: "assign inline" }, select, button);
  api(E.EXPERTS_TO_ASSIGN_FOR(consultation.specialty, consultation.id)).then((experts) => {
    select.append(...experts.map((x) => el("option", { value: x.id, dataset: { declined: x.declined } },
      `${x.name}${x.title ? ` ${x.title}` : ""} · ${x.declined ? t("declined this case") : x.on_duty ? t("on duty") : t("off duty")} · ${x.load}/${x.max_open_assignments}`)));
  }).catch((error) => say($("#escalations-status"), error.message, { error: true }));
  select.addEventListener("change", () => { button.disabled = !select.value; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!select.value) return;
    button.disabled = true;
    try {
      await api(E.CONSULTATION_ASSIGN(consultation.id), { method: "POST", body: { expert: Number(select.value) } });
      say($("#escalations-status"), t("Assigned to {name}.", { name: select.selectedOptions[0].textContent.split(" · ")[0] }));
      await loadEscalations();
    } catch (error) {
      button.disabled = false;
      say($("#escalations-status"), error.message, { error: true });
    }
  });
  return form;
}

const AUDIT_PAGE = 50;
let auditOffset = 0;

const AUDIT_ACTIONS = { read: "read", create: "created", update: "changed", delete: "deleted", refused: "refused" };

/** An audited object in the page's language: "报告版本 12" / "report version 12". */
function objectLabel(a) {
  const key = `object:${a.object_type}`;
  const name = t(key);
  return `${name === key ? a.object_type : name} ${a.object_id ?? ""}`.trim();
}

async function searchAudit(event, offset = 0) {
  event?.preventDefault();
  auditOffset = offset;
  const form = $("#audit-form");
  const params = new URLSearchParams([...new FormData(form)].filter(([, v]) => String(v).trim()));
  params.set("limit", String(AUDIT_PAGE));
  params.set("offset", String(auditOffset));
  try {
    const page = await api(`${E.AUDIT}?${params}`);
    $("#audit").replaceChildren(...page.results.map((a) => el("tr", { dataset: { action: a.action } },
      el("td", {}, formatDateTime(a.at)), el("td", { title: a.actor_username }, a.actor_name || a.actor_username),
      el("td", {}, t(AUDIT_ACTIONS[a.action] || a.action)), el("td", {}, objectLabel(a)),
      el("td", { class: "patient" }, a.patient_name ? `${a.patient_name}${a.patient_id_number ? ` · ${a.patient_id_number}` : ""}`
        : a.patient_id ? `#${a.patient_id}` : ""),
      el("td", {}, a.consultation_id ?? ""), el("td", {}, t(`interface:${a.interface}`)), el("td", {}, a.ip ?? ""))));
    say($("#audit-status"), t("{n} entries", { n: page.count }));
    pager($("#audit-pager"), { offset: auditOffset, size: AUDIT_PAGE, count: page.count, go: (o) => searchAudit(null, o) });
  } catch (error) {
    say($("#audit-status"), error.message, { error: true });
  }
}

async function main() {
  startNotifications($("#socket-state"), (e) => { if ((e.type || "").includes("escalat")) loadEscalations(); if (e.type === "record.break_glass") loadBreakGlass(); },
    { open: t("Live"), waiting: t("Reconnecting…"), closed: t("Offline") });
  $("#qc-sample-form")?.addEventListener("submit", drawSample);
  const audit = $("#audit-form");
  if (audit) audit.addEventListener("submit", (event) => searchAudit(event, 0));
  cardTables();
  const specialtyList = await rows(E.SPECIALTIES);
  specialties = Object.fromEntries(specialtyList.map((s) => [s.code, s]));
  setupRosterAdmin({ specialties: specialtyList, specialtyName, reload: loadRosters });
  await Promise.all([loadRosters(), loadOnCall(), loadTurnaround(), loadQc(), loadEscalations(), loadBreakGlass(), audit ? searchAudit() : null]);
  document.body.dataset.ready = "true";
}

main();
