// The coordinator's rosters: a new roster, a roster's pattern changed or stopped, its leave days and extra
// sessions, and the on-call shifts. Times typed in the forms are the county's wall clock (time.js).

import { allRows, api } from "./api.js";
import * as E from "./endpoints.js";
import { el, formatDateTime, say } from "./dom.js";
import { addDays, dayKey, instantAt } from "./time.js";
import { t } from "./strings.js";

const $ = (sel) => document.querySelector(sel);
const WEEKDAYS = [1, 2, 3, 4, 5, 6, 7]; // ISO: 1 = Monday ... 7 = Sunday
let options = { specialtyName: (code) => code, reload: async () => {} };

function weekdayBoxes(chosen = []) {
  return WEEKDAYS.map((d) => el("label", { class: "choice" },
    el("input", { type: "checkbox", name: "weekdays", value: d, checked: chosen.includes(d) }), ` ${t(`weekday:${d % 7}`)}`));
}

function formData(form) {
  const data = Object.fromEntries(new FormData(form));
  data.weekdays = [...form.querySelectorAll("input[name=weekdays]:checked")].map((box) => Number(box.value));
  return data;
}

function numbers(data, keys) {
  for (const key of keys) if (data[key] !== undefined && data[key] !== "") data[key] = Number(data[key]);
  return data;
}

/** Fill each form's expert choice with the experts of its chosen specialty. */
async function fillExperts(form) {
  const select = form.querySelector(".expert-choice");
  const specialty = form.querySelector(".specialty-choice").value;
  try {
    const experts = specialty ? await api(E.EXPERTS_TO_ASSIGN(specialty)) : [];
    const chosen = select.value; // kept if still one of them (chosen while the list was on its way)
    select.replaceChildren(...experts.map((x) => el("option", { value: x.id }, `${x.name}${x.title ? ` ${x.title}` : ""}`)));
    if (experts.some((x) => String(x.id) === chosen)) select.value = chosen;
  } catch (error) {
    select.replaceChildren();
    say($("#rosters-status"), error.message, { error: true });
  }
}

/** Wire the new-roster and on-call forms; `specialties` as the API lists them. */
export function setupRosterAdmin({ specialties, specialtyName, reload }) {
  options = { specialtyName, reload };
  const today = dayKey();
  for (const form of [$("#roster-form"), $("#oncall-form")]) {
    const choice = form.querySelector(".specialty-choice");
    choice.replaceChildren(...specialties.map((s) => el("option", { value: s.code }, specialtyName(s.code))));
    choice.addEventListener("change", () => fillExperts(form));
    fillExperts(form);
  }
  $("#roster-form .weekdays").append(...weekdayBoxes([1, 2, 3, 4, 5]));
  $("#roster-form input[name=valid_from]").value = today;
  $("#oncall-form input[name=day]").value = today;
  $("#roster-form").addEventListener("submit", createRoster);
  $("#oncall-form").addEventListener("submit", addOnCall);
}

async function createRoster(event) {
  event.preventDefault();
  const data = numbers(formData(event.currentTarget), ["expert", "slot_minutes", "capacity", "reserved_share", "release_hours"]);
  if (!data.valid_until) delete data.valid_until;
  try {
    await api(E.ROSTERS, { method: "POST", body: data });
    say($("#rosters-status"), t("Roster created; its sessions are on the calendar."));
    await options.reload();
  } catch (error) {
    say($("#rosters-status"), error.message, { error: true });
  }
}

/** The actions cell of a roster's row: change it, or its leave days and extra sessions. */
export function rosterActions(roster) {
  return el("td", { class: "actions" },
    el("button", { type: "button", class: "small", dataset: { action: "edit-roster" }, onclick: () => editRoster(roster) }, t("Change")),
    el("button", { type: "button", class: "small", dataset: { action: "roster-exceptions" }, onclick: () => openExceptions(roster) },
      t("Leave / extra session")));
}

function panel(title, ...children) {
  $("#roster-panel").replaceChildren(el("h3", {}, title), ...children,
    el("button", { type: "button", class: "small", onclick: () => $("#roster-panel").replaceChildren() }, t("Close")));
}

function editRoster(r) {
  const form = el("form", { class: "fields inline-grid", id: "roster-edit", dataset: { roster: r.id } },
    el("fieldset", { class: "weekdays" }, el("legend", {}, t("Weekdays")), ...weekdayBoxes(r.weekdays)),
    el("label", {}, t("Starts"), el("input", { name: "start_time", type: "time", value: r.start_time.slice(0, 5), required: true })),
    el("label", {}, t("Ends"), el("input", { name: "end_time", type: "time", value: r.end_time.slice(0, 5), required: true })),
    el("label", {}, t("Capacity"), el("input", { name: "capacity", type: "number", min: 1, max: 200, value: r.capacity })),
    el("label", {}, `${t("Reserved share")} (%)`, el("input", { name: "reserved_share", type: "number", min: 0, max: 100, value: r.reserved_share })),
    el("label", {}, t("Released (hours before)"), el("input", { name: "release_hours", type: "number", min: 0, max: 336, value: r.release_hours })),
    el("label", {}, t("Valid until"), el("input", { name: "valid_until", type: "date", value: r.valid_until || "" })),
    el("label", { class: "choice" }, el("input", { name: "active", type: "checkbox", checked: r.active }), ` ${t("Running")}`),
    el("button", { type: "submit", class: "primary" }, t("Save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = numbers(formData(form), ["capacity", "reserved_share", "release_hours"]);
    data.active = form.querySelector("input[name=active]").checked;
    data.valid_until = data.valid_until || null;
    try {
      await api(E.ROSTER(r.id), { method: "PATCH", body: data });
      say($("#rosters-status"), t("Roster changed; sessions nobody booked follow the new pattern."));
      $("#roster-panel").replaceChildren();
      await options.reload();
    } catch (error) {
      say($("#rosters-status"), error.message, { error: true });
    }
  });
  panel(`${t("Change")}: ${r.expert_name} · ${options.specialtyName(r.specialty)}`, form);
}

async function openExceptions(r) {
  const list = el("ul", { class: "plain", id: "roster-exceptions" });
  const extraTimes = el("span", { class: "extra-times", hidden: true },
    el("label", {}, t("Starts"), el("input", { name: "start_time", type: "time", value: "14:00" })),
    el("label", {}, t("Ends"), el("input", { name: "end_time", type: "time", value: "16:00" })));
  const kind = el("select", { name: "kind", onchange: () => { extraTimes.hidden = kind.value !== "extra"; } },
    el("option", { value: "leave" }, t("leave (no session that day)")), el("option", { value: "extra" }, t("extra session")));
  const form = el("form", { class: "row wrap", id: "exception-form" },
    el("label", {}, t("Day"), el("input", { name: "date", type: "date", value: addDays(dayKey(), 1), required: true })),
    el("label", {}, t("Kind"), kind), extraTimes,
    el("label", {}, t("Note"), el("input", { name: "note", maxlength: 200 })),
    el("button", { type: "submit", class: "primary" }, t("Add")));
  const show = async () => {
    const items = await allRows(E.ROSTER_EXCEPTIONS(r.id));
    list.replaceChildren(...items.map((x) => {
      const row = el("li", { dataset: { kind: x.kind, date: x.date, exception: x.id } },
        `${x.date} · ${x.kind === "leave" ? t("leave (no session that day)") : `${t("extra session")} ${x.start_time.slice(0, 5)}–${x.end_time.slice(0, 5)}`}`,
        x.note ? ` · ${x.note}` : "", " ");
      row.append(el("button", { type: "button", class: "small", dataset: { action: "undo" },
        onclick: () => undoException(r, x, row, false, show) }, t("Undo")));
      return row;
    }));
    if (!items.length) list.replaceChildren(el("li", { class: "muted" }, t("No leave or extra sessions ahead.")));
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    if (data.kind !== "extra") { delete data.start_time; delete data.end_time; }
    try {
      await api(E.ROSTER_EXCEPTIONS(r.id), { method: "POST", body: data });
      say($("#rosters-status"), data.kind === "leave" ? t("Leave recorded; that day's session and its bookings are cancelled.")
        : t("Extra session added."));
      await Promise.all([show(), options.reload()]);
    } catch (error) {
      say($("#rosters-status"), error.message, { error: true });
    }
  });
  panel(`${t("Leave / extra session")}: ${r.expert_name} · ${options.specialtyName(r.specialty)}`, list, form);
  try { await show(); } catch (error) { say($("#rosters-status"), error.message, { error: true }); }
}

/** Undo a leave day (its sessions come back) or an extra session. An extra session with bookings is not
 * removed silently: the server refuses (409 session_has_bookings) and the row asks whether to cancel them. */
async function undoException(r, x, row, cancelBookings, show) {
  try {
    const done = await api(E.ROSTER_EXCEPTION(r.id, x.id), { method: "DELETE",
      body: cancelBookings ? { cancel_bookings: true } : undefined });
    say($("#rosters-status"), x.kind === "leave" ? t("Leave undone; that day's sessions are open again.")
      : done.bookings_cancelled ? t("Extra session removed; {n} bookings cancelled and their doctors told.", { n: done.bookings_cancelled })
        : t("Extra session removed."));
    await Promise.all([show(), options.reload()]);
  } catch (error) {
    if (error.body?.code === "session_has_bookings") {
      row.querySelector("[data-action=undo]")?.remove();
      row.append(el("span", { class: "error", dataset: { role: "booked-warning" } },
        t("Patients are booked into this extra session.")), " ",
      el("button", { type: "button", class: "small danger", dataset: { action: "cancel-bookings" },
        onclick: () => undoException(r, x, row, true, show) }, t("Cancel their bookings and remove it")), " ",
      el("button", { type: "button", class: "small", onclick: () => show() }, t("Keep the session")));
      return;
    }
    say($("#rosters-status"), error.message, { error: true });
  }
}

export async function loadOnCall() {
  try {
    const shifts = await allRows(E.ON_CALL);
    $("#oncall").replaceChildren(...shifts.map((s) => el("tr", { dataset: { shift: s.id } },
      el("td", {}, s.expert_name), el("td", {}, options.specialtyName(s.specialty)),
      el("td", {}, formatDateTime(s.starts_at)), el("td", {}, formatDateTime(s.ends_at)),
      el("td", {}, el("button", { type: "button", class: "small danger", onclick: () => endOnCall(s) }, t("End"))))));
    if (!shifts.length) $("#oncall").replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "muted" }, t("Nobody is on call."))));
  } catch (error) {
    $("#oncall").replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "error" }, error.message)));
  }
}

async function addOnCall(event) {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(event.currentTarget));
  const starts = instantAt(data.day, data.from);
  const ends = new Date(starts.getTime() + Number(data.hours) * 3600000);
  try {
    await api(E.ON_CALL, { method: "POST", body: { expert: Number(data.expert), specialty: data.specialty,
      starts_at: starts.toISOString(), ends_at: ends.toISOString() } });
    say($("#oncall-status"), t("On call from {from} to {to}.", { from: formatDateTime(starts), to: formatDateTime(ends) }));
    await loadOnCall();
  } catch (error) {
    say($("#oncall-status"), error.message, { error: true });
  }
}

async function endOnCall(shift) {
  try {
    await api(E.ON_CALL_SHIFT(shift.id), { method: "DELETE" });
    say($("#oncall-status"), t("{name} is off call.", { name: shift.expert_name }));
  } catch (error) {
    say($("#oncall-status"), error.message, { error: true });
  }
  await loadOnCall();
}
