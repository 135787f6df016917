/**
 * Retry delays: exponential backoff with jitter, computed in one place.
 *
 * Why: Exchange answers `432 4.3.2` (too many connections) and `421 4.7.x` (throttled) to
 * clients that retry at once; several workers retrying in lockstep make it worse. The delay
 * for attempt n is base·2^(n-1), capped, then spread over [50 %, 100 %] of that ("equal
 * jitter": never shorter than half the schedule, never synchronised), and never shorter than
 * what the server or the retry policy asked for (Retry-After → minDelayMs).
 *
 * Pure (randomness injected).
 */

export interface BackoffOptions {
  /** Delay before the second attempt, before jitter. Default 5 s. */
  baseMs: number;
  /** Upper bound before jitter. Default 10 min. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 5_000, maxMs: 600_000 };

/**
 * Milliseconds to wait after failed attempt number `attempt` (1-based).
 * @param random a number in [0, 1)
 */
export function retryDelayMs(attempt: number, options: BackoffOptions, random: number, minDelayMs = 0): number {
  const exp = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  const jittered = Math.round(exp / 2 + (exp / 2) * random);
  return Math.max(jittered, Math.ceil(minDelayMs));
}
