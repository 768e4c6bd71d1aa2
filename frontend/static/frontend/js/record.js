// The patient's record across the community (病历调阅): identity, one timeline newest first, each item in its viewer.

import { api, ApiError } from "./api.js";
import * as E from "./endpoints.js";
import { el, formatDateTime, say } from "./dom.js";
import { EcgViewer } from "./ecg-viewer.js";
import { ImageViewer } from "./image-viewer.js";
import { t } from "./strings.js";

const $ = (sel) => document.querySelector(sel);
const patientId = Number(document.body.dataset.patient);
const ohif = document.body.dataset.ohif === "true";
let cursor = null;
let ecgViewer = null;
let imageViewer = null;

function query() {
  const form = $("#record-filter");
  const kinds = [...form.querySelectorAll("input[name=kind]:checked")].map((i) => i.value);
  const q = new URLSearchParams();
  if (kinds.length < form.querySelectorAll("input[name=kind]").length) q.set("kind", kinds.join(","));
  for (const name of ["from", "to"]) if (form.elements[name].value) q.set(name, form.elements[name].value);
  return q;
}

async function load({ more = false } = {}) {
  const q = query();
  if (more && cursor) q.set("cursor", cursor);
  if (!more && q.has("kind") && !q.get("kind")) { // nothing ticked: nothing to show
    $("#timeline").replaceChildren(el("li", { class: "muted" }, t("Nothing in the record for this filter.")));
    $("#timeline-more").hidden = true;
    return;
  }
  let page;
  try {
    page = await api(`${E.RECORD_TIMELINE(patientId)}?${q}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      say($("#page-status"), t("This patient's record is not in your reach."), { error: true });
      $("#break-glass").hidden = false;
      return;
    }
    say($("#page-status"), error.message, { error: true });
    return;
  }
  $("#break-glass").hidden = true;
  say($("#page-status"), "");
  renderIdentity(page.patient);
  const items = page.results.map(renderItem);
  if (more) $("#timeline").append(...items);
  else $("#timeline").replaceChildren(...items);
  if (!more && !items.length) $("#timeline").replaceChildren(el("li", { class: "muted" }, t("Nothing in the record for this filter.")));
  cursor = page.next_cursor;
  $("#timeline-more").hidden = !cursor;
}

function renderIdentity(p) {
  $("#identity").replaceChildren(
    el("strong", { class: "name" }, p.name),
    el("span", {}, t(`sex:${p.sex}`)),
    el("span", {}, p.birth_date),
    el("span", { class: "id-number" }, `${t("Resident ID number")} ${p.id_number_masked || "—"}`),
    el("span", {}, `${t("Health record number")} ${p.health_record_no}`),
    el("span", { class: "muted" }, p.home_clinic));
  document.title = `${p.name} · ${document.title}`;
}

function badge(kind) {
  return el("span", { class: `badge kind-${kind}` }, t(`record:${kind}`));
}

function renderItem(item) {
  const when = el("time", { datetime: item.at }, item.kind === "followup" ? item.due_on : formatDateTime(item.at));
  return el("li", { dataset: { kind: item.kind, id: item.id, consultation: item.consultation ?? "" } },
    when, " ", badge(item.kind), " ", describe(item)); // el() leaves out the parts a kind does not have
}

function openButton(label, onclick) {
  return el("button", { type: "button", class: "link open", onclick }, label);
}

function describe(item) {
  const caseRef = item.consultation ? el("span", { class: "muted small" }, ` #${item.consultation}`) : null;
  switch (item.kind) {
    case "consultation":
      return [el("strong", {}, `#${item.id} ${item.specialty_name}`), " ",
        el("span", { class: `badge state-${item.state}` }, t(`state:${item.state}`)), " ",
        el("span", { class: "muted" }, [item.requesting_org, item.expert].filter(Boolean).join(" · ")),
        el("p", { class: "reason" }, item.reason),
        el("a", { href: E.READING_PAGE(item.id), class: "open" }, t("Open the case"))];
    case "ecg":
      return [el("span", {}, `${t("12-lead ECG")} · ${item.duration_s} s`), item.critical ? el("span", { class: "badge urgency-stat" }, t("Critical value")) : null,
        caseRef, " ", openButton(t("Open in the ECG viewer"), () => openEcg(item))];
    case "imaging":
      return [el("span", {}, [item.modalities.join("/"), item.description].filter(Boolean).join(" · ") || t("kind:imaging")), caseRef, " ",
        openButton(t("Open in the image viewer"), () => openImaging(item)),
        ohif ? el("a", { class: "button small", target: `ohif-${item.id}`,
          href: `/ohif/viewer?${new URLSearchParams({ StudyInstanceUIDs: item.study_instance_uid })}` }, t("Open in OHIF Viewer")) : null];
    case "photo":
      return [el("span", {}, t("Photo")), caseRef, " ", openButton(t("Show the photo"), () => openPhoto(item))];
    case "report":
      return [el("strong", {}, `${t(`kind:${item.report_kind}`)} · ${t("version")} ${item.number}`),
        item.number > 1 ? el("span", { class: "muted" }, ` (${t("amended")}: ${item.amendment_reason})`) : null,
        item.critical ? el("span", { class: "badge urgency-stat" }, t("Critical value")) : null,
        el("span", { class: "muted" }, ` ${item.signed_by || ""}`), caseRef,
        item.conclusion ? el("p", { class: "reason" }, item.conclusion) : null,
        el("a", { href: E.REPORT_PDF(item.report, item.number), target: "_blank", rel: "noopener", class: "open" }, t("Report PDF"))];
    case "referral":
      return [el("strong", {}, t(`direction:${item.direction}`)), " ",
        el("span", { class: "badge" }, t(`referral:${item.state}`)), " ",
        el("span", {}, `${item.from_org} → ${item.to_org}`), caseRef, item.reason ? el("p", { class: "reason" }, item.reason) : null];
    case "followup":
      return [el("span", {}, item.title), " ", el("span", { class: "badge" }, t(`followup:${item.state}`))];
    default:
      return [];
  }
}

function showPanel(name, title) {
  $("#viewer-empty").hidden = true;
  for (const panel of ["ecg", "image", "photo"]) $(`#${panel}-panel`).hidden = panel !== name;
  $("#viewer-title").textContent = title;
  $("#viewer").dataset.open = name;
}

async function openEcg(item) {
  showPanel("ecg", `${t("12-lead ECG")} ${item.at ? formatDateTime(item.at) : ""}`);
  try {
    ecgViewer ??= new EcgViewer($("#ecg"));
    const [record, samples] = await Promise.all([api(E.ECG(item.id)), api(E.ECG_SAMPLES(item.id))]);
    const device = record.device_measurements || {};
    const computed = record.computed_measurements || {};
    ecgViewer.load(samples, { device: device.values || {}, computed: computed.values || {}, statements: device.statements || [],
      critical: record.critical_findings || [], computedStatements: computed.statements || [] });
    $("#viewer").dataset.item = `ecg:${item.id}`;
  } catch (error) {
    say($("#page-status"), error.message, { error: true });
  }
}

async function openImaging(item) {
  showPanel("image", `${t("kind:imaging")} ${item.at ? formatDateTime(item.at) : ""}`);
  try {
    imageViewer ??= new ImageViewer($("#images"));
    imageViewer.load(await api(E.IMAGING_STUDY(item.id)));
    $("#viewer").dataset.item = `imaging:${item.id}`;
  } catch (error) {
    say($("#page-status"), error.message, { error: true });
  }
}

function openPhoto(item) {
  showPanel("photo", `${t("Photo")} ${formatDateTime(item.at)}`);
  $("#photo-panel").replaceChildren(el("img", { src: `/api/photos/${item.id}/`, alt: t("Photo"), class: "record-photo" }));
  $("#viewer").dataset.item = `photo:${item.id}`;
}

async function breakGlass(event) {
  event.preventDefault();
  const reason = new FormData(event.currentTarget).get("reason").trim();
  try {
    const grant = await api(E.RECORD_BREAK_GLASS(patientId), { method: "POST", body: { reason } });
    await load(); // hides the break-glass form and its status: the reader is told above the record instead
    say($("#page-status"), `${t("Opened for an emergency: the coordinators are told.")} ${t("until {time}", {
      time: formatDateTime(grant.expires_at) })}`);
  } catch (error) {
    say($("#break-glass-status"), error.message, { error: true });
  }
}

async function main() {
  $("#record-filter").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("#timeline-more").addEventListener("click", () => load({ more: true }));
  $("#break-glass-form").addEventListener("submit", breakGlass);
  const open = new URLSearchParams(location.search).get("open"); // e.g. ?open=ecg:12 (the reading page's priors)
  await load();
  if (open) {
    const [kind, id] = open.split(":");
    const item = { kind, id: Number(id), at: $(`#timeline li[data-kind="${kind}"][data-id="${id}"] time`)?.getAttribute("datetime") };
    if (kind === "ecg") await openEcg(item);
    else if (kind === "imaging") await openImaging(item);
  }
  document.body.dataset.ready = "true";
}

main();
