// Link quality as the live pages show it: a level (good / fair / poor) from loss, round trip and frame rate.
import { t } from "../frontend/js/strings.js";

// What a quality figure means to a person: good / fair / poor. `fps` counts only where video is expected.
export function qualityLevel({ loss, rtt_ms, fps = null, dead = false }) {
  if (dead) return "poor";
  if (loss == null && rtt_ms == null && fps == null) return "unknown";
  if ((loss || 0) > 0.1 || (rtt_ms || 0) > 600 || (fps !== null && fps < 5)) return "poor";
  if ((loss || 0) > 0.03 || (rtt_ms || 0) > 250 || (fps !== null && fps < 12)) return "fair";
  return "good";
}

export const QUALITY_ICON = { good: "▂▄▆", fair: "▂▄·", poor: "▂··", unknown: "···" };
export function qualityText(level) {
  return { good: t("Good link"), fair: t("Fair link"), poor: t("Poor link"), unknown: t("Link: measuring") }[level];
}

// The worse of two readings of one person's link (the relay's or their own report, and what we receive).
export function worseQuality(a, b) {
  const rank = { unknown: 0, good: 1, fair: 2, poor: 3 };
  if (!a) return b;
  if (!b) return a;
  return rank[qualityLevel(a)] >= rank[qualityLevel(b)] ? a : b;
}
