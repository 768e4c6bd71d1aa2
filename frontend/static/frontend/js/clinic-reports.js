// The clinic's reports on the console: every report it ever received, searched by patient, consultation and
// day and paged; unacknowledged ones first and marked; each one's PDF opened or printed again at any time.

import { api } from "./api.js";
import * as E from "./endpoints.js";
import { el, formatDateTime, say } from "./dom.js";
import { t } from "./strings.js";

const $ = (sel) => document.querySelector(sel);
const PAGE = 20;
const OPENED_KEY = "tc.opened-reports";
const view = { offset: 0, filters: {} };

function openedReports() {
  try { return new Set(JSON.parse(localStorage.getItem(OPENED_KEY) || "[]")); } catch { return new Set(); }
}

function markOpened(key) {
  const opened = openedReports();
  opened.add(key);
  localStorage.setItem(OPENED_KEY, JSON.stringify([...opened].slice(-500)));
}

function query(extra = {}) {
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(view.offset) });
  for (const [key, value] of Object.entries({ ...view.filters, ...extra })) if (String(value).trim()) params.set(key, String(value).trim());
  return `${E.REPORTS_RECEIVED}?${params}`;
}

/** Load the page of reports the search asks for, and the count of unacknowledged ones. */
export async function loadReports() {
  const list = $("#reports");
  try {
    const [page, waiting] = await Promise.all([api(query()),
      api(`${E.REPORTS_RECEIVED}?${new URLSearchParams({ state: "unacknowledged", limit: "1" })}`)]);
    list.replaceChildren(...page.results.map(reportRow));
    if (!page.results.length) {
      const searching = Object.values(view.filters).some((v) => String(v).trim());
      list.replaceChildren(el("li", { class: "muted" }, searching ? t("No report matches the search.") : t("No reports yet.")));
    }
    $("#reports-unread").textContent = waiting.count ? t("{n} unacknowledged", { n: waiting.count }) : "";
    pager(page.count);
  } catch (error) {
    list.replaceChildren(el("li", { class: "error" }, `${t("Reports are not available")}: ${error.message}`));
  }
}

function pager(count) {
  const last = Math.min(view.offset + PAGE, count);
  $("#reports-pager").replaceChildren(
    el("button", { type: "button", class: "small", dataset: { page: "previous" }, disabled: view.offset === 0,
      onclick: () => { view.offset = Math.max(0, view.offset - PAGE); loadReports(); } }, t("Previous")),
    el("span", { class: "muted" }, count ? t("{first}–{last} of {count}", { first: view.offset + 1, last, count }) : ""),
    el("button", { type: "button", class: "small", dataset: { page: "next" }, disabled: last >= count,
      onclick: () => { view.offset += PAGE; loadReports(); } }, t("Next")));
}

function reportRow(d) {
  const acknowledged = Boolean(d.acknowledged_at);
  const key = `${d.report}-${d.version}`;
  const opened = openedReports().has(key);
  const status = acknowledged ? t("Acknowledged {when}", { when: formatDateTime(d.acknowledged_at) })
    : opened ? t("Read, not acknowledged") : t("Unread");
  const look = acknowledged ? "acknowledged" : opened ? "read" : "unread";
  return el("li", { class: `report ${look}${d.critical ? " critical" : ""}`, dataset: { delivery: d.delivery, report: d.report, version: d.version } },
    el("div", {}, el("strong", {}, `${d.patient_name} · ${t("{kind} report", { kind: t(`kind:${d.kind}`) })}`),
      acknowledged ? null : el("span", { class: "badge urgency-stat-soft" }, t("Not acknowledged")),
      d.amended ? el("span", { class: "badge" }, t("amended")) : null,
      d.current === false ? el("span", { class: "badge" }, t("superseded by an amendment")) : null,
      d.critical ? el("span", { class: "badge urgency-stat" }, t("Critical value")) : null),
    el("div", { class: "muted" }, `${d.health_record_no} · ${t("Consultation")} #${d.consultation} · ${t("signed")} ${formatDateTime(d.signed_at)} · `,
      el("span", { class: "ack-state" }, status)),
    el("p", { class: "conclusion" }, el("span", { class: "muted" }, `${t("Conclusion")}: `),
      d.conclusion ? d.conclusion : el("span", { class: "muted" }, "—")),
    d.amendment_reason ? el("div", { class: "muted" }, `${t("Reason for the amendment")}: ${d.amendment_reason}`) : null,
    el("div", { class: "actions" },
      acknowledged ? null : el("button", { type: "button", class: "primary small", onclick: () => acknowledge(d) }, t("Acknowledge")),
      d.pdf ? el("a", { href: d.pdf, target: "_blank", rel: "noopener", onclick: () => { markOpened(key); setTimeout(loadReports, 100); } }, t("Open PDF"))
        : el("span", { class: "muted" }, t("PDF being prepared")),
      d.pdf ? el("button", { type: "button", onclick: () => { markOpened(key); printPdf(d.pdf); loadReports(); } }, t("Print")) : null));
}

async function acknowledge(d) {
  try {
    await api(E.DELIVERY_ACK(d.delivery), { method: "POST", body: {} });
  } catch (error) {
    say($("#reports-status"), error.message, { error: true });
  }
  await loadReports();
}

function printPdf(url) {
  const frame = el("iframe", { class: "print-frame", src: url, title: "PDF" });
  frame.addEventListener("load", () => { try { frame.contentWindow.print(); } catch { window.open(url); } });
  document.body.append(frame);
  setTimeout(() => frame.remove(), 60000);
}

/** Wire the search form; the first page is loaded by the caller (loadReports). */
export function bindReportSearch() {
  const form = $("#reports-search");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    view.filters = Object.fromEntries(new FormData(form));
    view.offset = 0;
    loadReports();
  });
  form.addEventListener("reset", () => { view.filters = {}; view.offset = 0; setTimeout(loadReports); });
}
