// Resumable uploads (tus 1.0.0) with a progress bar that resumes by itself after a dropped link:
// tus-js-client retries with growing delays, and when those run out the upload starts again as
// soon as the browser is back online (or every RETRY_FOREVER_MS), from the offset the server has.
//
// The outcome of an upload is what the server says about it (ingested, or failed with a reason), from
// the notification socket or from reading the upload back: ingest may run in the same request as the
// last PATCH (the embedded default), so its event can arrive before tus reports success. A terminal
// state once shown is never replaced by an earlier one.

import { api, csrfToken } from "./api.js";
import { UPLOADS } from "./endpoints.js";
import { el } from "./dom.js";
import { t } from "./strings.js";

export const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10000, 20000, 30000];
const RETRY_FOREVER_MS = 30000;
const CHUNK_BYTES = 1024 * 1024; // small PATCHes: less to resend on a weak 4G link
const TERMINAL = new Set(["ingested", "failed", "expired", "terminated"]);
const STATUS_DELAYS_MS = [0, 1000, 2000, 4000, 8000, 15000]; // reading the outcome back; the last repeats
const STATUS_GIVE_UP_MS = 15 * 60 * 1000;

/** The reason of a failed upload in the user's language (by its code), else the server's own text. */
export function uploadErrorText(error) {
  if (!error) return "";
  const key = `upload-error:${error.code}`;
  const text = t(key);
  return text === key ? (error.detail || error.code || "") : text;
}

/** Show what the server says of an upload ({state, error}) in its row; a terminal state stays. */
export function showUploadResult(row, upload) {
  if (!row || !upload || !upload.state) return;
  const terminal = TERMINAL.has(upload.state);
  if (TERMINAL.has(row.dataset.state) && !terminal) return; // an older, late state never hides the outcome
  if (!terminal && row.dataset.state !== "done") return; // still sending: the progress bar speaks
  row.dataset.state = upload.state === "received" || upload.state === "receiving" ? "done" : upload.state;
  const reason = uploadErrorText(upload.error);
  row.querySelector(".upload-state").textContent = reason ? `${t(`upload:${upload.state}`)}: ${reason}` : t(`upload:${upload.state}`);
}

export function startUpload(file, { metadata = {}, list, onDone = () => {} }) {
  const bar = el("progress", { max: 100, value: 0 });
  const state = el("span", { class: "upload-state" }, t("Waiting…"));
  const row = el("li", { class: "upload", dataset: { state: "starting" } }, el("span", { class: "upload-name" }, file.name), bar, state);
  list.prepend(row);
  const show = (key, text, percent) => {
    if (TERMINAL.has(row.dataset.state)) return; // the server's outcome arrived first: it stays
    row.dataset.state = key;
    // the upload's id (the last part of its tus URL) lets socket progress events find this row
    if (upload?.url) row.dataset.uploadId = upload.url.split("/").filter(Boolean).pop();
    state.textContent = text;
    if (percent !== undefined) bar.value = percent;
  };
  let retryTimer = null;
  let upload = null;
  upload = new window.tus.Upload(file, {
    endpoint: UPLOADS,
    retryDelays: RETRY_DELAYS_MS,
    chunkSize: CHUNK_BYTES,
    metadata: { filename: file.name, filetype: file.type || "application/octet-stream", ...metadata },
    headers: { "X-CSRFToken": csrfToken() },
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    onShouldRetry: (error) => {
      const status = error.originalResponse ? error.originalResponse.getStatus() : 0;
      show("retrying", t("Link dropped, resuming…"));
      return status === 0 || status === 409 || status === 423 || status === 429 || status >= 500;
    },
    onProgress: (sent, total) => {
      const percent = total ? Math.floor((sent / total) * 100) : 0;
      show("uploading", `${percent}%`, percent);
    },
    onSuccess: () => {
      show("done", t("upload:received"), 100);
      readOutcome();
      onDone(upload);
    },
    onError: (error) => {
      const status = error.originalResponse ? error.originalResponse.getStatus() : 0;
      if (status >= 400 && status < 500 && status !== 409 && status !== 423 && status !== 429) {
        let reason = "";
        try { reason = JSON.parse(error.originalResponse.getBody()).detail; } catch { reason = ""; }
        show("failed", `${t("Upload refused")}: ${reason || status}`);
        return;
      }
      show("waiting", t("Offline: will resume when the link is back"));
      clearTimeout(retryTimer);
      retryTimer = setTimeout(resume, RETRY_FOREVER_MS);
    },
  });
  // Read the upload back until the server has its outcome (the socket usually tells first).
  const started = Date.now();
  const readOutcome = async (attempt = 0) => {
    if (TERMINAL.has(row.dataset.state) || Date.now() - started > STATUS_GIVE_UP_MS) return;
    try {
      showUploadResult(row, await api(upload.url));
    } catch { /* offline or busy: try again below */ }
    if (TERMINAL.has(row.dataset.state)) return;
    setTimeout(() => readOutcome(attempt + 1), STATUS_DELAYS_MS[Math.min(attempt + 1, STATUS_DELAYS_MS.length - 1)]);
  };
  const resume = () => {
    clearTimeout(retryTimer);
    if (row.dataset.state === "waiting") { show("retrying", t("Link dropped, resuming…")); upload.start(); }
  };
  window.addEventListener("online", resume);
  upload.findPreviousUploads().then((previous) => {
    if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
    upload.start();
  });
  return upload;
}
