// The "reconnecting" banner of both live pages (#reconnecting): shown while the room socket or our own
// media is coming back, hidden once both are, and for good when the call is over for us.

export class ReconnectBanner {
  /** onChange(on) after every render: each page says it in its own status line. */
  constructor(banner, { onChange = () => {} } = {}) {
    this.banner = banner;
    this.onChange = onChange;
    this.socketDown = false;
    this.media = null;
    this.ended = false;
  }

  /** Follow a RoomClient: "reconnecting" until its next welcome. Call before the page's own listeners. */
  watchClient(client) {
    client.addEventListener("reconnecting", () => { this.socketDown = true; this.render(); });
    client.addEventListener("welcome", () => { this.socketDown = false; this.render(); });
    return this;
  }

  /** Follow a MediaSession: "reconnecting" while its media is lost. */
  watchMedia(media) {
    this.media = media;
    media.addEventListener("media-lost", () => this.render());
    media.addEventListener("media-restored", () => this.render());
    this.render();
    return this;
  }

  get on() { return !this.ended && (this.socketDown || Boolean(this.media && this.media.mediaLost)); }

  end() {
    this.ended = true;
    this.render();
  }

  render() {
    const on = this.on;
    this.banner.hidden = !on;
    document.body.classList.toggle("reconnecting", on);
    this.onChange(on);
  }
}
