// The room socket (protocol: docs/signalling.md). Plain ES module.
//
// RoomClient: one WebSocket, reopened by itself after a drop; it resumes from the last
// event seq it saw, so no room event is missed or shown twice. The media peer connections
// that ride on it are media.js's.
import { backoffDelay } from "../frontend/js/backoff.js";
import { t } from "../frontend/js/strings.js";

const FINAL_CLOSE_CODES = new Set([4401, 4403, 4404, 4410, 4429, 1000]);

export class RoomClient extends EventTarget {
  // socketUrl: async () => ws(s) URL (the patient fetches a fresh single-use ticket each time)
  constructor({ socketUrl }) {
    super();
    this.socketUrl = socketUrl;
    this.lastSeq = null;      // last event seq received; null until the first welcome
    this.ecgSeq = null;       // last chunk seq received of the live ECG (resumed from there)
    this.ws = null;
    this.retry = 0;
    this.stopped = false;
    this.pending = [];
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  async connect() {
    if (this.stopped) return;
    let url;
    try {
      url = await this.socketUrl();
    } catch (error) {
      if (error.final) { this.stop(); this.emit("refused", { code: error.code, detail: error.message }); return; }
      this.scheduleReconnect();
      return;
    }
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      const join = { type: "join" };
      if (this.lastSeq !== null) join.last_seq = this.lastSeq;
      if (this.lastSeq !== null && this.ecgSeq !== null) join.ecg_seq = this.ecgSeq;
      ws.send(JSON.stringify(join));
      this.emit("open", {});
    };
    ws.onmessage = (message) => this.onFrame(JSON.parse(message.data));
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const dropped = ws.dropped;  // our own simulated drop: the server's echo may say 1000
      if (this.stopped || (!dropped && FINAL_CLOSE_CODES.has(event.code))) {
        this.stopped = true;
        this.emit("closed", { code: event.code, reason: this.lastError });
      } else {
        this.emit("reconnecting", { code: event.code });
        this.scheduleReconnect();
      }
    };
  }

  scheduleReconnect() {
    // the shared backoff; shorter than the notification socket's: a call is waiting on this one
    const delay = backoffDelay(this.retry++, { baseMs: 500, maxMs: 10000 });
    setTimeout(() => this.connect(), delay);
  }

  onFrame(frame) {
    if (frame.type === "event") {
      if (this.lastSeq !== null && frame.seq <= this.lastSeq) return;  // seen already
      this.lastSeq = frame.seq;
      if (frame.kind === "ecg.started") this.ecgSeq = null;
      this.emit("event", frame);
      return;
    }
    if (frame.type === "ecg_chunk") this.ecgSeq = frame.seq;
    if (frame.type === "welcome") {
      // The events that follow start after `after`: 0 when the host has just let this client in
      // (a waiting participant is sent nothing of the room before), the client's own last_seq on a resume.
      this.lastSeq = frame.after ?? this.lastSeq ?? 0;
      this.emit("welcome", frame);
      return;
    }
    if (frame.type === "error") this.lastError = frame;
    this.emit(frame.type, frame);
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  // Simulate a dropped link (tests, and the "reconnect" button): the socket closes, the client reopens it.
  drop() {
    if (!this.ws) return;
    this.ws.dropped = true;
    this.ws.close(4000);
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000);
  }
}

// Module scripts run once the page is parsed: the strings table (#tc-strings) is there.
export const REFUSAL_TEXT = {
  token_forged: t("This link is not valid. Ask your doctor for a new one."),
  token_expired: t("This link has expired. Ask your doctor for a new one."),
  token_reused: t("This link was already used on another phone. Ask your doctor for a new one."),
  token_other_room: t("This link is for another consultation room."),
  token_revoked: t("The doctor withdrew this link."),
  removed: t("The doctor removed you from this consultation."),
  room_closed: t("This consultation has ended."),
  ticket_unknown: t("The connection pass is not valid; open the link again."),
  ticket_expired: t("The connection pass has expired; open the link again."),
  ticket_reused: t("The connection pass was used already; open the link again."),
  unauthenticated: t("Log in first, or open the link your doctor sent you."),
  not_found: t("No such consultation room."),
  rate_limited: t("Messages were sent too fast; the connection was closed."),
};
