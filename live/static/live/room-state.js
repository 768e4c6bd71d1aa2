// Room state kept from the welcome frame and the numbered events: who is here, chat, quality.
// Shared by the staff room page and the patient's phone page.

import { t } from "../frontend/js/strings.js";

// Module scripts run once the page is parsed: the strings table (#tc-strings) is there.
export const ROLE_TEXT = {
  host: t("Doctor (host)"), expert: t("Expert"), second_expert: t("Second expert"),
  family: t("Family"), patient: t("Patient"),
};
export const STATE_TEXT = { waiting: t("waiting"), admitted: t("in the call"), removed: t("removed"), left: t("left") };

export class RoomState extends EventTarget {
  constructor() {
    super();
    this.me = null;
    this.participants = new Map();
    this.chat = [];
    this.snapshotSeq = 0;
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  welcome(frame) {
    this.me = frame.me;
    this.participants = new Map(frame.participants.map((p) => [p.id, p]));
    // The snapshot already holds every event up to last_seq; after a first join the server replays the
    // room's whole history (for the chat). Applied again, an old event would set someone back to how
    // they were then: a patient admitted before their socket joined would go "waiting" and be admitted
    // a second time, and publish twice.
    this.snapshotSeq = frame.last_seq ?? 0;
    this.emit("changed", {});
  }

  // An event about someone this state does not hold (yet) changes nothing: no half-known participant.
  update(id, values) {
    if (this.participants.has(id)) this.upsert(id, values);
  }

  upsert(id, values) {
    const current = this.participants.get(id) || { id };
    const updated = { ...current, ...values };
    this.participants.set(id, updated);
    if (this.me && id === this.me.id) this.me = updated;
    return updated;
  }

  apply(event) {
    const data = event.data || {};
    // A participant's media state is not in the snapshot: the history's latest one holds.
    if (event.seq <= this.snapshotSeq && event.kind !== "chat" && event.kind !== "media") {
      this.emit("changed", { event, replayed: true });
      return;
    }
    switch (event.kind) {
      case "room.opened":
      case "participant.joined":
      case "participant.admitted":
      case "participant.removed":
      case "participant.left":
        if (data.participant) this.upsert(data.participant.id, { ...data.participant, media_lost: false });
        break;
      case "participant.presence":
        this.update(event.participant, { connected: data.connected });
        break;
      case "mute":
        this.update(event.participant, { audio_muted: data.audio_muted, video_muted: data.video_muted });
        break;
      case "audio_only":
        this.update(event.participant, { audio_only: data.audio_only });
        break;
      case "media":
        this.update(event.participant, { media_lost: data.state === "lost" });
        this.emit("media", { participant: event.participant, lost: data.state === "lost", replayed: event.seq <= this.snapshotSeq });
        break;
      case "chat":
        this.chat.push({ seq: event.seq, participant: event.participant, text: data.text, at: event.at });
        this.emit("chat", this.chat[this.chat.length - 1]);
        break;
      case "room.closed":
        this.emit("room-closed", {});
        break;
      default:
        break;
    }
    this.emit("changed", { event });
  }

  name(id) {
    const p = this.participants.get(id);
    return p ? p.name : `#${id}`;
  }
}
