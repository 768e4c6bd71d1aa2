// The coordinator's charts, drawn by Apache ECharts (static/frontend/vendor/echarts.min.js, loaded by the
// page before this module: window.echarts). Each chart exports itself as a PNG (ECharts' saveAsImage
// in its toolbox) and its data as CSV (a button under it).

import { el } from "./dom.js";
import { t } from "./strings.js";

export const COLOURS = ["#1f5fa8", "#e08a2c", "#2e8b57", "#c0392b", "#7d5ba6"];
const charts = new Map(); // container -> echarts instance

function language() { return document.documentElement.lang.startsWith("en") ? "EN" : "ZH"; }

/** One CSV line per row (RFC 4180 quoting), a header first; UTF-8 with a BOM so spreadsheet programs read Chinese. */
export function toCsv(header, rows) {
  const cell = (v) => {
    const text = v === null || v === undefined ? "" : String(v);
    return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return `\ufeff${[header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n")}\r\n`;
}

function csvButton(name, header, rows) {
  return el("button", { type: "button", class: "small csv", dataset: { csv: name }, onclick: () => {
    const url = URL.createObjectURL(new Blob([toCsv(header, rows)], { type: "text/csv;charset=utf-8" }));
    const link = el("a", { href: url, download: `${name}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } }, t("Download CSV"));
}

/**
 * Horizontal grouped (or stacked) bars. rows: [{label, values: [n|null, ...]}]; series: [name, ...].
 * `name` names the exported files. Returns the ECharts instance (null when there is nothing to draw).
 */
export function barChart(container, { rows, series, unit = "", title = "", empty = "—", name = "chart", stack = false }) {
  charts.get(container)?.dispose();
  charts.delete(container);
  if (!rows.length) {
    container.replaceChildren(el("p", { class: "muted" }, empty));
    return null;
  }
  const canvasBox = el("div", { class: "chart-canvas" });
  const height = Math.max(180, 70 + rows.length * (stack ? 28 : 12 + series.length * 14));
  canvasBox.style.height = `${height}px`;
  const header = [t("Category"), ...series.map((s) => (unit ? `${s} (${unit.trim()})` : s))];
  container.replaceChildren(canvasBox, el("div", { class: "chart-actions" }, csvButton(name, header, rows.map((r) => [r.label, ...r.values]))));
  const chart = window.echarts.init(canvasBox, null, { renderer: "canvas", locale: language() });
  const labels = rows.map((r) => r.label).reverse(); // first row on top
  chart.setOption({
    animation: false,
    color: COLOURS,
    aria: { enabled: true, label: { description: title } },
    // richText: the tooltip drawn on the canvas (the HTML one writes style attributes the CSP refuses)
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, renderMode: "richText", confine: true },
    legend: { top: 0, left: 0, right: 40, type: "scroll" },
    toolbox: { right: 4, top: 0, itemSize: 16, feature: { saveAsImage: { name, title: t("Save as image"), pixelRatio: 2 } } },
    grid: { left: 8, right: 48, top: 34, bottom: 8, containLabel: true },
    xAxis: { type: "value", axisLabel: { formatter: (v) => `${v}${unit}` } },
    yAxis: { type: "category", data: labels, axisLabel: { width: 110, overflow: "truncate" } },
    series: series.map((seriesName, i) => ({
      name: seriesName, type: "bar", stack: stack ? "all" : undefined, barMaxWidth: 18,
      label: { show: !stack, position: "right", formatter: ({ value }) => (value === null || value === undefined ? "—" : `${Math.round(value * 10) / 10}${unit}`) },
      data: rows.map((r) => r.values[i] ?? null).reverse(),
    })),
  });
  charts.set(container, chart);
  container.dataset.rendered = "true";
  return chart;
}

// one listener resizes every chart (a tablet turned, a window narrowed)
window.addEventListener("resize", () => { for (const chart of charts.values()) chart.resize(); });
