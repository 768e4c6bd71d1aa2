// The expert's workstation: live offers with a countdown, the worklist by urgency and due time
// (overdue in red), and the week's cloud-clinic sessions.

import { api, rows } from "./api.js";
import * as E from "./endpoints.js";
import { debounce, el, formatDateTime, say } from "./dom.js";
import { addDays, dayKey, formatTime, monthDay, startOfDay, weekdayOf } from "./time.js";
import { startNotifications } from "./socket.js";
import { t } from "./strings.js";
import { liveRoomButton } from "./rooms.js";
import { askDialog } from "./dialog.js";

const $ = (sel) => document.querySelector(sel);

// --- offers and worklist (one call: offered items carry their assignment and its expiry) --------------
let specialties = {};

async function loadWork() {
  try {
    const items = await rows(E.WORKLIST);
    renderOffers(items.filter((w) => w.status === "offered"));
    renderWorklist(items.filter((w) => w.status !== "offered"));
  } catch (error) {
    const message = `${t("Worklist is not available")}: ${error.message}`;
    $("#offers").replaceChildren(el("li", { class: "error" }, message));
    $("#worklist").replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "error" }, message)));
  }
}

// An offer says what the expert is asked to take on: the question, the clinic, why it is urgent, the studies.
function renderOffers(offers) {
  $("#offers").replaceChildren(...offers.map((w) => el("li", {
    class: `offer urgency-${w.urgency}`, dataset: { id: w.assignment, consultation: w.consultation, expires: w.offer_expires_at } },
    el("div", {}, el("strong", {}, `${w.patient_name} · ${t(`urgency:${w.urgency}`)} · ${t(`mode:${w.mode}`)} · ${specialtyName(w.specialty)}`),
      el("div", { class: "offer-details" },
        el("span", { dataset: { detail: "reason" } }, `${t("Reason")}：${w.reason || "—"}`),
        el("span", { dataset: { detail: "clinic" } }, `${t("Clinic")}：${w.clinic || "—"}`),
        w.urgency !== "routine" ? el("span", { class: "urgency-reason", dataset: { detail: "urgency" } }, urgencyReason(w)) : null,
        el("span", { dataset: { detail: "studies" } }, `${t("Studies")}：`, studiesLine(w.studies, { inline: true }) || t("Nothing uploaded yet."))),
      w.slot_starts_at ? el("p", { class: "muted" }, `${t("Booked time")} ${formatDateTime(w.slot_starts_at)}`) : null),
    el("span", { class: "countdown", "aria-live": "off" }),
    el("button", { type: "button", class: "primary small", onclick: () => decide(w.assignment, "accept") }, t("Accept")),
    el("button", { type: "button", class: "small", dataset: { decline: w.assignment }, onclick: () => declineOffer(w) }, t("Decline")))));
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

// Why a case is stat or urgent: the ECG's critical values when it has them, else the requesting doctor's choice.
function urgencyReason(w) {
  const codes = [...new Set((w.studies || []).flatMap((s) => s.critical || []))];
  const label = (code) => (t(`critical:${code}`) !== `critical:${code}` ? t(`critical:${code}`) : code);
  return codes.length ? `${t("Why {urgency}", { urgency: t(`urgency:${w.urgency}`) })}：${t("Critical value")} ${codes.map(label).join(t(", "))}`
    : `${t("Why {urgency}", { urgency: t(`urgency:${w.urgency}`) })}：${t("marked so by the requesting doctor")}`;
}

const DECLINE_CODES = ["busy", "outside_expertise", "unavailable", "conflict", "other"];

// Declining asks why (a choice, and words for "other"): the coordinator sees it if the case is escalated.
async function declineOffer(w) {
  const choices = DECLINE_CODES.map((code) => el("label", {}, el("input", { type: "radio", name: "decline_code", value: code }),
    ` ${t(`decline:${code}`)}`));
  const words = el("textarea", { name: "decline_reason", rows: 2, maxlength: 200, placeholder: t("In a few words (optional; required for other)") });
  const chosen = () => choices.map((c) => c.querySelector("input")).find((i) => i.checked)?.value || "";
  const ok = await askDialog({
    id: "decline-dialog", title: t("Decline the offer of {name}?", { name: w.patient_name }), confirm: t("Decline"),
    content: [el("fieldset", {}, el("legend", {}, t("Why do you decline?")), choices), el("label", {}, t("Reason"), words)],
    check: () => (!chosen() ? t("Choose a reason.") : chosen() === "other" && !words.value.trim() ? t("Say why in a few words.") : ""),
  });
  if (ok) await decide(w.assignment, "decline", { code: chosen(), reason: words.value.trim() });
}

async function decide(assignmentId, decision, why = {}) {
  try {
    if (decision === "accept") await api(E.OFFER_ACCEPT(assignmentId), { method: "POST", body: {} });
    else await api(E.OFFER_DECLINE(assignmentId), { method: "POST", body: { code: why.code || "", reason: why.reason || "" } });
    say($("#offers-status"), decision === "accept" ? t("Accepted: it is in your worklist.") : t("Declined."));
    await loadWork();
  } catch (error) {
    say($("#offers-status"), error.message, { error: true });
  }
}

function renderWorklist(items) {
  // the server orders by urgency, then due time; overdue is its flag, or the clock passing due_at since
  const now = Date.now();
  $("#worklist").replaceChildren(...items.map((w) => {
    const overdue = w.overdue || (w.due_at && Date.parse(w.due_at) < now);
    // data-label: the column's name, shown before the value where the table is a list of cards (a phone)
    return el("tr", { class: overdue ? "overdue" : "", dataset: { id: w.consultation, urgency: w.urgency } },
      el("td", {}, el("span", { class: `badge urgency-${w.urgency}` }, t(`urgency:${w.urgency}`))),
      el("td", {}, w.patient_name, studiesLine(w.studies)), el("td", { "data-label": t("Specialty") }, specialtyName(w.specialty)),
      el("td", { "data-label": t("Mode") }, t(`mode:${w.mode}`)), el("td", { "data-label": t("State") }, t(`state:${w.state}`)),
      el("td", { class: "due", "data-label": t("Due or booked time") }, formatDateTime(w.slot_starts_at || w.due_at),
        overdue ? el("strong", {}, ` ${t("overdue")}`) : null),
      el("td", { class: "actions" }, el("a", { href: E.READING_PAGE(w.consultation), class: "button" }, t("Read")),
        w.status === "assigned" ? el("a", { href: E.RECORD_PAGE(w.patient), class: "button record-link" }, t("Patient record")) : null,
        w.mode === "live" ? liveRoomButton(w.consultation, (error) => say($("#offers-status"), error.message, { error: true }), { join: true }) : null));
  }));
  if (!items.length) $("#worklist").replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "muted" }, t("Nothing to read."))));
}

// What there is to read, under the patient's name: "心电图 ×2 · CT · MR/CT".
function studiesLine(studies = [], { inline = false } = {}) {
  const ecgs = studies.filter((s) => s.type === "ecg").length;
  const parts = ecgs ? [ecgs > 1 ? `${t("kind:ecg")} ×${ecgs}` : t("kind:ecg")] : [];
  for (const s of studies) {
    if (s.type === "imaging") parts.push((s.modalities || []).join("/") || t("kind:imaging"));
  }
  if (!parts.length) return null;
  return inline ? parts.join(" · ") : el("div", { class: "studies muted" }, parts.join(" · "));
}

function specialtyName(code) {
  const s = specialties[code];
  if (!s) return code || "";
  return document.documentElement.lang.startsWith("en") && s.name_en ? s.name_en : s.name;
}

// --- second reads (quality control) -------------------------------------------------------
async function loadQcReads() {
  if (!E.QC_READS) return;
  const list = $("#qc-reads");
  try {
    const reads = (await rows(E.QC_READS)).filter((r) => !r.read_at);
    list.replaceChildren(...reads.map((r) => {
      const comment = el("input", { type: "text", name: "comment", placeholder: t("Comment (optional)") });
      const summary = r.content?.conclusion || r.content?.impression || r.content?.assessment || "";
      return el("li", { class: "qc-read", dataset: { sample: r.id } },
        el("div", {}, el("strong", {}, `${t("{kind} report", { kind: t(`kind:${r.kind}`) })} #${r.report} · ${t("version")} ${r.version}`),
          el("p", { class: "muted" }, summary)),
        comment,
        ...[["agree", "Agreed"], ["minor", "Minor discrepancy"], ["major", "Major discrepancy"]].map(([agreement, label]) =>
          el("button", { type: "button", class: "small", dataset: { agreement },
            onclick: () => recordQc(r.id, agreement, comment.value) }, t(label))));
    }));
    if (!reads.length) list.replaceChildren(el("li", { class: "muted" }, t("No second reads waiting.")));
  } catch (error) {
    list.replaceChildren(el("li", { class: "error" }, `${t("QC figures are not available")}: ${error.message}`));
  }
}

async function recordQc(sampleId, agreement, comment) {
  try {
    await api(E.QC_RECORD(sampleId), { method: "POST", body: { agreement, comment } });
    say($("#qc-status"), t("Second read recorded."));
    await loadQcReads();
  } catch (error) {
    say($("#qc-status"), error.message, { error: true });
  }
}

// --- calendar: this week, Monday first, days and times in the service's zone ---------------------
async function loadCalendar() {
  const today = dayKey();
  const monday = addDays(today, -((weekdayOf(today) + 6) % 7));
  const days = [...Array(7)].map((_, i) => addDays(monday, i));
  const start = startOfDay(monday);
  const end = startOfDay(addDays(monday, 7));
  const grid = $("#calendar");
  grid.replaceChildren(...days.map((d) => el("div", { class: `day${d === today ? " today" : ""}`, dataset: { date: d } },
    el("h4", {}, `${t(`weekday:${weekdayOf(d)}`)} ${monthDay(d)}`))));
  try {
    const sessions = await rows(`${E.MY_CALENDAR}?${new URLSearchParams({ from: start.toISOString(), to: end.toISOString() })}`);
    for (const s of sessions) {
      const day = grid.children[days.indexOf(dayKey(s.starts_at))];
      if (!day) continue;
      day.append(el("div", { class: "session" },
        el("strong", {}, `${formatTime(s.starts_at)}–${formatTime(s.ends_at)}`),
        el("div", {}, specialtyName(s.specialty)),
        el("div", { class: "muted" }, t("{booked}/{capacity} booked", {
          booked: (s.slots || []).reduce((n, slot) => n + (slot.bookings || []).length, 0), capacity: (s.slots || []).length }))));
    }
  } catch (error) {
    say($("#calendar-status"), `${t("Sessions are not available")}: ${error.message}`, { error: true });
  }
}

const reloadWork = debounce(() => loadWork(), 300);
const reloadCalendar = debounce(() => loadCalendar(), 300);

function onEvent(event) {
  const type = event.type || "";
  if (type.startsWith("assignment.") || type.startsWith("consultation.") || type.startsWith("study.")) reloadWork();
  if (type.startsWith("session.") || type.startsWith("booking.")) reloadCalendar();
}

async function main() {
  startNotifications($("#socket-state"), onEvent, { open: t("Live"), waiting: t("Reconnecting…"), closed: t("Offline") });
  setInterval(tick, 1000);
  setInterval(loadWork, 60000); // due times turn overdue as the clock moves
  specialties = Object.fromEntries((await rows(E.SPECIALTIES)).map((s) => [s.code, s]));
  await Promise.all([loadWork(), loadCalendar(), loadQcReads()]);
  document.body.dataset.ready = "true";
}

if (document.getElementById("worklist")) main();
