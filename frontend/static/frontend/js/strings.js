// Translated UI strings for the scripts: rendered by the page (Django i18n) into #tc-strings.

let table = null;

export function t(key, vars = {}) {
  if (table === null) {
    const node = document.getElementById("tc-strings");
    table = node ? JSON.parse(node.textContent) : {};
  }
  let text = table[key] ?? key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}
