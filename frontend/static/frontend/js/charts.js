// Small SVG charts drawn here (no chart library): grouped horizontal bars with values.

const NS = "http://www.w3.org/2000/svg";
export const COLOURS = ["#1f5fa8", "#e08a2c", "#2e8b57", "#c0392b", "#7d5ba6"];

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** rows: [{label, values: [n, ...]}]; series: [name, ...]; a legend, one bar per series per row. */
export function barChart(container, { rows, series, unit = "", title = "", empty = "—" }) {
  if (!rows.length) {
    container.replaceChildren(Object.assign(document.createElement("p"), { className: "muted", textContent: empty }));
    return null;
  }
  const barH = 14, gap = 4, labelW = 110, width = 560, chartW = width - labelW - 70;
  const legendW = 170, perLine = Math.floor((width - 10) / legendW), legendH = Math.ceil(series.length / perLine) * 16;
  const rowH = series.length * (barH + 2) + gap * 2;
  const top = legendH + 10;
  const height = top + rows.length * rowH + 8;
  const max = Math.max(1, ...rows.flatMap((r) => r.values.map((v) => Number(v) || 0)));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": title, class: "chart" });
  series.forEach((name, i) => {
    const x = 10 + (i % perLine) * legendW, y = 4 + Math.floor(i / perLine) * 16;
    root.append(svg("rect", { x, y, width: 10, height: 10, fill: COLOURS[i % COLOURS.length] }));
    root.append(svg("text", { x: x + 14, y: y + 9, "font-size": 11 }, name));
  });
  rows.forEach((row, r) => {
    const y0 = top + r * rowH;
    root.append(svg("text", { x: labelW - 6, y: y0 + rowH / 2 + 4, "text-anchor": "end", "font-size": 12 }, row.label));
    row.values.forEach((value, i) => {
      const v = Number(value) || 0;
      const y = y0 + gap + i * (barH + 2);
      const w = (v / max) * chartW;
      root.append(svg("rect", { x: labelW, y, width: Math.max(w, 1), height: barH, fill: COLOURS[i % COLOURS.length], class: "bar" }));
      root.append(svg("text", { x: labelW + w + 4, y: y + barH - 3, "font-size": 11 }, value === null || value === undefined ? "—" : `${Math.round(v * 10) / 10}${unit}`));
    });
  });
  root.append(svg("line", { x1: labelW, x2: labelW, y1: top - 4, y2: height - 4, stroke: "#999" }));
  container.replaceChildren(root);
  return root;
}
