/**
 * Exchange Online's SMTP AUTH submission limits (docs/m365.md §5.1): concurrent authenticated
 * connections per mailbox (3), messages per minute per mailbox (30), recipients per message
 * (500) and the message size (mailbox MaxSendSize, default 35 MB); Graph's (§5.2): 4 concurrent
 * requests per app and mailbox, 4 MB per request; with a way to lift them all
 * (`limits: false`) when the emulator is used as a fast sink, e.g. by the benchmark.
 *
 * Why it exists: the product must cope with these limits (432 on the 4th connection, throttling);
 * the counters and the sliding window are small state machines best kept apart from the protocol.
 *
 * Imports: nothing.
 */

export interface Limits {
  /** Messages per minute per mailbox (sliding 60 s window). */
  messagesPerMinute: number;
  /** Concurrent authenticated SMTP connections per mailbox; the next AUTH gets 432 4.3.2. */
  maxConnectionsPerMailbox: number;
  /** Recipients per message. */
  maxRecipients: number;
  /** Message size in bytes (SMTP, and a Graph draft when it is sent). */
  maxMessageSize: number;
  /** Concurrent Graph requests per app and mailbox; the next gets 429 MailboxConcurrency (docs/m365.md §5.2). */
  maxGraphConcurrentRequests: number;
  /** Bytes of one Graph request body; larger gets 413 (docs/m365.md §5.2). */
  maxGraphRequestBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  messagesPerMinute: 30,
  maxConnectionsPerMailbox: 3,
  maxRecipients: 500,
  maxMessageSize: 35 * 1024 * 1024,
  maxGraphConcurrentRequests: 4,
  maxGraphRequestBytes: 4 * 1024 * 1024,
});

export const NO_LIMITS: Readonly<Limits> = Object.freeze({
  messagesPerMinute: Infinity,
  maxConnectionsPerMailbox: Infinity,
  maxRecipients: Infinity,
  maxMessageSize: Infinity,
  maxGraphConcurrentRequests: Infinity,
  maxGraphRequestBytes: Infinity,
});

/** `false` lifts every limit; a partial object overrides some defaults (Infinity lifts one). */
export type LimitsOption = Partial<Limits> | false | undefined;

export function resolveLimits(option: LimitsOption): Limits {
  if (option === false) return { ...NO_LIMITS };
  return { ...DEFAULT_LIMITS, ...(option ?? {}) };
}

/** Authenticated connections per mailbox, and the peak seen per mailbox. */
export class ConnectionCounter {
  readonly #open = new Map<string, Set<string>>();
  readonly #peak = new Map<string, number>();

  /** Registers `connectionId` as authenticated to `mailbox` unless that would exceed `max`. */
  tryAcquire(mailbox: string, connectionId: string, max: number): boolean {
    const key = mailbox.toLowerCase();
    const open = this.#open.get(key) ?? new Set<string>();
    if (open.size >= max) return false;
    open.add(connectionId);
    this.#open.set(key, open);
    this.#peak.set(key, Math.max(this.#peak.get(key) ?? 0, open.size));
    return true;
  }

  release(mailbox: string, connectionId: string): void {
    const key = mailbox.toLowerCase();
    const open = this.#open.get(key);
    open?.delete(connectionId);
    if (open && !open.size) this.#open.delete(key);
  }

  openCount(mailbox: string): number {
    return this.#open.get(mailbox.toLowerCase())?.size ?? 0;
  }

  peaks(): Record<string, number> {
    return Object.fromEntries(this.#peak);
  }

  resetPeaks(): void {
    this.#peak.clear();
    for (const [mailbox, open] of this.#open) this.#peak.set(mailbox, open.size);
  }
}

/** A sliding one-minute window of accepted messages per mailbox. */
export class MessageRateWindow {
  readonly #sent = new Map<string, number[]>();

  #recent(mailbox: string, now: number): number[] {
    const key = mailbox.toLowerCase();
    const list = (this.#sent.get(key) ?? []).filter((t) => t > now - 60_000);
    this.#sent.set(key, list);
    return list;
  }

  /** True when another message from `mailbox` would exceed `perMinute`. */
  isExceeded(mailbox: string, perMinute: number, now: number): boolean {
    if (!Number.isFinite(perMinute)) return false;
    return this.#recent(mailbox, now).length >= perMinute;
  }

  record(mailbox: string, now: number): void {
    this.#recent(mailbox, now).push(now);
  }

  clear(): void {
    this.#sent.clear();
  }
}
