// Resumable uploads (tus 1.0.0) with a progress bar that resumes by itself after a dropped link:
// tus-js-client retries with growing delays, and when those run out the upload starts again as
// soon as the browser is back online (or every RETRY_FOREVER_MS), from the offset the server has.

import { csrfToken } from "./api.js";
import { UPLOADS } from "./endpoints.js";
import { el } from "./dom.js";
import { t } from "./strings.js";

export const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10000, 20000, 30000];
const RETRY_FOREVER_MS = 30000;
const CHUNK_BYTES = 1024 * 1024; // small PATCHes: less to resend on a weak 4G link

export function startUpload(file, { metadata = {}, list, onDone = () => {} }) {
  const bar = el("progress", { max: 100, value: 0 });
  const state = el("span", { class: "upload-state" }, t("Waiting…"));
  const row = el("li", { class: "upload", dataset: { state: "starting" } }, el("span", { class: "upload-name" }, file.name), bar, state);
  list.prepend(row);
  const show = (key, text, percent) => {
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
      show("done", t("Uploaded, being processed"), 100);
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
