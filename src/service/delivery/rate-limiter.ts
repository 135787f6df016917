/**
 * Per-mailbox rate limit: at most `ratePerMinute` messages in any 60-second window per sending
 * mailbox (Exchange Online: 30 per minute per mailbox, docs/m365.md §5.1), sent evenly spaced.
 *
 * Two rules together:
 * - a token bucket that by default holds one message: a backlog leaves at one message every
 *   60 s / rate (2 s at 30/min), never front-loaded. How Exchange counts its minute is not
 *   documented (docs/m365.md §5.1 only says excess is "throttled and carried over"), so the safe
 *   behaviour is the one no counting can object to: any window of any length holds at most its
 *   share of the rate, plus one. A larger `burst` can be configured, at that risk;
 * - a sliding-window log of the sends of the last 60 s caps any window at exactly the rate
 *   whatever the burst (a bucket alone allows rate + burst in a window that starts full;
 *   measured: 150 in the first 10 s at 600/min → 4xx replies).
 *
 * The spacing keeps `headroom` (default 1 %) below the rate: the server counts arrivals, not our
 * send times, and a message that took longer on the wire than the next one (the first message
 * of a connection pays TCP + TLS + AUTH) would otherwise land two in one spacing. 1 % gives a
 * window of 15 s at 600/min a margin of 150 ms for that jitter.
 *
 * At high rates the bucket holds what accrues in 10 ms (a timer tick) instead of one message:
 * a worker woken by a timer or a finished send can then hand over every message that became
 * due, instead of one per wake-up (measured: at 1,000,000/min a one-message bucket capped a
 * burst at one message per event, about 770/s). Any window then holds at most its share plus
 * 10 ms worth of the rate; at Exchange's rates (30–600/min) that is still one message.
 *
 * The bucket may hold a little more than `burst` (a quarter of a message, but never more than a
 * quarter of the headroom's worth of a minute): a send waits for a timer, which fires a little
 * after the token became whole, and dropping that lateness at every message would lower a
 * backlog's rate by the timer's delay per message (measured: 589/min at 600/min with 1 ms
 * timers). At 30/min the headroom is 0.3 messages a minute (606 ms), so the overshoot is
 * capped at 0.075 messages (151 ms) and 455 ms of the headroom stay for arrival jitter.
 *
 * Pure (time is passed in), so tests drive it with numbers.
 */

export interface RateLimitOptions {
  ratePerMinute: number;
  /** Messages that may leave at once after an idle period; default 1 (evenly spaced), or 10 ms worth of the rate when that is more. */
  burst?: number;
  /** Fraction of the rate kept free for arrival jitter; default 0.01. */
  headroom?: number;
}

export class TokenBucket {
  readonly #perMs: number;
  readonly #capacity: number;
  /** What the bucket may hold beyond its capacity (timer lateness kept), in messages. */
  readonly #overshoot: number;
  #tokens: number;
  #updatedAt: number | undefined;
  readonly #limit: number;
  /** Send times of the last 60 s, oldest first (from #head on). */
  #log: number[] = [];
  #head = 0;

  constructor(options: RateLimitOptions) {
    if (!(options.ratePerMinute > 0)) throw new Error('ratePerMinute must be positive');
    const headroom = Math.min(0.5, Math.max(0, options.headroom ?? 0.01));
    this.#perMs = (options.ratePerMinute * (1 - headroom)) / 60_000;
    this.#capacity = Math.max(1, options.burst ?? 1, this.#perMs * 10);
    this.#overshoot = Math.min(0.25, (options.ratePerMinute * headroom) / 4);
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
      this.#tokens = Math.min(this.#capacity + this.#overshoot, this.#tokens + (now - this.#updatedAt) * this.#perMs);
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
    this.#tokens = Math.min(this.#capacity + this.#overshoot, this.#tokens + 1);
    if (this.#inWindow() > 0) this.#log.pop();
  }

  /**
   * Count sends made elsewhere (another instance delivered for this mailbox until a handover,
   * issue 18): they fill the 60 s window, and the bucket refills from the latest of them, so the
   * new owner does not start with a full minute's allowance the old owner already used.
   */
  seed(times: number[], now: number): void {
    this.#refill(now);
    this.#trim(now);
    const recent = times.filter((t) => t > now - 60_000 && t <= now);
    if (!recent.length) return;
    this.#log = [...this.#log.slice(this.#head), ...recent].sort((a, b) => a - b);
    this.#head = 0;
    const latest = Math.max(...recent);
    this.#tokens = Math.min(this.#tokens, Math.max(0, (now - latest) * this.#perMs));
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

/**
 * One bucket per mailbox. `ratePerMinute` (a sender's own limit, issue 16) replaces the default
 * rate for that mailbox; a changed rate starts a new bucket.
 */
export class MailboxRateLimiter {
  readonly #buckets = new Map<string, { bucket: TokenBucket; rate: number }>();
  constructor(readonly options: RateLimitOptions) {}

  bucket(mailbox: string, ratePerMinute?: number): TokenBucket {
    const key = mailbox.toLowerCase();
    const rate = ratePerMinute ?? this.options.ratePerMinute;
    let b = this.#buckets.get(key);
    if (!b || b.rate !== rate) {
      b = { bucket: new TokenBucket({ ...this.options, ratePerMinute: rate }), rate };
      this.#buckets.set(key, b);
    }
    return b.bucket;
  }
}
