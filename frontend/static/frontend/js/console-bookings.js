// The console's cloud-clinic booking: free slots of a consultation's specialty in the next two weeks (booked
// with a click), and the clinic's bookings, cancelled or moved to another free slot.
import { allRows, api } from "./api.js";
import * as E from "./endpoints.js";
import { el, formatDateTime, say } from "./dom.js";
import { dayKey, formatTime, monthDay, weekdayOf } from "./time.js";
import { t } from "./strings.js";

const SLOT_DAYS = 14;
const $ = (sel) => document.querySelector(sel);
// What the console knows and this part needs: its consultations, the specialties' names, a reload of its list.
let page = { consultations: () => [], specialtyName: (code) => code, reloadConsultations: async () => {} };

/** Call once, before anything else here: the console's hooks ({consultations, specialtyName, reloadConsultations}). */
export function bindBookings(hooks) {
  page = { ...page, ...hooks };
}

/** Free slots of a specialty in the next two weeks, by session. Green-channel slots are left out: they
 * are booked by the expert through an upward referral (the server would answer 403 green_channel_only). */
async function freeSlotsBySession(specialty) {
  const from = new Date();
  const to = new Date(from.getTime() + SLOT_DAYS * 86400000);
  const range = { from: from.toISOString(), to: to.toISOString() };
  const [slots, sessions] = await Promise.all([
    allRows(`${E.SLOTS}?${new URLSearchParams({ ...range, specialty, free: "1" })}`),
    allRows(`${E.SESSIONS}?${new URLSearchParams({ ...range, specialty })}`)]);
  const bySession = new Map(sessions.map((session) => [session.id, { session, slots: [] }]));
  for (const slot of slots) if (slot.kind !== "green_channel") bySession.get(slot.session)?.slots.push(slot);
  return [...bySession.values()].filter((group) => group.slots.length);
}

/** One line per session (day, expert), its free times as small buttons; reserved ones marked. */
function slotLines(groups, onPick) {
  return groups.map(({ session, slots }) => {
    const day = dayKey(session.starts_at);
    return el("li", { class: "session-slots", dataset: { session: session.id } },
      el("span", { class: "session-label" }, `${monthDay(day)} ${t(`weekday:${weekdayOf(day)}`)} · ${session.expert_name || ""}`),
      el("span", { class: "times" }, slots.map((slot) => el("button", {
        type: "button", class: `slot${slot.reserved ? " reserved" : ""}`, dataset: { slot: slot.id },
        title: slot.reserved ? t("reserved for grassroots") : "", onclick: () => onPick(slot) }, formatTime(slot.starts_at)))));
  });
}

export async function loadSlots() {
  const consultation = page.consultations().find((c) => String(c.id) === $("#booking-consultation").value);
  const list = $("#slots");
  if (!consultation) { list.replaceChildren(); return; }
  try {
    const groups = await freeSlotsBySession(consultation.specialty);
    list.replaceChildren(...slotLines(groups, (slot) => book(slot, consultation)));
    if (!groups.length) list.replaceChildren(el("li", { class: "muted" }, t("No free slots in the next two weeks.")));
  } catch (error) {
    list.replaceChildren(el("li", { class: "error" }, `${t("Slots are not available")}: ${error.message}`));
  }
}

/** What a doctor can act on, for the scheduling API's refusals (409 taken/closed, 403 not for this clinic, 400 past). */
function bookingErrorText(error) {
  const key = `booking-error:${error.body?.code}`;
  return error.body?.code && t(key) !== key ? t(key) : error.message;
}

async function book(slot, consultation) {
  try {
    await api(E.BOOKINGS, { method: "POST", body: { slot: slot.id, patient: consultation.patient, consultation: consultation.id } });
    say($("#booking-status"), t("Booked {time}.", { time: formatDateTime(slot.starts_at) }));
  } catch (error) {
    say($("#booking-status"), bookingErrorText(error), { error: true });
  }
  await Promise.all([loadSlots(), loadBookings()]);
}

export async function loadBookings() {
  const list = $("#bookings");
  try {
    const now = Date.now();
    const bookings = (await allRows(`${E.BOOKINGS}?${new URLSearchParams({ status: "booked" })}`))
      .filter((b) => Date.parse(b.ends_at || b.starts_at) > now);
    list.replaceChildren(...bookings.map(bookingRow));
    if (!bookings.length) list.replaceChildren(el("li", { class: "muted" }, t("No booked slots.")));
  } catch (error) {
    list.replaceChildren(el("li", { class: "error" }, `${t("Bookings are not available")}: ${error.message}`));
  }
}

function bookingRow(b) {
  const day = dayKey(b.starts_at);
  const panel = el("div", { class: "booking-panel" });
  return el("li", { class: "booking", dataset: { booking: b.id, slot: b.slot, status: b.status } },
    el("div", {}, el("strong", { class: "when" }, `${monthDay(day)} ${t(`weekday:${weekdayOf(day)}`)} ${formatTime(b.starts_at)}`),
      ` · ${b.patient_name} · ${b.expert_name || ""} · ${page.specialtyName(b.specialty)}`,
      b.consultation ? ` · ${t("Consultation")} #${b.consultation}` : ""),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "small", dataset: { action: "reschedule" }, onclick: () => openReschedule(panel, b) }, t("Reschedule")),
      el("button", { type: "button", class: "small danger", dataset: { action: "cancel" }, onclick: () => askCancel(panel, b) }, t("Cancel booking"))),
    panel);
}

function panelMessage(text) {
  return text ? el("p", { class: "status error", role: "alert" }, text) : null;
}

function askCancel(panel, b, message = "") {
  panel.replaceChildren(panelMessage(message) || "", el("div", { class: "confirm" },
    el("span", {}, t("Cancel the booking of {name} at {time}?", { name: b.patient_name, time: formatDateTime(b.starts_at) })),
    el("button", { type: "button", class: "small danger", dataset: { action: "confirm-cancel" }, onclick: () => cancelBooking(panel, b) }, t("Yes, cancel it")),
    el("button", { type: "button", class: "small", dataset: { action: "keep" }, onclick: () => panel.replaceChildren() }, t("Keep it"))));
}

async function cancelBooking(panel, b) {
  try {
    await api(E.BOOKING_CANCEL(b.id), { method: "POST", body: {} });
  } catch (error) {
    askCancel(panel, b, bookingErrorText(error));
    return;
  }
  say($("#booking-status"), t("Booking of {time} cancelled.", { time: formatDateTime(b.starts_at) }));
  await Promise.all([loadBookings(), loadSlots()]);
}

/** The free slots of the booking's specialty to move it to (its own slot left out). */
async function openReschedule(panel, b, message = "") {
  panel.replaceChildren(el("p", { class: "muted" }, t("Loading free slots…")));
  let groups;
  try {
    groups = (await freeSlotsBySession(b.specialty))
      .map((group) => ({ ...group, slots: group.slots.filter((slot) => slot.id !== b.slot) }))
      .filter((group) => group.slots.length);
  } catch (error) {
    panel.replaceChildren(panelMessage(`${t("Slots are not available")}: ${error.message}`));
    return;
  }
  panel.replaceChildren(panelMessage(message) || "", el("p", {}, t("Move to another free slot:")),
    groups.length ? el("ul", { class: "plain slots" }, slotLines(groups, (slot) => reschedule(panel, b, slot)))
      : el("p", { class: "muted" }, t("No free slots in the next two weeks.")),
    el("button", { type: "button", class: "small", dataset: { action: "close" }, onclick: () => panel.replaceChildren() }, t("Close")));
}

async function reschedule(panel, b, slot) {
  let moved;
  try {
    moved = await api(E.BOOKING_RESCHEDULE(b.id), { method: "POST", body: { slot: slot.id } });
  } catch (error) {
    await openReschedule(panel, b, bookingErrorText(error)); // the list again: the slot may be gone
    return;
  }
  say($("#booking-status"), t("Moved to {time}.", { time: formatDateTime(moved.starts_at) }));
  await Promise.all([loadBookings(), loadSlots(), page.reloadConsultations()]);
}
