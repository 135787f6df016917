/**
 * The relay's AUTH lockout: after `maxFailures` wrong credentials from one address (IPv4
 * address or IPv6 /64) within `windowMs`, AUTH from it is answered `454 4.7.0` and the
 * connection closed until the oldest failure leaves the window.
 *
 * Why: a printer's password is typed on a front panel and rarely changed; guessing it must be
 * slow. Successful logins are never delayed (no tarpit); a locked address is refused before its
 * password is checked, else the lockout would still answer guesses.
 *
 * Imports: node:net.
 */
import { isIPv6 } from 'node:net';

/** Addresses remembered at most (the oldest are forgotten first). */
const MAX_TRACKED = 10_000;

export function lockoutKey(remoteAddress: string): string {
  const a = remoteAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (!isIPv6(a)) return a;
  // The first four groups: an IPv6 /64 (one subscriber's network).
  const [head = '', tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export class AuthLockout {
  readonly #failures = new Map<string, number[]>();
  constructor(private readonly o: { maxFailures: number; windowMs: number; now?: () => number }) {}

  #recent(key: string, now: number): number[] {
    const list = (this.#failures.get(key) ?? []).filter((t) => t > now - this.o.windowMs);
    if (list.length) this.#failures.set(key, list);
    else this.#failures.delete(key);
    return list;
  }

  locked(remoteAddress: string): boolean {
    const now = this.o.now?.() ?? Date.now();
    return this.#recent(lockoutKey(remoteAddress), now).length >= this.o.maxFailures;
  }

  failed(remoteAddress: string): void {
    const now = this.o.now?.() ?? Date.now();
    const key = lockoutKey(remoteAddress);
    const list = this.#recent(key, now);
    list.push(now);
    this.#failures.delete(key);
    this.#failures.set(key, list.slice(-this.o.maxFailures));
    while (this.#failures.size > MAX_TRACKED) this.#failures.delete(this.#failures.keys().next().value!);
  }
}
