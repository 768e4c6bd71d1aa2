// The village doctor's console: today's patients and consultations, find/register a patient,
// start a consultation, upload studies, incoming reports, referrals; live updates from the socket.

import { api, rows } from "./api.js";
import * as E from "./endpoints.js";
import { el, formatDateTime, isToday, say } from "./dom.js";
import { startNotifications } from "./socket.js";
import { t } from "./strings.js";
import { startUpload } from "./uploader.js";

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
        `${p.name} · ${label("sex", p.sex)} · ${p.birth_date} · ${p.health_record_no || ""}`))));
    if (!patients.length) list.replaceChildren(el("li", { class: "muted" }, t("No patient found. Register one below.")));
  } catch (error) {
    list.replaceChildren(el("li", { class: "error" }, error.message));
  }
}

function selectPatient(patient) {
  state.patient = patient;
  $("#selected-patient").textContent = `${patient.name} (${label("sex", patient.sex)}, ${patient.birth_date})`;
  $("#consult-form").querySelector("button[type=submit]").disabled = false;
  $("#consult-form").dataset.patient = String(patient.id);
}

async function registerPatient(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const data = Object.fromEntries(new FormData(form));
  for (const key of ["phone", "id_number", "health_record_no"]) if (!data[key]) delete data[key];
  try {
    const patient = await api(E.PATIENTS, { method: "POST", body: data });
    form.reset();
    say($("#register-status"), t("Registered {name}.", { name: patient.name }));
    selectPatient(patient);
    loadTodayPatients();
  } catch (error) {
    say($("#register-status"), error.message, { error: true });
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
    await loadConsultations();
    $("#upload-consultation").value = String(consultation.id);
  } catch (error) {
    say($("#consult-status"), error.message, { error: true });
  }
}

async function loadConsultations() {
  state.consultations = await rows(`${E.CONSULTATIONS}?limit=100`);
  const today = state.consultations.filter((c) => isToday(c.created_at));
  const shown = today.length ? today : state.consultations.slice(0, 10);
  $("#consultations-title-note").textContent = !today.length && shown.length ? t("(none today; the latest)") : "";
  $("#consultations").replaceChildren(...shown.map((c) => el("tr", { dataset: { id: c.id, urgency: c.urgency } },
    el("td", {}, `#${c.id}`), el("td", {}, c.patient_name),
    el("td", {}, specialtyName(c.specialty)),
    el("td", {}, el("span", { class: `badge urgency-${c.urgency}` }, label("urgency", c.urgency))),
    el("td", {}, label("mode", c.mode)),
    el("td", {}, el("span", { class: `badge state-${c.state}` }, label("state", c.state))),
    el("td", {}, formatDateTime(c.created_at)))));
  if (!shown.length) $("#consultations").replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "muted" }, t("No consultations yet."))));
  $("#upload-consultation").replaceChildren(el("option", { value: "" }, "—"), ...state.consultations
    .filter((c) => !["closed", "cancelled"].includes(c.state))
    .map((c) => el("option", { value: c.id }, `#${c.id} ${c.patient_name} · ${specialtyName(c.specialty)}`)));
}

async function loadTodayPatients() {
  const patients = await rows(`${E.PATIENTS}?limit=50`);
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

// --- reports ------------------------------------------------------------------------
async function loadReports() {
  const list = $("#reports");
  try {
    const reports = await rows(E.REPORTS_INCOMING);
    list.replaceChildren(...reports.map(reportRow));
    if (!reports.length) list.replaceChildren(el("li", { class: "muted" }, t("No reports yet.")));
    const unread = reports.filter((r) => !r.acknowledged_at).length;
    $("#reports-unread").textContent = unread ? t("{n} unacknowledged", { n: unread }) : "";
  } catch (error) {
    list.replaceChildren(el("li", { class: "error" }, `${t("Reports are not available")}: ${error.message}`));
  }
}

function reportRow(r) {
  const acknowledged = Boolean(r.acknowledged_at);
  const status = acknowledged ? t("Acknowledged {when}", { when: formatDateTime(r.acknowledged_at) })
    : r.read_at ? t("Read, not acknowledged") : t("Unread");
  return el("li", { class: `report ${acknowledged ? "acknowledged" : "unread"}${r.critical ? " critical" : ""}`, dataset: { id: r.id } },
    el("div", {}, el("strong", {}, `${r.patient_name} · ${r.title || t("Report")}`),
      r.critical ? el("span", { class: "badge urgency-stat" }, t("Critical value")) : null),
    el("div", { class: "muted" }, `${r.signed_by_name || ""} · ${formatDateTime(r.signed_at)} · `, el("span", { class: "ack-state" }, status)),
    el("div", { class: "actions" },
      acknowledged ? null : el("button", { type: "button", class: "primary small", onclick: () => acknowledge(r.id) }, t("Acknowledge")),
      el("a", { href: E.REPORT_PDF(r.id), target: "_blank", rel: "noopener" }, t("Open PDF")),
      el("button", { type: "button", onclick: () => printPdf(r.id) }, t("Print"))));
}

async function acknowledge(id) {
  try {
    await api(E.REPORT_ACK(id), { method: "POST", body: {} });
    await loadReports();
  } catch (error) {
    say($("#reports-status"), error.message, { error: true });
  }
}

function printPdf(id) {
  const frame = el("iframe", { class: "print-frame", src: E.REPORT_PDF(id), title: "PDF" });
  frame.addEventListener("load", () => { try { frame.contentWindow.print(); } catch { window.open(E.REPORT_PDF(id)); } });
  document.body.append(frame);
  setTimeout(() => frame.remove(), 60000);
}

// --- referrals ----------------------------------------------------------------------
async function loadReferrals() {
  const list = $("#referrals");
  try {
    const referrals = await rows(E.REFERRALS);
    list.replaceChildren(...referrals.map((r) => el("li", { class: `referral ${r.direction}` },
      el("strong", {}, `${label("direction", r.direction)} · ${r.patient_name}`),
      el("span", { class: "muted" }, ` ${r.target_name || ""} ${r.slot_starts_at ? formatDateTime(r.slot_starts_at) : ""} · ${r.state_display || r.state || ""}`),
      r.follow_up_plan ? el("p", {}, r.follow_up_plan) : null,
      (r.tasks || []).length ? el("ul", { class: "tasks" }, r.tasks.map((task) =>
        el("li", { class: task.done ? "done" : "" }, `${task.due_date || ""} ${task.text}`))) : null)));
    if (!referrals.length) list.replaceChildren(el("li", { class: "muted" }, t("No referrals.")));
  } catch (error) {
    list.replaceChildren(el("li", { class: "error" }, `${t("Referrals are not available")}: ${error.message}`));
  }
}

// --- live events --------------------------------------------------------------------
function onEvent(event) {
  const type = event.type || "";
  if (type === "hello") return;
  $("#events .muted")?.remove();
  $("#events").prepend(el("li", {}, `${new Date().toLocaleTimeString()} ${t(type)}${event.message ? ` · ${event.message}` : ""}`));
  if (type.startsWith("report.")) loadReports();
  if (type.startsWith("consultation.") || type.startsWith("assignment.")) loadConsultations();
  if (type.startsWith("referral.")) loadReferrals();
  if (type.startsWith("upload.") && event.upload_id) {
    const row = document.querySelector(`.upload[data-upload-id="${event.upload_id}"]`);
    if (row && event.state) row.querySelector(".upload-state").textContent = t(`upload:${event.state}`);
  }
}

async function main() {
  $("#patient-search").addEventListener("submit", (e) => { e.preventDefault(); searchPatients($("#patient-q").value.trim()); });
  $("#register-form").addEventListener("submit", registerPatient);
  $("#consult-form").addEventListener("submit", startConsultation);
  bindUploads();
  startNotifications($("#socket-state"), onEvent, { open: t("Live"), waiting: t("Reconnecting…"), closed: t("Offline") });
  await loadSpecialties();
  await loadConsultations();
  await Promise.all([loadTodayPatients(), loadReports(), loadReferrals()]);
  document.body.dataset.ready = "true";
}

main();
