// The per-user notification socket, reconnecting by itself with exponential backoff and jitter.

import { backoffDelay } from "./backoff.js";
import { NOTIFICATIONS_SOCKET } from "./endpoints.js";

const PING_EVERY_MS = 25000; // under common proxy idle timeouts (60 s)

/** The ws(s):// URL of a socket path on this host. */
export function socketUrl(path) {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

export class NotificationSocket {
  /** onEvent(event) for every JSON event; onState("open"|"closed"|"waiting", delayMs) for the indicator. */
  constructor({ onEvent, onState = () => {}, path = NOTIFICATIONS_SOCKET } = {}) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.path = path;
    this.attempt = 0;
    this.stopped = false;
    this.ws = null;
    this.pinger = null;
  }

  start() {
    this.stopped = false;
    this.connect();
    window.addEventListener("online", () => { if (!this.isOpen()) this.reconnectNow(); });
    return this;
  }

  stop() {
    this.stopped = true;
    clearInterval(this.pinger);
    clearTimeout(this.retry);
    if (this.ws) this.ws.close();
  }

  isOpen() { return this.ws !== null && this.ws.readyState === WebSocket.OPEN; }

  connect() {
    const ws = new WebSocket(socketUrl(this.path));
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.onState("open");
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send({ type: "ping" }), PING_EVERY_MS);
    });
    ws.addEventListener("message", (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch { return; }
      if (event.type !== "pong") this.onEvent(event);
    });
    ws.addEventListener("close", (close) => {
      clearInterval(this.pinger);
      if (this.ws !== ws) return;
      if (this.stopped || close.code === 4401) { this.onState("closed"); return; }
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    const delay = backoffDelay(this.attempt, { baseMs: 1000, maxMs: 30000 });
    this.attempt += 1;
    this.onState("waiting", delay);
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    clearTimeout(this.retry);
    this.attempt = 0;
    this.connect();
  }

  send(event) { if (this.isOpen()) this.ws.send(JSON.stringify(event)); }
}

/** Start the socket and show its state in a small indicator element (data-state="open|waiting|closed"). */
export function startNotifications(indicator, onEvent, labels) {
  return new NotificationSocket({
    onEvent,
    onState: (state) => {
      if (!indicator) return;
      indicator.dataset.state = state;
      indicator.textContent = labels[state] ?? state;
    },
  }).start();
}
