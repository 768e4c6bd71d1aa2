// The expert's workstation: live offers with a countdown, the worklist by urgency and due time
// (overdue in red), and the week's cloud-clinic sessions.

import { api, rows } from "./api.js";
import * as E from "./endpoints.js";
import { el, formatDateTime, say } from "./dom.js";
import { startNotifications } from "./socket.js";
import { t } from "./strings.js";

const $ = (sel) => document.querySelector(sel);
const URGENCY_RANK = { stat: 0, urgent: 1, routine: 2 };
let offers = [];

// --- offers -------------------------------------------------------------------------
async function loadOffers() {
  try {
    offers = await rows(E.OFFERS);
    renderOffers();
  } catch (error) {
    $("#offers").replaceChildren(el("li", { class: "error" }, `${t("Offers are not available")}: ${error.message}`));
  }
}

function renderOffers() {
  $("#offers").replaceChildren(...offers.map((o) => {
    const c = o.consultation || {};
    return el("li", { class: `offer urgency-${c.urgency}`, dataset: { id: o.id, expires: o.expires_at } },
      el("div", {}, el("strong", {}, `${c.patient_name || ""} · ${t(`urgency:${c.urgency}`)} · ${t(`mode:${c.mode}`)}`),
        el("p", { class: "muted" }, c.reason || "")),
      el("span", { class: "countdown", "aria-live": "off" }),
      el("button", { type: "button", class: "primary small", onclick: () => decide(o, "accept") }, t("Accept")),
      el("button", { type: "button", class: "small", onclick: () => decide(o, "decline") }, t("Decline")));
  }));
  if (!offers.length) $("#offers").replaceChildren(el("li", { class: "muted" }, t("No offers waiting.")));
  tick();
}

function tick() {
  const now = Date.now();
  for (const row of document.querySelectorAll(".offer")) {
    const left = Math.max(0, Math.round((new Date(row.dataset.expires).getTime() - now) / 1000));
    row.querySelector(".countdown").textContent = left > 0 ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}` : t("expired");
    row.classList.toggle("expired", left === 0);
    row.querySelectorAll("button").forEach((b) => { b.disabled = left === 0; });
  }
}

async function decide(offer, decision) {
  try {
    await api(decision === "accept" ? E.OFFER_ACCEPT(offer.id) : E.OFFER_DECLINE(offer.id), { method: "POST", body: {} });
    say($("#offers-status"), decision === "accept" ? t("Accepted: it is in your worklist.") : t("Declined."));
    await Promise.all([loadOffers(), loadWorklist()]);
  } catch (error) {
    say($("#offers-status"), error.message, { error: true });
  }
}

// --- worklist -----------------------------------------------------------------------
export function sortWorklist(items) {
  return [...items].sort((a, b) => (URGENCY_RANK[a.urgency] ?? 9) - (URGENCY_RANK[b.urgency] ?? 9)
    || (a.due_at ? Date.parse(a.due_at) : Infinity) - (b.due_at ? Date.parse(b.due_at) : Infinity));
}

async function loadWorklist() {
  try {
    const items = sortWorklist(await rows(E.WORKLIST));
    const now = Date.now();
    $("#worklist").replaceChildren(...items.map((w) => {
      const id = w.consultation_id ?? w.consultation ?? w.id;
      const overdue = w.due_at && Date.parse(w.due_at) < now;
      return el("tr", { class: overdue ? "overdue" : "", dataset: { id, urgency: w.urgency } },
        el("td", {}, el("span", { class: `badge urgency-${w.urgency}` }, t(`urgency:${w.urgency}`))),
        el("td", {}, w.patient_name), el("td", {}, w.specialty_name || w.specialty || ""),
        el("td", {}, t(`mode:${w.mode}`)), el("td", {}, w.kind ? t(`kind:${w.kind}`) : ""),
        el("td", { class: "due" }, formatDateTime(w.due_at), overdue ? el("strong", {}, ` ${t("overdue")}`) : null),
        el("td", {}, el("a", { href: `/read/${id}/`, class: "button" }, t("Read"))));
    }));
    if (!items.length) $("#worklist").replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "muted" }, t("Nothing to read."))));
  } catch (error) {
    $("#worklist").replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "error" }, `${t("Worklist is not available")}: ${error.message}`)));
  }
}

// --- calendar -----------------------------------------------------------------------
function weekStart(date) {
  const d = new Date(date);
  d.setHours(0, 0, 0, 0);
  d.setDate(d.getDate() - ((d.getDay() + 6) % 7)); // Monday
  return d;
}

async function loadCalendar() {
  const start = weekStart(new Date());
  const end = new Date(start);
  end.setDate(end.getDate() + 7);
  const days = [...Array(7)].map((_, i) => { const d = new Date(start); d.setDate(d.getDate() + i); return d; });
  const grid = $("#calendar");
  grid.replaceChildren(...days.map((d) => el("div", { class: `day${d.toDateString() === new Date().toDateString() ? " today" : ""}`, dataset: { date: d.toISOString().slice(0, 10) } },
    el("h4", {}, `${t(`weekday:${d.getDay()}`)} ${d.getMonth() + 1}/${d.getDate()}`))));
  try {
    const sessions = await rows(`${E.SESSIONS}?${new URLSearchParams({ from: start.toISOString(), to: end.toISOString(), mine: "1" })}`);
    for (const s of sessions) {
      const begins = new Date(s.starts_at);
      const day = grid.children[(begins.getDay() + 6) % 7];
      if (!day || begins < start || begins >= end) continue;
      const time = (iso) => new Date(iso).toTimeString().slice(0, 5);
      day.append(el("div", { class: "session" },
        el("strong", {}, `${time(s.starts_at)}–${time(s.ends_at)}`),
        el("div", {}, s.specialty_name || s.specialty || ""),
        el("div", { class: "muted" }, t("{booked}/{capacity} booked", { booked: s.booked ?? 0, capacity: s.capacity ?? 0 }))));
    }
  } catch (error) {
    say($("#calendar-status"), `${t("Sessions are not available")}: ${error.message}`, { error: true });
  }
}

function onEvent(event) {
  const type = event.type || "";
  if (type === "hello") return;
  if (type.startsWith("assignment.") || type.startsWith("offer.")) { loadOffers(); loadWorklist(); }
  if (type.startsWith("consultation.")) loadWorklist();
  if (type.startsWith("session.") || type.startsWith("booking.")) loadCalendar();
}

async function main() {
  startNotifications($("#socket-state"), onEvent, { open: t("Live"), waiting: t("Reconnecting…"), closed: t("Offline") });
  setInterval(tick, 1000);
  setInterval(loadWorklist, 60000); // due times turn overdue as the clock moves
  await Promise.all([loadOffers(), loadWorklist(), loadCalendar()]);
  document.body.dataset.ready = "true";
}

if (document.getElementById("worklist")) main();
