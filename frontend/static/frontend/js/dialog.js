// A modal question in a native <dialog>: keyboard accessible (focus moves in and stays there, Esc cancels,
// focus returns to where it was), no window.confirm (the pages' CSP allows it, but it is not styleable,
// says nothing of what is confirmed and blocks the page's live updates).
//
// const ok = await askDialog({ id: "sign-dialog", title, content: [nodes], confirm: "签发", check: () => "" });
// resolves true once confirmed (check() returned no message), false when cancelled.

import { el, say } from "./dom.js";
import { t } from "./strings.js";

export function askDialog({ id, title, content = [], confirm, cancel = t("Cancel"), check = () => "", focus = "cancel" }) {
  document.getElementById(id)?.remove();
  const status = el("p", { class: "status", role: "status" });
  const cancelButton = el("button", { type: "button", dataset: { cancel: "" } }, cancel);
  const confirmButton = el("button", { type: "submit", class: "primary", dataset: { confirm: "" } }, confirm);
  const heading = el("h2", { id: `${id}-title` }, title);
  const form = el("form", { method: "dialog" }, heading, ...content, status,
    el("div", { class: "dialog-actions" }, cancelButton, confirmButton));
  const dialog = el("dialog", { id, class: "tc-dialog", "aria-labelledby": `${id}-title` }, form);
  document.body.append(dialog);
  const opener = document.activeElement;
  return new Promise((resolve) => {
    let answered = false;
    const close = (ok) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(ok);
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const problem = check();
      if (problem) { say(status, problem, { error: true }); return; }
      close(true);
    });
    cancelButton.addEventListener("click", () => close(false));
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); close(false); }); // Esc
    dialog.showModal();
    (focus === "confirm" ? confirmButton : cancelButton).focus();
  });
}
