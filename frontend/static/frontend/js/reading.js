// The reading page of one consultation: its ECGs and images in the viewers, and the report editor.

import { api, rows } from "./api.js";
import * as E from "./endpoints.js";
import { el, formatDateTime } from "./dom.js";
import { EcgViewer } from "./ecg-viewer.js";
import { ImageViewer } from "./image-viewer.js";
import { KeyImages } from "./key-images.js";
import { ReferralPanel } from "./referral-panel.js";
import { ReportEditor } from "./report-editor.js";
import { t } from "./strings.js";

const $ = (sel) => document.querySelector(sel);
const consultationId = Number(document.body.dataset.consultation);
const editor = new ReportEditor($("#report"), consultationId);
const referrals = new ReferralPanel($("#referral"), consultationId);
let ecgViewer = null;
let priorViewer = null;
let comparing = 0;  // the latest comparison asked for: an older answer arriving late is dropped
let imageViewer = null;
let keyImages = null;  // the imaging report's key images, marked on the viewer's frame
let consultation = null;
let openedStudy = null;
let currentImagingUid = null;  // the case's first imaging study: what a prior is compared with in OHIF
// the sign dialog names the patient and the study being reported
editor.describe = () => ({ patient: consultation ? patientLine(consultation) : "", study: openedStudy ? studyLabel(openedStudy) : "" });

// The header: the case, its state and its report's state. It follows what is done on this page
// (starting, signing, amending the report, referrals) without a reload.
async function loadHeader() {
  consultation = await api(E.CONSULTATION(consultationId));
  renderHeader();
}

function renderHeader() {
  const c = consultation;
  if (!c) return;
  const report = editor.report;
  const header = $("#case");
  header.dataset.state = c.state;
  header.dataset.reportState = report ? report.state : "none";
  header.replaceChildren(...[  // (no report yet: nothing in its place, never the text "null")
    el("strong", {}, `#${c.id} ${c.patient_name}`),
    el("span", { class: `badge urgency-${c.urgency}` }, t(`urgency:${c.urgency}`)),
    el("span", {}, t(`mode:${c.mode}`)),
    el("span", { class: `badge state-${c.state}`, dataset: { field: "state" } }, t(`state:${c.state}`)),
    report ? el("span", { class: "report-state", dataset: { field: "report" } }, reportSummary(report)) : null,
    el("span", { class: "muted" }, `${t("Requested")} ${formatDateTime(c.created_at)}`),
    c.reason ? el("p", { class: "reason" }, c.reason) : null].filter(Boolean));
}

function patientLine(c) {
  return `${c.patient_name}${c.patient_sex ? ` · ${t(`sex:${c.patient_sex}`)}` : ""} · #${c.id}`;
}

function studyLabel(study) {
  return `${t(`kind:${study.type}`)} ${formatDateTime(study.created_at)}`;
}

function reportSummary(report) {
  const versions = report.versions || [];
  const latest = versions.length ? ` · ${t("version")} ${versions[versions.length - 1].number}` : "";
  return `${t("{kind} report", { kind: t(`kind:${report.kind}`) })}: ${t(`report:${report.state}`)}${latest}`;
}

async function refreshHeader() {
  try {
    await loadHeader();
  } catch (error) {
    $("#page-status").textContent = error.message;
  }
}

// Priors for the reader: studies attached from the record (read like this case's own), then the patient's
// earlier studies of the same kinds, each opening in this page's viewer for comparison.
async function loadPriors() {
  let data;
  try {
    data = await api(E.RECORD_PRIORS(consultationId));
  } catch (error) {
    $("#priors").replaceChildren(el("li", { class: "error" }, error.message));
    return;
  }
  const link = $("#record-link");
  link.href = E.RECORD_PAGE(data.patient);
  link.hidden = false;
  const row = (s, attached) => el("li", { dataset: { kind: s.kind, id: s.id, attached: attached ? "true" : "false" } },
    el("button", { type: "button", class: "link", onclick: () => (attached ? openStudy({ type: s.kind, id: s.id, created_at: s.at }) : openPrior(s)) },
      `${t(`kind:${s.kind}`)} ${formatDateTime(s.at)}${s.description ? ` · ${s.description}` : ""}`),
    el("span", { class: "muted small" }, attached ? ` ${t("attached from the record")}` : (s.consultation ? ` #${s.consultation}` : "")),
    compareLink(s));
  const items = [...data.attached.map((s) => row(s, true)), ...data.priors.map((s) => row(s, false))];
  $("#priors").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, t("No earlier studies."))]));
}

/** "Compare with this prior": OHIF with the case's study and the prior side by side (our hanging protocol for
 * two studies, registered in OHIF's app-config.js by frontend/ohif.py: the first study left, the second right). */
function compareLink(prior) {
  if (!$("#open-ohif") || !currentImagingUid || prior.kind !== "imaging" || !prior.study_instance_uid
    || prior.study_instance_uid === currentImagingUid) return null;
  const query = new URLSearchParams({ StudyInstanceUIDs: `${currentImagingUid},${prior.study_instance_uid}`,
    hangingProtocolId: "@teleclinic/hpCompare" });
  return el("a", { class: "button small", href: `/ohif/viewer?${query}`, target: `ohif-${consultationId}`,
    dataset: { compare: prior.study_instance_uid } }, t("Compare with this prior in OHIF"));
}

// A prior opens in the viewer for comparison; the report keeps reading this case's own study.
async function openPrior(prior) {
  hideComparison();
  $("#ecg-panel").hidden = prior.kind !== "ecg";
  $("#image-panel").hidden = prior.kind !== "imaging";
  try {
    if (prior.kind === "ecg") {
      ecgViewerOnce();
      const [record, samples] = await Promise.all([api(E.ECG(prior.id)), api(E.ECG_SAMPLES(prior.id))]);
      const device = record.device_measurements || {};
      const computed = record.computed_measurements || {};
      ecgViewer.load(samples, { device: device.values || {}, computed: computed.values || {}, statements: device.statements || [],
        critical: record.critical_findings || [], computedStatements: computed.statements || [] });
    } else {
      const shown = await api(E.IMAGING_STUDY(prior.id));
      imagesViewer().load(shown);
      keyImages.setShown(`dicom:${shown.study_instance_uid}`);
    }
    $("#study-tabs").dataset.showing = `prior:${prior.kind}:${prior.id}`;
  } catch (error) {
    $("#page-status").textContent = error.message;
  }
}

async function loadStudies() {
  let studies;
  try {
    studies = await rows(E.CONSULTATION_STUDIES(consultationId));
  } catch (error) {
    $("#study-tabs").replaceChildren(el("p", { class: "error" }, `${t("Studies are not available")}: ${error.message}`));
    return;
  }
  const tabs = $("#study-tabs");
  tabs.replaceChildren(...studies.map((s, i) => el("button", { type: "button", dataset: { index: i },
    onclick: () => openStudy(s) }, studyLabel(s))));
  if (!studies.length) tabs.replaceChildren(el("p", { class: "muted" }, t("Nothing uploaded yet.")));
  const uids = studies.filter((s) => s.type === "imaging" && s.study_instance_uid).map((s) => s.study_instance_uid);
  currentImagingUid = uids[0] ?? null;
  const ohif = $("#open-ohif");
  if (ohif && uids.length) {  // the reading viewer, in its own window beside this page's report editor
    ohif.href = `/ohif/viewer?${new URLSearchParams({ StudyInstanceUIDs: uids.join(",") })}`;
    ohif.hidden = false;
  }
  if (studies.length) await openStudy(studies[0]);
}

function ecgViewerOnce() {
  if (!ecgViewer) {
    ecgViewer = new EcgViewer($("#ecg"));
    // the prior is drawn on the same paper as the current ECG: it follows its gain, speed and zoom
    $("#ecg").addEventListener("paper-changed", (event) => priorViewer?.setPaper(event.detail));
  }
  return ecgViewer;
}

function hideComparison() {
  comparing += 1;
  $("#serial").hidden = true;
  delete $("#serial").dataset.prior;
}

// Serial comparison: the patient's previous ECG (the most recent earlier one this reader may see) under
// the current one, on the same paper, with the differences in rate, PR, QRS, QTc and axis and the
// statements that are new or gone.
async function loadComparison(ecgId) {
  hideComparison();
  const asked = comparing;
  const body = await api(E.RECORD_ECG_COMPARISON(ecgId));
  if (asked !== comparing) return;
  const section = $("#serial");
  section.dataset.current = String(ecgId);
  if (!body.prior) {
    section.dataset.prior = "none";
    return;
  }
  const samples = await api(body.prior.samples_url);
  if (asked !== comparing) return;
  $("#serial-when").textContent = `${formatDateTime(body.prior.at)}${body.prior.consultation ? ` · #${body.prior.consultation}` : ""}`;
  $("#serial-measurements").replaceChildren(comparisonTable(body.measurements));
  $("#serial-statements").replaceChildren(...statementChanges(body.statements));
  section.hidden = false;  // before drawing: a hidden container measures no paper
  priorViewer ??= new EcgViewer($("#ecg-prior"), { toolbar: false });
  priorViewer.setPaper(ecgViewerOnce().paper);
  priorViewer.load(samples);
  section.dataset.prior = String(body.prior.id);
}

function signed(value, unit) {
  if (value === null || value === undefined) return "—";
  const rounded = Math.round(value);
  return `${rounded > 0 ? "+" : rounded < 0 ? "−" : "±"}${Math.abs(rounded)} ${unit}`;
}

function comparisonTable(rows) {
  const cell = (row, side) => row.withheld?.[side] ? el("td", { class: "muted", title: row.withheld[side] }, t("not applicable"))
    : el("td", {}, row[side] === null ? "—" : `${Math.round(row[side])} ${row.unit}`);
  return el("tbody", {},
    el("tr", {}, el("th", {}, ""), el("th", {}, t("This ECG")), el("th", {}, t("Previous ECG")), el("th", {}, t("Difference"))),
    rows.map((row) => el("tr", { dataset: { key: row.key } }, el("th", {}, t(row.label)), cell(row, "current"),
      cell(row, "prior"), el("td", { class: "change" }, signed(row.change, row.unit)))));
}

function statementChanges(changes) {
  const text = (s) => (typeof s === "string" ? s : `${s.zh} · ${s.en}`);
  const list = (kind, title, items) => items.length ? el("div", { class: `serial-${kind}` }, el("h4", {}, title),
    el("ul", {}, items.map((s) => el("li", { dataset: { code: s.code ?? "" } }, text(s))))) : null;
  const parts = [list("new", t("New statements"), [...changes.new, ...changes.device_new]),
    list("gone", t("Statements no longer present"), [...changes.gone, ...changes.device_gone])].filter(Boolean);
  return parts.length ? parts : [el("p", { class: "muted" }, t("No statement changed."))];
}

async function openStudy(study) {
  $("#study-tabs").dataset.showing = `${study.type}:${study.id}`;
  openedStudy = study;
  $("#ecg-panel").hidden = study.type !== "ecg";
  $("#image-panel").hidden = study.type !== "imaging";
  if (study.type !== "ecg") hideComparison();
  if (study.type === "ecg") {
    ecgViewerOnce();
    const [record, samples] = await Promise.all([api(E.ECG(study.id)), api(E.ECG_SAMPLES(study.id))]);
    const device = record.device_measurements || {};
    const computed = record.computed_measurements || {};
    ecgViewer.load(samples, { device: device.values || {}, computed: computed.values || {}, statements: device.statements || [],
      critical: record.critical_findings || [], computedStatements: computed.statements || [] });
    // the report starts prefilled from the device's values where it has them, else the computed ones,
    // and with the computed preliminary statements for the expert to accept or edit
    editor.setStudy({ kind: "ecg", ref: `ecg:${study.id}`, measurements: numbersOnly({ ...computed.values, ...device.values }),
      statements: (computed.statements || []).map((s) => `${s.zh} ${s.en}`) });
    loadComparison(study.id).catch((error) => { $("#page-status").textContent = error.message; });
  } else if (study.type === "imaging") {
    const imaging = await api(E.IMAGING_STUDY(study.id));
    imagesViewer().load(imaging);
    const ref = imaging.study_instance_uid ? `dicom:${imaging.study_instance_uid}` : null;
    keyImages.setShown(ref);
    editor.setStudy({ kind: "imaging", ref, measurements: {} });
  }
}

/** The image viewer, with the key-image marker of the report under it (made on the first imaging study). */
function imagesViewer() {
  if (!imageViewer) {
    imageViewer = new ImageViewer($("#images"));
    keyImages = new KeyImages($("#key-images"), imageViewer);
    keyImages.setReport(editor.report).catch((error) => { $("#page-status").textContent = error.message; });
  }
  return imageViewer;
}

function reportChanged() {
  if (keyImages) keyImages.setReport(editor.report).catch((error) => { $("#page-status").textContent = error.message; });
}

function numbersOnly(values) {
  return Object.fromEntries(Object.entries(values || {}).filter(([, v]) => typeof v === "number"));
}

async function main() {
  $("#report").addEventListener("report-loaded", renderHeader);
  $("#report").addEventListener("report-changed", refreshHeader);
  $("#report").addEventListener("report-loaded", reportChanged);
  $("#report").addEventListener("report-changed", reportChanged);
  $("#referral").addEventListener("referral-changed", refreshHeader);
  // the trace first: its requests go out before the report's and the referrals', which follow it
  const studies = loadStudies();
  const results = await Promise.allSettled([loadHeader(), studies.then(() => editor.load()),
    studies.catch(() => {}).then(() => referrals.load()), studies.catch(() => {}).then(() => loadPriors())]);
  for (const r of results) if (r.status === "rejected") $("#page-status").textContent = r.reason.message;
  document.body.dataset.ready = "true";
}

main();
