/**
 * Login rate limiting, per client and for the whole server: after `maxFailures` wrong
 * passwords within `windowMs` from one client (an IPv4 address, or an IPv6 /64: see
 * ./client-address.ts), further attempts from it are refused (without checking the password)
 * until the oldest failure leaves the window; and when `globalFailuresPerMinute` wrong
 * passwords arrived within the last minute from anywhere, every attempt is refused until that
 * minute has passed.
 *
 * Why: the admin password guards every setting and secret; without a limit it can be guessed
 * online as fast as scrypt allows. Refusing before the check also keeps a flood of attempts
 * from burning CPU. The global ceiling bounds the guessing rate of an attacker who rotates
 * addresses (a botnet, or many IPv6 /64s) — at the cost of refusing everyone for at most a
 * minute while such an attack runs, which is the safe side. A successful sign-in clears the
 * client's failures. The table is capped so that many addresses cannot grow it without bound.
 *
 * `attempt()` counts the attempt as a failure *before* the password is checked (and
 * `succeed()` takes it back), so many parallel guesses from one client cannot all pass the
 * check while the first ones are still being hashed.
 *
 * Imports: nothing.
 */

export interface LoginLimiterOptions {
  /** Wrong passwords allowed per client within the window (default 5). */
  maxFailures?: number;
  /** The window (default 15 minutes). */
  windowMs?: number;
  /** Wrong passwords allowed per minute from all clients together (default 100). */
  globalFailuresPerMinute?: number;
  /** Addresses tracked at most (default 10 000; the least recently failed are dropped). */
  maxAddresses?: number;
}

export type LimitDecision =
  | { allowed: true }
  | { allowed: false; retryAfterMs: number; scope: 'client' | 'global' };

const MINUTE = 60_000;

export class LoginLimiter {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly globalFailuresPerMinute: number;
  readonly #maxAddresses: number;
  readonly #failures = new Map<string, number[]>();
  /** Times of the failures of the last minute, from every client (at most the ceiling). */
  #global: number[] = [];

  constructor(o: LoginLimiterOptions = {}) {
    this.maxFailures = o.maxFailures ?? 5;
    this.windowMs = o.windowMs ?? 15 * MINUTE;
    this.globalFailuresPerMinute = o.globalFailuresPerMinute ?? 100;
    this.#maxAddresses = o.maxAddresses ?? 10_000;
  }

  #recent(address: string, now: number): number[] {
    const list = (this.#failures.get(address) ?? []).filter((t) => now - t < this.windowMs);
    if (list.length) this.#failures.set(address, list);
    else this.#failures.delete(address);
    return list;
  }

  #recentGlobal(now: number): number[] {
    this.#global = this.#global.filter((t) => now - t < MINUTE);
    return this.#global;
  }

  check(address: string, now: number): LimitDecision {
    const list = this.#recent(address, now);
    if (list.length >= this.maxFailures) return { allowed: false, scope: 'client', retryAfterMs: Math.max(1000, list[0]! + this.windowMs - now) };
    const global = this.#recentGlobal(now);
    if (global.length >= this.globalFailuresPerMinute) return { allowed: false, scope: 'global', retryAfterMs: Math.max(1000, global[0]! + MINUTE - now) };
    return { allowed: true };
  }

  /** Records a wrong password; returns how many attempts remain for the client in the window. */
  fail(address: string, now: number): number {
    const list = this.#recent(address, now);
    list.push(now);
    this.#failures.delete(address);
    this.#failures.set(address, list);
    while (this.#failures.size > this.#maxAddresses) this.#failures.delete(this.#failures.keys().next().value as string);
    const global = this.#recentGlobal(now);
    global.push(now);
    if (global.length > this.globalFailuresPerMinute) global.shift();
    return Math.max(0, this.maxFailures - list.length);
  }

  /**
   * Checks, and when allowed counts the attempt as a failure at once (see the header);
   * `left` is how many more wrong passwords the client has if this one is wrong.
   */
  attempt(address: string, now: number): LimitDecision & { left?: number } {
    const decision = this.check(address, now);
    if (!decision.allowed) return decision;
    return { allowed: true, left: this.fail(address, now) };
  }

  /** A correct password: the client's failures are cleared, and the attempt counted at `at` no longer counts globally. */
  succeed(address: string, at?: number): void {
    this.#failures.delete(address);
    if (at !== undefined) {
      const i = this.#global.lastIndexOf(at);
      if (i >= 0) this.#global.splice(i, 1);
    }
  }
}
