// Small DOM helpers shared by the pages: element building, dates, status lines.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    // through the CSSOM: the Content-Security-Policy (style-src 'self') blocks a style attribute
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Dates and times are shown in the service's time zone (time.js); these two are used everywhere.
export { formatDateTime, isToday } from "./time.js";

/** Show a message in a status line (role=status), as an error when asked. */
export function say(node, text, { error = false } = {}) {
  node.textContent = text;
  node.classList.toggle("error", error);
}

export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => { timer = null; fn(...args); }, ms);
  };
  wrapped.flush = (...args) => { if (timer !== null) { clearTimeout(timer); timer = null; fn(...args); } };
  return wrapped;
}

/**
 * Tables of class "cards" become one card per row on a narrow screen (site.css): each cell is given its
 * column's heading (data-label) whenever the rows change, for the card to show it before the value.
 */
export function cardTables(root = document) {
  for (const table of root.querySelectorAll("table.cards")) {
    const headings = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    const label = () => {
      for (const row of table.tBodies[0]?.rows || []) {
        [...row.cells].forEach((cell, i) => { if (cell.colSpan === 1 && headings[i]) cell.dataset.label = headings[i]; });
      }
    };
    label();
    if (table.tBodies[0]) new MutationObserver(label).observe(table.tBodies[0], { childList: true });
  }
}
