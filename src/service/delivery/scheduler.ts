/**
 * Scheduler: the clock plus timers the worker runs on.
 *
 * Why: the worker waits (poll interval, backoff, rate limit, lease renewal). Tests must move
 * time without sleeping, so the worker never calls Date.now or setTimeout itself; it takes a
 * Scheduler. `systemScheduler` is the real one; tests use a fake clock that fires timers when
 * advanced.
 *
 * Imports: the Clock port from src/core.
 */
import type { Clock } from '../../core/ports.js';

export interface Scheduler extends Clock {
  /** Run `fn` after `ms` milliseconds; returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return () => clearTimeout(t);
  },
};
