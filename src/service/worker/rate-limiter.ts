/**
 * Per-mailbox token bucket: at most `ratePerMinute` messages per minute per sending mailbox
 * (Exchange Online: 30 per minute per mailbox, m365.md §5.1), with a small burst.
 *
 * Why a bucket with a small burst rather than a full minute's worth: Exchange throttles "per
 * minute" and carries the excess over, so sending 30 at once and then 30 more as the bucket
 * refills would put up to 60 into one minute. A burst of a sixth of the rate (5 at the default
 * 30/min) bounds any 60-second window to rate + burst while keeping single messages immediate.
 *
 * Pure (time is passed in), so tests drive it with numbers.
 */

export interface RateLimitOptions {
  ratePerMinute: number;
  /** Tokens that may accumulate; default max(1, ceil(rate / 6)). */
  burst?: number;
}

export class TokenBucket {
  readonly #perMs: number;
  readonly #capacity: number;
  #tokens: number;
  #updatedAt: number | undefined;

  constructor(options: RateLimitOptions) {
    if (!(options.ratePerMinute > 0)) throw new Error('ratePerMinute must be positive');
    this.#perMs = options.ratePerMinute / 60_000;
    this.#capacity = Math.max(1, options.burst ?? Math.ceil(options.ratePerMinute / 6));
    this.#tokens = this.#capacity;
  }

  #refill(now: number): void {
    if (this.#updatedAt !== undefined && now > this.#updatedAt) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#updatedAt) * this.#perMs);
    }
    this.#updatedAt = Math.max(now, this.#updatedAt ?? now);
  }

  /** Take one token if available. */
  tryTake(now: number): boolean {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    return false;
  }

  /** Give back a token taken for a message that was not sent after all. */
  giveBack(): void {
    this.#tokens = Math.min(this.#capacity, this.#tokens + 1);
  }

  /** Milliseconds until one token is available (0 when one is). */
  msUntilNext(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.#perMs);
  }
}

/** One bucket per mailbox. */
export class MailboxRateLimiter {
  readonly #buckets = new Map<string, TokenBucket>();
  constructor(readonly options: RateLimitOptions) {}

  bucket(mailbox: string): TokenBucket {
    const key = mailbox.toLowerCase();
    let b = this.#buckets.get(key);
    if (!b) {
      b = new TokenBucket(this.options);
      this.#buckets.set(key, b);
    }
    return b;
  }
}
