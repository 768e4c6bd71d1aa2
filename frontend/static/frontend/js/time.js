// Dates and times on the pages, in the service's time zone (settings.TIME_ZONE: the county works in
// Asia/Shanghai), never the browser's: a laptop whose clock is set to another zone shows the same
// times as the clinic, the expert and the PDF. The zone is <html data-time-zone> (base.html, patient.html).
//
// A "day key" is a calendar day in that zone as "YYYY-MM-DD"; day arithmetic is done on keys.

export const TIME_ZONE = document.documentElement.dataset.timeZone || "Asia/Shanghai";

const PARTS = new Intl.DateTimeFormat("en-US", {
  timeZone: TIME_ZONE, hourCycle: "h23", weekday: "short",
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});
const WEEKDAYS = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const pad = (n) => String(n).padStart(2, "0");

function toDate(value) {
  return value instanceof Date ? value : new Date(value);
}

/** The wall-clock fields of an instant in the service's zone; weekday 0 = Sunday. */
export function zoned(value) {
  const p = Object.fromEntries(PARTS.formatToParts(toDate(value)).map((part) => [part.type, part.value]));
  return { year: Number(p.year), month: Number(p.month), day: Number(p.day), hour: Number(p.hour) % 24,
    minute: Number(p.minute), second: Number(p.second), weekday: WEEKDAYS[p.weekday] };
}

/** "2026-11-25 14:05" (empty for no value). */
export function formatDateTime(value) {
  if (!value) return "";
  const z = zoned(value);
  return `${z.year}-${pad(z.month)}-${pad(z.day)} ${pad(z.hour)}:${pad(z.minute)}`;
}

/** "14:05". */
export function formatTime(value) {
  if (!value) return "";
  const z = zoned(value);
  return `${pad(z.hour)}:${pad(z.minute)}`;
}

/** "14:05:09": now by default (event feeds, "saved at"). */
export function formatClock(value = new Date()) {
  const z = zoned(value);
  return `${pad(z.hour)}:${pad(z.minute)}:${pad(z.second)}`;
}

/** The day of an instant in the service's zone, "YYYY-MM-DD". */
export function dayKey(value = new Date()) {
  const z = zoned(value);
  return `${z.year}-${pad(z.month)}-${pad(z.day)}`;
}

export function isToday(value) {
  return Boolean(value) && dayKey(value) === dayKey(new Date());
}

function keyParts(key) {
  const [year, month, day] = key.split("-").map(Number);
  return { year, month, day };
}

/** The day `days` after (or before) a day key. */
export function addDays(key, days) {
  const { year, month, day } = keyParts(key);
  return new Date(Date.UTC(year, month - 1, day + days)).toISOString().slice(0, 10);
}

/** Weekday of a day key, 0 = Sunday. */
export function weekdayOf(key) {
  const { year, month, day } = keyParts(key);
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay();
}

/** "11/25" of a day key. */
export function monthDay(key) {
  const { month, day } = keyParts(key);
  return `${month}/${day}`;
}

// How far the zone's wall clock is ahead of UTC at an instant, in ms.
function offsetAt(instant) {
  const z = zoned(new Date(instant));
  return Date.UTC(z.year, z.month - 1, z.day, z.hour, z.minute, z.second) - Math.floor(instant / 1000) * 1000;
}

/** The instant the day `key` starts in the service's zone (for API ranges such as ?from=). */
export function startOfDay(key) {
  const { year, month, day } = keyParts(key);
  const wall = Date.UTC(year, month - 1, day);
  const first = wall - offsetAt(wall);
  return new Date(wall - offsetAt(first)); // the offset at the result itself (a zone that changes offset)
}

/** The instant a wall-clock time "HH:MM" of day `key` happens in the service's zone (form fields to API times). */
export function instantAt(key, hhmm) {
  const { year, month, day } = keyParts(key);
  const [hour, minute] = hhmm.split(":").map(Number);
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const first = wall - offsetAt(wall);
  return new Date(wall - offsetAt(first));
}
