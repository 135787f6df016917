/**
 * Per-mailbox rate limit: at most `ratePerMinute` messages in any 60-second window per sending
 * mailbox (Exchange Online: 30 per minute per mailbox, m365.md §5.1), sent smoothly.
 *
 * Two rules together:
 * - a token bucket that holds at most one second's worth of messages (at least one: a single
 *   message is always immediate) spaces a backlog evenly from the first second instead of
 *   front-loading a burst into the first window;
 * - a sliding-window log of the sends of the last 60 s caps any window at exactly the rate. A
 *   bucket alone allows rate + burst in a window that starts with a full bucket, which is what
 *   a throttling server counts (measured: 150 in the first 10 s at 600/min → 4xx replies).
 *
 * Pure (time is passed in), so tests drive it with numbers.
 */

export interface RateLimitOptions {
  ratePerMinute: number;
  /** Tokens that may accumulate; default one second's worth, at least 1: max(1, ceil(rate / 60)). */
  burst?: number;
}

export class TokenBucket {
  readonly #perMs: number;
  readonly #capacity: number;
  #tokens: number;
  #updatedAt: number | undefined;
  readonly #limit: number;
  /** Send times of the last 60 s, oldest first (from #head on). */
  #log: number[] = [];
  #head = 0;

  constructor(options: RateLimitOptions) {
    if (!(options.ratePerMinute > 0)) throw new Error('ratePerMinute must be positive');
    this.#perMs = options.ratePerMinute / 60_000;
    this.#capacity = Math.max(1, options.burst ?? Math.ceil(options.ratePerMinute / 60));
    this.#tokens = this.#capacity;
    this.#limit = Math.max(1, Math.floor(options.ratePerMinute));
  }

  #trim(now: number): void {
    while (this.#head < this.#log.length && this.#log[this.#head] <= now - 60_000) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#log.length) {
      this.#log = this.#log.slice(this.#head);
      this.#head = 0;
    }
  }

  #inWindow(): number {
    return this.#log.length - this.#head;
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
    this.#trim(now);
    if (this.#tokens >= 1 && this.#inWindow() < this.#limit) {
      this.#tokens -= 1;
      this.#log.push(now);
      return true;
    }
    return false;
  }

  /** Give back a token taken for a message that was not sent after all. */
  giveBack(): void {
    this.#tokens = Math.min(this.#capacity, this.#tokens + 1);
    if (this.#inWindow() > 0) this.#log.pop();
  }

  /** Milliseconds until one token is available (0 when one is). */
  msUntilNext(now: number): number {
    this.#refill(now);
    this.#trim(now);
    const bucket = this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.#perMs);
    const window = this.#inWindow() < this.#limit ? 0 : this.#log[this.#head] + 60_000 - now + 1;
    return Math.max(bucket, window);
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
