"""Checks on live video in a page: a <video> presents frames (requestVideoFrameCallback), and what the
page's peer connections received when it does not (for the failure's message)."""
import time

# In the page: the video's size, and frames presented while watching it for a second (requestVideoFrameCallback).
FRAMES_JS = """(selector) => new Promise((resolve) => {
  const video = document.querySelector(selector);
  if (!video || !video.videoWidth) { resolve(null); return; }
  let frames = 0;
  const count = () => { frames += 1; video.requestVideoFrameCallback(count); };
  video.requestVideoFrameCallback(count);
  setTimeout(() => resolve({ width: video.videoWidth, height: video.videoHeight, frames }), 1000);
})"""

# In the page: what each downstream peer connection received and decoded, and what the upstream sent.
STATS_JS = """async () => {
  const holder = window.liveRoom || window.livePatient;
  const media = holder && holder.media;
  if (!media) return null;
  const out = { inbound: {}, outbound: null };
  for (const [pcId, { pc, publisher }] of media.downstreams) {
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') out.inbound[publisher] = {
        pc: pcId.slice(0, 6), ice: pc.iceConnectionState, packets: s.packetsReceived, lost: s.packetsLost,
        framesReceived: s.framesReceived, decoded: s.framesDecoded, keyframes: s.keyFramesDecoded, pli: s.pliCount };
    });
  }
  if (media.upstream) (await media.upstream.getStats()).forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') out.outbound = {
      ice: media.upstream.iceConnectionState, packets: s.packetsSent, frames: s.framesEncoded,
      limit: s.qualityLimitationReason, width: s.frameWidth, fps: s.framesPerSecond };
  });
  return out;
}"""


def video_decoding(page, selector: str, timeout_s: float = 30, min_frames: int = 5) -> dict:
    """Wait until the video at `selector` has a size and presents at least `min_frames` frames a second."""
    deadline = time.monotonic() + timeout_s
    seen = None
    while time.monotonic() < deadline:
        seen = page.evaluate(FRAMES_JS, selector)
        if seen and seen["width"] > 0 and seen["frames"] >= min_frames:
            return seen
        time.sleep(0.3)
    raise AssertionError(f"no frames decoding in {selector}: {seen}; the page's media: {page.evaluate(STATS_JS)}")
