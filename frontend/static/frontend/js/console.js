// The village doctor's console: today's patients and consultations, find/register a patient,
// start a consultation, upload studies, incoming reports, referrals, cloud-clinic booking (console-bookings.js);
// live updates from the socket.

import { allRows, api, rows } from "./api.js";
import * as E from "./endpoints.js";
import { cardTables, debounce, el, formatDateTime, isToday, say } from "./dom.js";
import { formatClock } from "./time.js";
import { startNotifications } from "./socket.js";
import { t } from "./strings.js";
import { showUploadResult, startUpload } from "./uploader.js";
import { liveRoomButton } from "./rooms.js";
import { bindReportSearch, loadReports } from "./clinic-reports.js";
import { bindBookings, loadBookings, loadSlots } from "./console-bookings.js";

const $ = (sel) => document.querySelector(sel);
const state = { patient: null, consultations: [], specialties: [] };

function label(kind, value) { return t(`${kind}:${value}`); }

// --- patients ----------------------------------------------------------------------
async function searchPatients(query) {
  const list = $("#patient-results");
  try {
    const patients = await rows(`${E.PATIENTS}?${new URLSearchParams({ q: query, limit: 20 })}`);
    list.replaceChildren(...patients.map((p) => el("li", {},
      el("button", { type: "button", class: "link", onclick: () => selectPatient(p) },
        `${p.name} · ${label("sex", p.sex)} · ${p.birth_date} · ${p.health_record_no || ""}`), " ",
      el("a", { href: E.RECORD_PAGE(p.id), class: "small" }, t("Patient record")))));
    if (!patients.length) list.replaceChildren(el("li", { class: "muted" }, t("No patient found. Register them under “Register a patient”.")));
  } catch (error) {
    list.replaceChildren(el("li", { class: "error" }, error.message));
  }
}

function selectPatient(patient) {
  state.patient = patient;
  loadUnmatched();
  $("#selected-patient").textContent = `${patient.name} (${label("sex", patient.sex)}, ${patient.birth_date})`;
  $("#consult-form").querySelector("button[type=submit]").disabled = false;
  $("#consult-form").dataset.patient = String(patient.id);
  $("#selected-record").href = E.RECORD_PAGE(patient.id);
  $("#selected-record").hidden = false;
}

async function registerPatient(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const data = Object.fromEntries(new FormData(form));
  for (const key of ["phone", "id_number", "health_record_no", "sex", "birth_date"]) if (!data[key]) delete data[key];
  try {
    const patient = await api(E.PATIENTS, { method: "POST", body: data });
    form.reset();
    say($("#register-status"), t("Registered {name}.", { name: patient.name }));
    selectPatient(patient);
    loadTodayPatients();
  } catch (error) {
    say($("#register-status"), error.message, { error: true });
    const existing = error.body?.existing; // the same ID number is registered already, and this user may see it
    if (existing) {
      $("#register-status").append(" ", el("button", { type: "button", class: "link", dataset: { existing: existing.id },
        onclick: async () => selectPatient(await api(E.PATIENT(existing.id))) }, t("Use {name}'s record", { name: existing.name })));
    }
  }
}

// --- consultations ------------------------------------------------------------------
async function loadSpecialties() {
  state.specialties = await rows(E.SPECIALTIES);
  const lang = document.documentElement.lang;
  $("#consult-specialty").replaceChildren(...state.specialties.map((s) =>
    el("option", { value: s.code }, lang.startsWith("en") && s.name_en ? s.name_en : s.name)));
}

async function startConsultation(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (!state.patient) return;
  const data = Object.fromEntries(new FormData(form));
  try {
    const consultation = await api(E.CONSULTATIONS, { method: "POST", body: { ...data, patient: state.patient.id } });
    form.querySelector("textarea").value = "";
    say($("#consult-status"), t("Consultation #{id} requested.", { id: consultation.id }));
    loadRecognised(consultation);
    await loadConsultations();
    loadUnmatched(); // its consultation choices now include this one
    $("#upload-consultation").value = String(consultation.id);
    if (consultation.mode === "live") { $("#booking-consultation").value = String(consultation.id); loadSlots(); }
  } catch (error) {
    say($("#consult-status"), error.message, { error: true });
  }
}

/** Who holds the case while no expert does yet. */
function expertPending(c) {
  if (c.state === "offered") return t("being offered to an expert");
  if (c.state === "escalated") return t("the coordinator is finding an expert");
  if (["closed", "cancelled"].includes(c.state)) return "—";
  return t("not yet assigned");
}

/** What happens next, and whose move it is, for a consultation in the list. */
function nextStep(c) {
  switch (c.state) {
    case "requested":
      return c.mode === "live" ? (c.booked_at ? t("Wait for the booked time") : t("Book a cloud-clinic slot below"))
        : t("Upload the ECG or images below");
    case "offered": return t("Waiting for an expert to accept");
    case "escalated": return t("Waiting for the coordinator");
    case "assigned": return c.mode === "live" ? t("Open the room at the booked time") : t("Waiting for the expert's reading");
    case "in_progress": return t("The expert is writing the report");
    case "reported": return t("Read and acknowledge the report");
    case "closed": return t("Done");
    case "cancelled": return "—";
    default: return "";
  }
}

// Consultations come in cursor pages, newest first (a page stays right while new ones arrive on top). The
// table shows today's (or the latest ten) until the doctor loads earlier ones or searches; then every row
// loaded. A live event reloads the first page and merges it into what is loaded.
const listing = { next: null, query: "", expanded: false };

function consultationsUrl() {
  const params = new URLSearchParams({ paging: "cursor", limit: "50" });
  if (listing.query) params.set("q", listing.query);
  return `${E.CONSULTATIONS}?${params}`;
}

async function loadConsultations({ more = false, fresh = false } = {}) {
  const page = await api(more && listing.next ? listing.next : consultationsUrl());
  const results = Array.isArray(page) ? page : (page?.results ?? []); // a server without paging: the whole list
  const byId = new Map((fresh ? [] : state.consultations).map((c) => [c.id, c]));
  for (const c of results) byId.set(c.id, c);
  state.consultations = [...byId.values()].sort((a, b) => (b.created_at.localeCompare(a.created_at) || b.id - a.id));
  if (more || fresh || (listing.next === null && !listing.expanded)) listing.next = page?.next ?? null;
  $("#consultations-more").hidden = !listing.next;
  renderConsultations();
}

function renderConsultations() {
  const today = state.consultations.filter((c) => isToday(c.created_at));
  const all = listing.expanded || listing.query;
  const shown = all ? state.consultations : (today.length ? today : state.consultations.slice(0, 10));
  $("#consultations-title-note").textContent = listing.query ? t("{n} found", { n: shown.length })
    : !all && !today.length && shown.length ? t("(none today; the latest)") : "";
  $("#consultations").replaceChildren(...shown.map((c) => el("tr", { dataset: { id: c.id, urgency: c.urgency, state: c.state } },
    el("td", {}, `#${c.id}`), el("td", {}, el("a", { href: E.RECORD_PAGE(c.patient), class: "record-link" }, c.patient_name)),
    el("td", {}, specialtyName(c.specialty)),
    el("td", {}, el("span", { class: `badge urgency-${c.urgency}` }, label("urgency", c.urgency))),
    el("td", {}, label("mode", c.mode)),
    el("td", {}, el("span", { class: `badge state-${c.state}` }, label("state", c.state))),
    el("td", { class: "expert" }, c.expert_name || el("span", { class: "muted" }, expertPending(c))),
    el("td", { class: "next-step" }, nextStep(c)),
    el("td", { class: "booked" }, c.booked_at ? formatDateTime(c.booked_at) : ""),
    el("td", {}, formatDateTime(c.created_at)),
    el("td", {}, c.mode === "live" && !["closed", "cancelled"].includes(c.state)
      ? liveRoomButton(c.id, (error) => say($("#consult-status"), error.message, { error: true })) : null))));
  if (!shown.length) $("#consultations").replaceChildren(el("tr", {}, el("td", { colspan: 11, class: "muted" }, t("No consultations yet."))));
  const open = state.consultations.filter((c) => !["closed", "cancelled", "reported"].includes(c.state));
  const keep = $("#booking-consultation").value;
  $("#booking-consultation").replaceChildren(el("option", { value: "" }, "—"), ...open.filter((c) => c.mode === "live")
    .map((c) => el("option", { value: c.id }, `#${c.id} ${c.patient_name} · ${specialtyName(c.specialty)}`)));
  $("#booking-consultation").value = keep;
  if ($("#booking-consultation").value !== keep) loadSlots(); // booked, reported or closed: its slots go
  const chosen = $("#upload-consultation").value;
  $("#upload-consultation").replaceChildren(el("option", { value: "" }, "—"), ...state.consultations
    .filter((c) => !["closed", "cancelled"].includes(c.state))
    .map((c) => el("option", { value: c.id }, `#${c.id} ${c.patient_name} · ${specialtyName(c.specialty)}`)));
  $("#upload-consultation").value = chosen;
}

// --- results recognised (检查结果互认): a recent study of the kind asked for, attached instead of repeated ----
function ago(iso) {
  const days = Math.floor((Date.now() - new Date(iso).getTime()) / 86400000);
  return days <= 0 ? t("today") : t("{n} days ago", { n: days });
}

async function loadRecognised(consultation) {
  let data;
  try {
    data = await api(E.RECORD_RECOGNISED(consultation.id));
  } catch (error) {
    return; // a hint, not a step: the consultation is requested either way
  }
  const box = $("#recognised");
  box.hidden = !data.studies.length;
  box.dataset.consultation = String(consultation.id);
  $("#recognised-list").replaceChildren(...data.studies.map((s) => {
    const status = el("span", { class: "status" });
    return el("li", { dataset: { kind: s.kind, id: s.id } },
      el("span", {}, t("{kind} from {ago} exists", { kind: t(`kind:${s.kind}`), ago: ago(s.at) })),
      el("span", { class: "muted small" }, ` ${formatDateTime(s.at)}${s.description ? ` · ${s.description}` : ""} `),
      el("button", { type: "button", class: "small", onclick: async (event) => {
        event.currentTarget.disabled = true;
        try {
          await api(E.RECORD_RECOGNISED(consultation.id), { method: "POST", body: { study: `${s.kind}:${s.id}` } });
          say(status, t("Attached to consultation #{id}: no need to repeat it.", { id: consultation.id }));
        } catch (error) {
          event.currentTarget.disabled = false;
          say(status, error.message, { error: true });
        }
      } }, t("Attach instead of repeating")), " ", status);
  }));
}

// --- studies a modality sent for a patient nobody here has ------------------------------
async function loadUnmatched() {
  let studies;
  try {
    studies = await api(E.UNMATCHED_STUDIES);
  } catch (error) {
    say($("#unmatched-status"), error.message, { error: true });
    return;
  }
  $("#unmatched-count").textContent = studies.length ? String(studies.length) : "";
  const mine = state.patient ? state.consultations.filter((c) => c.patient === state.patient.id
    && !["closed", "cancelled"].includes(c.state)) : [];
  $("#unmatched").replaceChildren(...studies.map((s) => el("tr", { dataset: { id: s.id } },
    el("td", {}, formatDateTime(s.received_at)),
    el("td", {}, [s.dicom_patient_name, s.dicom_patient_id && `ID ${s.dicom_patient_id}`, s.dicom_patient_sex,
      s.dicom_patient_birth_date].filter(Boolean).join(" · ") || "—"),
    el("td", {}, [s.modalities.join("/"), s.description, s.study_date, t("{n} images", { n: s.instances })]
      .filter(Boolean).join(" · ")),
    el("td", {}, el("select", { class: "unmatched-consultation" }, el("option", { value: "" }, "—"),
      ...mine.map((c) => el("option", { value: c.id }, `#${c.id} ${specialtyName(c.specialty)}`)))),
    el("td", {}, el("button", { type: "button", class: "primary", disabled: !state.patient,
      onclick: (e) => matchStudy(s, e.currentTarget.closest("tr")) },
    state.patient ? t("File under {name}", { name: state.patient.name }) : t("choose a patient above"))))));
  if (!studies.length) $("#unmatched").replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "muted" }, t("None waiting."))));
}

async function matchStudy(study, row) {
  const consultation = row.querySelector(".unmatched-consultation").value;
  try {
    await api(E.STUDY_MATCH(study.id), { method: "POST",
      body: { patient: state.patient.id, ...(consultation ? { consultation: Number(consultation) } : {}) } });
    say($("#unmatched-status"), t("Filed under {name}.", { name: state.patient.name }));
  } catch (error) {
    say($("#unmatched-status"), error.message, { error: true });
  }
  loadUnmatched();
}

async function loadTodayPatients() {
  // the newest 50 (the list runs oldest first): the count first, then the last page
  const total = (await api(`${E.PATIENTS}?limit=1`)).count ?? 0;
  const patients = await rows(`${E.PATIENTS}?${new URLSearchParams({ limit: "50", offset: String(Math.max(0, total - 50)) })}`);
  const today = patients.filter((p) => isToday(p.created_at));
  const fromConsultations = state.consultations.filter((c) => isToday(c.created_at)).map((c) => c.patient);
  const seen = new Set();
  const list = patients.filter((p) => (isToday(p.created_at) || fromConsultations.includes(p.id)) && !seen.has(p.id) && seen.add(p.id));
  $("#today-patients").replaceChildren(...list.map((p) => el("li", {},
    el("button", { type: "button", class: "link", onclick: () => selectPatient(p) }, `${p.name} · ${label("sex", p.sex)} · ${p.birth_date}`))));
  if (!list.length && !today.length) $("#today-patients").replaceChildren(el("li", { class: "muted" }, t("No patients today yet.")));
}

function specialtyName(code) {
  const s = state.specialties.find((x) => x.code === code);
  if (!s) return code;
  return document.documentElement.lang.startsWith("en") && s.name_en ? s.name_en : s.name;
}

// --- uploads ------------------------------------------------------------------------
function bindUploads() {
  $("#upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const consultationId = $("#upload-consultation").value;
    const files = [...$("#upload-files").files];
    if (!consultationId || !files.length) { say($("#upload-status"), t("Choose a consultation and a file."), { error: true }); return; }
    const consultation = state.consultations.find((c) => String(c.id) === consultationId);
    say($("#upload-status"), "");
    for (const file of files) {
      startUpload(file, {
        list: $("#uploads"),
        metadata: { consultation: consultationId, patient: String(consultation?.patient ?? ""), kind: $("#upload-kind").value },
      });
    }
    $("#upload-files").value = "";
  });
}

// --- referrals and follow-up tasks ----------------------------------------------------------
let organisations = {};

async function loadReferrals() {
  const list = $("#referrals");
  try {
    const referrals = await allRows(E.REFERRALS);
    list.replaceChildren(...referrals.map(referralRow));
    if (!referrals.length) list.replaceChildren(el("li", { class: "muted" }, t("No referrals.")));
  } catch (error) {
    list.replaceChildren(el("li", { class: "error" }, `${t("Referrals are not available")}: ${error.message}`));
  }
}

function referralRow(r) {
  const consultation = state.consultations.find((c) => c.id === r.consultation);
  const patient = consultation ? consultation.patient_name : `#${r.patient}`;
  const where = r.direction === "up" ? organisations[r.to_org] : organisations[r.from_org];
  return el("li", { class: `referral ${r.direction}`, dataset: { id: r.id, state: r.state } },
    el("strong", {}, `${t(`direction:${r.direction}`)} · ${patient}`), " ",
    el("a", { href: E.RECORD_PAGE(r.patient), class: "small record-link" }, t("Patient record")),
    el("span", { class: "muted" }, ` ${where || ""} ${r.slot_starts_at ? formatDateTime(r.slot_starts_at) : ""} · ${t(`referral:${r.state}`)}`),
    r.summary || r.reason ? el("p", {}, r.summary || r.reason) : null,
    r.direction === "down" && r.state === "sent"
      ? el("button", { type: "button", class: "small", onclick: () => referralAcknowledge(r.id) }, t("Confirm receipt")) : null,
    (r.follow_ups || []).length ? el("ul", { class: "tasks" }, r.follow_ups.map((task) =>
      el("li", { class: task.state === "done" ? "done" : "", dataset: { task: task.id } }, `${task.due_on || ""} ${task.title} `,
        task.state === "done" ? null : el("button", { type: "button", class: "small", onclick: () => completeTask(task.id) }, t("Done"))))) : null);
}

async function referralAcknowledge(id) {
  try { await api(E.REFERRAL_ACK(id), { method: "POST", body: {} }); } catch (error) { say($("#referrals-status"), error.message, { error: true }); }
  await loadReferrals();
}

async function completeTask(id) {
  try { await api(E.FOLLOW_UP_COMPLETE(id), { method: "POST", body: { note: "" } }); } catch (error) { say($("#referrals-status"), error.message, { error: true }); }
  await loadReferrals();
}

// --- live events --------------------------------------------------------------------
// Reloads coalesce: a reconnect replays every pending report as its own 'report.pending' frame.
const EVENT_RELOAD_MS = 300;
const reload = {
  reports: debounce(() => loadReports(), EVENT_RELOAD_MS),
  consultations: debounce(() => loadConsultations(), EVENT_RELOAD_MS),
  referrals: debounce(() => loadReferrals(), EVENT_RELOAD_MS),
  slots: debounce(() => loadSlots(), EVENT_RELOAD_MS),
  bookings: debounce(() => loadBookings(), EVENT_RELOAD_MS),
};
const QUIET_EVENTS = new Set(["hello", "report.pending"]); // not worth a line in the feed

function onEvent(event) {
  const type = event.type || "";
  if (type.startsWith("report.")) reload.reports();
  if (type.startsWith("consultation.") || type.startsWith("assignment.") || type.startsWith("report.")) reload.consultations();
  if (type.startsWith("referral.")) reload.referrals();
  if (type.startsWith("booking.")) { reload.slots(); reload.bookings(); }
  if (type.startsWith("upload.") && event.upload) showUploadState(event);
  if (QUIET_EVENTS.has(type)) return;
  $("#events .muted")?.remove();
  const critical = Array.isArray(event.critical) ? event.critical.length > 0 : Boolean(event.critical);
  $("#events").prepend(el("li", { class: critical ? "critical" : "" },
    `${formatClock()} ${t(type)}${event.consultation ? ` · ${t("Consultation")} #${event.consultation}` : ""}`));
}

function bindConsultationSearch() {
  const form = $("#consultations-search");
  const run = async (fresh) => {
    try {
      await loadConsultations(fresh);
    } catch (error) {
      say($("#consult-status"), error.message, { error: true });
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    listing.query = form.elements.q.value.trim();
    listing.next = null;
    run({ fresh: true });
  });
  form.addEventListener("reset", () => {
    Object.assign(listing, { query: "", next: null, expanded: false });
    setTimeout(() => run({ fresh: true }));
  });
  $("#consultations-more").addEventListener("click", () => { listing.expanded = true; run({ more: true }); });
}

function showUploadState(event) {
  showUploadResult(document.querySelector(`.upload[data-upload-id="${event.upload}"]`), event);
}

async function main() {
  bindBookings({ consultations: () => state.consultations, specialtyName, reloadConsultations: () => loadConsultations() });
  $("#patient-search").addEventListener("submit", (e) => { e.preventDefault(); searchPatients($("#patient-q").value.trim()); });
  $("#register-form").addEventListener("submit", registerPatient);
  $("#consult-form").addEventListener("submit", startConsultation);
  bindUploads();
  bindReportSearch();
  cardTables();
  startNotifications($("#socket-state"), onEvent, { open: t("Live"), waiting: t("Reconnecting…"), closed: t("Offline") });
  $("#booking-consultation").addEventListener("change", loadSlots);
  bindConsultationSearch();
  organisations = Object.fromEntries((await rows(E.ORGANISATIONS)).map((o) => [o.id, o.name]));
  await loadSpecialties();
  await loadConsultations();
  await Promise.all([loadUnmatched(), loadTodayPatients(), loadReports(), loadReferrals(), loadBookings()]);
  document.body.dataset.ready = "true";
}

main();
