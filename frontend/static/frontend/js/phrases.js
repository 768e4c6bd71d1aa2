// The expert's phrase library (常用语) in the report editor: under each text field its phrases as buttons
// (a click inserts at the caret), "/code" then Enter or Tab expands in the field, and a dialog where the
// expert adds, changes and deletes their own phrases (their specialties' shared ones are kept in the admin).
//
// Shapes: GET PHRASES?kind= -> [{id, kind, field, code, label, text, specialty, mine}]; POST PHRASES
// {kind, field, code, label, text}; PATCH/DELETE PHRASE(id) (own phrases only).

import { api } from "./api.js";
import * as E from "./endpoints.js";
import { el, say } from "./dom.js";
import { t } from "./strings.js";

const SHORT_CODE = /(^|[\s，。；：,.;:])\/([a-z0-9][a-z0-9_-]{0,19})$/;

export class PhraseLibrary {
  constructor() {
    this.kind = null;
    this.phrases = [];
  }

  async load(kind) {
    this.kind = kind;
    try {
      this.phrases = await api(`${E.PHRASES}?${new URLSearchParams({ kind })}`);
    } catch {
      this.phrases = []; // the editor works without its phrases
    }
    return this.phrases;
  }

  forField(field) {
    return this.phrases.filter((p) => p.field === field).sort((a, b) => Number(b.mine) - Number(a.mine));
  }

  /** The phrase `code` of a field: the expert's own before the specialty's. */
  find(field, code) {
    return this.forField(field).find((p) => p.code === code) || null;
  }

  /** Phrase buttons under a text field, and "/code" + Enter or Tab expanding in it. */
  attach(input, field) {
    input.addEventListener("keydown", (event) => {
      if ((event.key !== "Enter" && event.key !== "Tab") || event.shiftKey || event.ctrlKey || event.altKey || event.metaKey
          || event.isComposing || input.selectionStart !== input.selectionEnd) return;
      const before = input.value.slice(0, input.selectionStart);
      const match = before.match(SHORT_CODE);
      const phrase = match && this.find(field, match[2]);
      if (!phrase) return;
      event.preventDefault();
      insert(input, phrase.text, before.length - match[2].length - 1);
    });
    const phrases = this.forField(field);
    if (!phrases.length) return null;
    return el("div", { class: "phrase-bar", role: "group", "aria-label": t("Phrases"), dataset: { field } },
      phrases.map((p) => el("button", {
        type: "button", class: `phrase${p.mine ? " mine" : ""}`, title: p.text, dataset: { code: p.code, id: p.id },
        onmousedown: (event) => event.preventDefault(), // keep the caret in the field
        onclick: () => insert(input, p.text) }, p.label, el("kbd", {}, `/${p.code}`))));
  }

  /** The expert's own phrases of this kind, to add, change and delete; `changed()` after each change. */
  manage(fields, changed) {
    document.getElementById("phrase-dialog")?.remove();
    const status = el("p", { class: "status", role: "status" });
    const list = el("ul", { class: "phrase-list" });
    const form = phraseForm(fields);
    let editing = null;
    const fieldName = (name) => fields.find((f) => f.name === name)?.label || name;
    const renderList = () => {
      const mine = this.phrases.filter((p) => p.mine);
      list.replaceChildren(...mine.map((p) => el("li", { dataset: { id: p.id, code: p.code } },
        el("div", {}, el("strong", {}, `/${p.code} ${p.label}`), " ", el("span", { class: "muted" }, fieldName(p.field)), el("p", {}, p.text)),
        el("button", { type: "button", class: "small", dataset: { edit: p.id }, onclick: () => { editing = p; form.fill(p); } }, t("Change")),
        el("button", { type: "button", class: "small danger", dataset: { delete: p.id }, onclick: () => remove(p) }, t("Delete")))));
      if (!mine.length) list.replaceChildren(el("li", { class: "muted" }, t("No phrases of your own yet.")));
    };
    const reload = async () => { await this.load(this.kind); renderList(); changed(); };
    const remove = async (p) => {
      try {
        await api(E.PHRASE(p.id), { method: "DELETE" });
        say(status, t("Phrase /{code} deleted.", { code: p.code }));
        if (editing?.id === p.id) { editing = null; form.fill(null); }
        await reload();
      } catch (error) {
        say(status, error.message, { error: true });
      }
    };
    form.node.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = form.value();
      if (!body.code || !body.label || !body.text) { say(status, t("Give the phrase a code, a name and its text."), { error: true }); return; }
      if (!/^[a-z0-9][a-z0-9_-]*$/.test(body.code)) { say(status, t("The code: lower-case letters, digits, - and _."), { error: true }); return; }
      try {
        if (editing) await api(E.PHRASE(editing.id), { method: "PATCH", body });
        else await api(E.PHRASES, { method: "POST", body: { ...body, kind: this.kind } });
        say(status, t("Phrase /{code} saved.", { code: body.code }));
        editing = null;
        form.fill(null);
        await reload();
      } catch (error) {
        say(status, error.body?.code === "code_taken" ? t("You already have a phrase /{code} for this field.", { code: body.code }) : error.message,
          { error: true });
      }
    });
    form.node.addEventListener("reset", () => { editing = null; });
    const closeButton = el("button", { type: "button", dataset: { close: "" } }, t("Close"));
    const dialog = el("dialog", { id: "phrase-dialog", class: "tc-dialog", "aria-labelledby": "phrase-dialog-title" },
      el("h2", { id: "phrase-dialog-title" }, t("My phrases")), list, form.node, status,
      el("div", { class: "dialog-actions" }, closeButton));
    const opener = document.activeElement;
    const close = () => { dialog.close(); dialog.remove(); if (opener?.isConnected) opener.focus(); };
    closeButton.addEventListener("click", close);
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); close(); });
    document.body.append(dialog);
    renderList();
    dialog.showModal();
    form.node.querySelector("[name=code]").focus();
    return dialog;
  }
}

function insert(input, text, from = input.selectionStart) {
  input.focus();
  input.setRangeText(text, from, input.selectionEnd, "end");
  input.dispatchEvent(new Event("input", { bubbles: true })); // the editor's autosave
}

function phraseForm(fields) {
  const field = el("select", { name: "field" }, fields.map((f) => el("option", { value: f.name }, f.label)));
  const code = el("input", { name: "code", maxlength: 20, autocomplete: "off", placeholder: "sr" });
  const label = el("input", { name: "label", maxlength: 60, autocomplete: "off" });
  const text = el("textarea", { name: "text", rows: 3, maxlength: 2000 });
  const node = el("form", { class: "phrase-form", id: "phrase-form" },
    el("label", {}, t("Field"), field), el("label", {}, t("Short code"), code), el("label", {}, t("Name"), label),
    el("label", { class: "wide" }, t("Text"), text),
    el("div", { class: "actions dialog-actions" }, el("button", { type: "reset" }, t("New")),
      el("button", { type: "submit", class: "primary small" }, t("Save"))));
  return {
    node,
    value: () => ({ field: field.value, code: code.value.trim().toLowerCase(), label: label.value.trim(), text: text.value.trim() }),
    fill: (p) => {
      if (!p) { node.reset(); return; }
      field.value = p.field; code.value = p.code; label.value = p.label; text.value = p.text;
      code.focus();
    },
  };
}
