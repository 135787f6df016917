/**
 * Login rate limiting per client address: after `maxFailures` wrong passwords within
 * `windowMs`, further attempts from that address are refused (without checking the password)
 * until the oldest failure leaves the window.
 *
 * Why: the admin password guards every setting and secret; without a limit it can be guessed
 * online as fast as scrypt allows. Refusing before the check also keeps a flood of attempts
 * from burning CPU. A successful sign-in clears the address's failures. The table is capped so
 * that many addresses cannot grow it without bound.
 *
 * Imports: nothing.
 */

export interface LoginLimiterOptions {
  /** Wrong passwords allowed per address within the window (default 5). */
  maxFailures?: number;
  /** The window (default 15 minutes). */
  windowMs?: number;
  /** Addresses tracked at most (default 10 000; the least recently failed are dropped). */
  maxAddresses?: number;
}

export type LimitDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

export class LoginLimiter {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly #maxAddresses: number;
  readonly #failures = new Map<string, number[]>();

  constructor(o: LoginLimiterOptions = {}) {
    this.maxFailures = o.maxFailures ?? 5;
    this.windowMs = o.windowMs ?? 15 * 60_000;
    this.#maxAddresses = o.maxAddresses ?? 10_000;
  }

  #recent(address: string, now: number): number[] {
    const list = (this.#failures.get(address) ?? []).filter((t) => now - t < this.windowMs);
    if (list.length) this.#failures.set(address, list);
    else this.#failures.delete(address);
    return list;
  }

  check(address: string, now: number): LimitDecision {
    const list = this.#recent(address, now);
    if (list.length < this.maxFailures) return { allowed: true };
    return { allowed: false, retryAfterMs: Math.max(1000, list[0]! + this.windowMs - now) };
  }

  /** Records a wrong password; returns how many attempts remain in the window. */
  fail(address: string, now: number): number {
    const list = this.#recent(address, now);
    list.push(now);
    this.#failures.delete(address);
    this.#failures.set(address, list);
    while (this.#failures.size > this.#maxAddresses) this.#failures.delete(this.#failures.keys().next().value as string);
    return Math.max(0, this.maxFailures - list.length);
  }

  succeed(address: string): void {
    this.#failures.delete(address);
  }
}
