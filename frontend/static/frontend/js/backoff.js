// The one reconnect backoff of the pages (notification socket, room socket, the patient's link check):
// exponential with jitter, so that when a server process dies its hundreds of clients spread their knocks
// on the survivor instead of arriving in waves.

/** How long to wait before try number `attempt` (0 for the first retry). */
export function backoffDelay(attempt, { baseMs = 1000, maxMs = 30000, jitter = true } = {}) {
  const delay = Math.min(maxMs, baseMs * 2 ** attempt);
  return jitter ? delay * (0.5 + Math.random() / 2) : delay;
}

/** A promise that resolves after backoffDelay(attempt, options). */
export function backoff(attempt, options) {
  return new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, options)));
}
