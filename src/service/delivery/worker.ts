/**
 * The delivery worker: claims due messages with a lease, sends them through the process's one
 * Mailer within Exchange Online's limits, and records every attempt.
 *
 * Why one module: the loop's rules interlock and must be read together:
 * - at most `maxInFlight` (≤ 3) messages in flight per mailbox (Exchange: 3 concurrent
 *   connections per mailbox, else `432 4.3.2`);
 * - a per-mailbox token bucket (default 30/min) and the 10,000 recipients / 24 h budget;
 * - transient failures → `retrying` with exponential backoff + jitter (never earlier than the
 *   policy's minDelayMs / Retry-After); permanent ones (5xx, refused credentials) → `failed` at
 *   once with the diagnosis stored, never retried (docs/m365.md §10: retrying 5xx gets the mailbox
 *   throttled); past the maximum age → `failed` with EXPIRED;
 * - leases renewed while a message is held, so a slow send is not taken over; a crashed
 *   worker's leases expire and another worker (or this one after restart) takes the messages.
 *
 * Throughput: the worker keeps a small buffer of claimed messages (an in-memory cursor, as in
 * docs/perf-calibration.md) so a finished send is followed at once by the next one, and claims share
 * group commits with enqueues. `wake()` (called after an enqueue) avoids waiting for the poll.
 *
 * Policy is injected: `classify` (core retry policy) and `diagnose` (core diagnosis), so the
 * worker holds no table of its own and tests can script them. Time comes from a Scheduler.
 *
 * Imports: src/core, ../outbox/store, sibling delivery modules.
 */
import type { Diagnosis, DiagnosisContext } from '../../core/diagnosis/types.js';
import { secretValues, type EmailSettings } from '../../core/settings.js';
import type { Logger } from '../../log/logger.js';
import type { ClaimedMessage, OutboxStore } from '../outbox/store.js';
import { deliverMessage, expireMessage, type AttemptDeps, type RetryClassification, type WorkerMetrics } from './attempt.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import type { MailerLease } from './mailer-source.js';
import { MailboxRateLimiter } from './rate-limiter.js';
import { DEFAULT_RECIPIENT_BUDGET, RecipientBudget, type RecipientBudgetOptions } from './recipient-budget.js';
import type { Scheduler } from './scheduler.js';
import { DeliveryPause, pausesDelivery, type PauseInfo } from './delivery-pause.js';

export type { RetryClassification } from './attempt.js';

export interface WorkerOptions {
  /** Unique per worker process: the lease owner. */
  owner: string;
  leaseMs: number;
  /** Messages in flight per mailbox (1..3): the SMTP connections the mailer may use for them. */
  maxInFlight: number;
  /**
   * Messages per mailbox handed to the mailer beyond `maxInFlight`, which wait in its pool for
   * a free connection (the pool itself never opens more than its ≤ 3 connections). Default 0.
   * With a delivery thread, a connection that finishes a message starts the next one at once
   * instead of waiting for the main thread's turn to hand it over. Only once the current
   * settings have delivered a message (a refused configuration must not meet 29 queued sends),
   * only while no replaced mailer is still finishing sends (its connections count against the
   * mailbox's 3), and only up to QUEUE_AHEAD_MAX_BYTES of payload.
   */
  queueAhead?: number;
  ratePerMinute: number;
  rateBurst?: number;
  /** Most messages held (buffered + in flight) at once. Default 32. */
  prefetch?: number;
  /** How often to look for due messages when not woken. Default 1000 ms. */
  pollIntervalMs?: number;
  backoff?: BackoffOptions;
  budget?: RecipientBudgetOptions;
  /** How long a message that would exceed the recipient budget waits. Default 5 min. */
  budgetDeferMs?: number;
}

export type { WorkerMetrics } from './attempt.js';

/** Payload bytes handed to the mailer at once beyond maxInFlight (queue-ahead), at most. */
export const QUEUE_AHEAD_MAX_BYTES = 16 * 1024 * 1024;

export interface WorkerDeps {
  store: OutboxStore;
  mailers: { acquire(): MailerLease | undefined; ready(): boolean };
  scheduler: Scheduler;
  logger: Logger;
  classify: (error: unknown) => RetryClassification;
  diagnose?: (error: unknown, ctx: DiagnosisContext) => Diagnosis;
  metrics?: WorkerMetrics;
  random?: () => number;
  /**
   * Whether this instance may claim now (PostgreSQL with several instances: it owns the
   * signed-in mailbox's delivery, see outbox/postgres/pg-ownership.ts). Absent: always.
   */
  mayClaim?: () => boolean;
}

export interface WorkerActivity {
  buffered: number;
  inFlight: number;
  claiming: boolean;
  /** Delivery paused after a configuration failure (see delivery-pause.ts). */
  paused?: PauseInfo;
}


export class DeliveryWorker {
  readonly #o: Required<Omit<WorkerOptions, 'rateBurst'>> & { rateBurst?: number };
  /** Messages handed to the mailer at once per mailbox: connections plus the queue ahead. */
  readonly #handoff: number;
  readonly #d: WorkerDeps;
  readonly #limiter: MailboxRateLimiter;
  readonly #budget: RecipientBudget;
  #buffer: ClaimedMessage[] = [];
  readonly #inFlight = new Map<string, Promise<void>>();
  /** The messages being delivered, by id (their lease can be adopted by a later claim). */
  readonly #sending = new Map<string, ClaimedMessage>();
  readonly #perMailbox = new Map<string, number>();
  /** Sends in flight per mailer object (a replaced mailer may still be finishing some). */
  readonly #perMailer = new Map<object, number>();
  /** Payload bytes of the sends in flight. */
  #inFlightBytes = 0;
  /** Settings (by identity, one object per settings version) that delivered a message. */
  #proven = new WeakSet<object>();
  /** In flight, SMTP part over, result not committed yet. */
  readonly #recording = new Set<string>();
  #claiming = false;
  /** The last claim found less than it asked for: wait for a wake or the poll. */
  #drained = false;
  #running = false;
  #cancelPoll?: () => void;
  #cancelRate?: () => void;
  #cancelRenew?: () => void;
  #wakeScheduled = false;
  #claimDone: Promise<void> = Promise.resolve();
  /** Incremented by every wake, so a claim that started before it does not mark the queue drained. */
  #wakes = 0;
  /** The delivery pause after a configuration failure, tied to the settings that failed. */
  readonly #pause = new DeliveryPause();
  #cancelPause?: () => void;

  constructor(options: WorkerOptions, deps: WorkerDeps) {
    if (!(options.maxInFlight >= 1 && options.maxInFlight <= 3)) throw new Error('maxInFlight must be between 1 and 3 (Exchange Online allows 3 connections per mailbox)');
    this.#o = {
      ...options,
      prefetch: options.prefetch ?? 32,
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      budget: options.budget ?? DEFAULT_RECIPIENT_BUDGET,
      budgetDeferMs: options.budgetDeferMs ?? 300_000,
      queueAhead: Math.max(0, Math.floor(options.queueAhead ?? 0)),
    };
    this.#handoff = this.#o.maxInFlight + this.#o.queueAhead;
    this.#d = deps;
    this.#limiter = new MailboxRateLimiter({ ratePerMinute: options.ratePerMinute, burst: options.rateBurst });
    this.#budget = new RecipientBudget(deps.store, this.#o.budget);
  }

  get owner(): string {
    return this.#o.owner;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedulePoll();
    this.#scheduleRenew();
    this.#pump();
  }

  /** Look for due messages now (after an enqueue); coalesced to one pump per event-loop turn. */
  wake(): void {
    this.#drained = false;
    this.#wakes++;
    this.#pumpSoon();
  }

  #pumpSoon(): void {
    if (this.#wakeScheduled || !this.#running) return;
    this.#wakeScheduled = true;
    queueMicrotask(() => {
      this.#wakeScheduled = false;
      this.#pump();
    });
  }

  /**
   * Sends another instance made for `mailbox` in the last minute (this instance just took over
   * its delivery): the rate limit counts them, so the minute of a handover stays within it.
   */
  seedRate(mailbox: string, sentAt: number[]): void {
    this.#limiter.bucket(mailbox.toLowerCase()).seed(sentAt, this.#d.scheduler.now());
  }

  /**
   * End a delivery pause now (an administrator fixed the cause and retried a message): the next
   * message probes the configuration at once instead of waiting for the pause to end.
   */
  resume(): void {
    this.#endPause('resumed by an administrator');
    this.wake();
  }

  activity(): WorkerActivity {
    const paused = this.#pause.info;
    return { buffered: this.#buffer.length, inFlight: this.#inFlight.size, claiming: this.#claiming, ...(paused ? { paused } : {}) };
  }

  isIdle(): boolean {
    return this.#buffer.length === 0 && this.#inFlight.size === 0 && !this.#claiming;
  }

  /**
   * Stop claiming, give buffered messages back, and wait up to `graceMs` for sends in flight.
   * Sends still running after that keep their lease, which expires; they are retried then.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.#running = false;
    this.#cancelPoll?.();
    this.#cancelRate?.();
    this.#cancelPause?.();
    await this.#claimDone;
    const now = this.#d.scheduler.now();
    const buffered = this.#buffer.splice(0);
    await Promise.all(buffered.map((m) => this.#d.store.release(m.lease, now).catch(() => false)));
    if (this.#inFlight.size) {
      let cancel: (() => void) | undefined;
      const timeout = new Promise<void>((r) => {
        cancel = this.#d.scheduler.setTimer(r, graceMs);
      });
      await Promise.race([Promise.allSettled([...this.#inFlight.values()]), timeout]);
      cancel?.();
    }
    this.#cancelRenew?.();
  }

  #schedulePoll(): void {
    this.#cancelPoll = this.#d.scheduler.setTimer(() => {
      this.#drained = false;
      this.#pump();
      if (this.#running) this.#schedulePoll();
    }, this.#o.pollIntervalMs);
  }

  #scheduleRenew(): void {
    this.#cancelRenew = this.#d.scheduler.setTimer(() => {
      void this.#renewLeases();
      if (this.#running || this.#inFlight.size) this.#scheduleRenew();
    }, Math.max(10, Math.floor(this.#o.leaseMs / 3)));
  }

  async #renewLeases(): Promise<void> {
    // Messages whose send is over but whose result is not committed yet (recordSent retries
    // while the disk is full) are renewed too: if their lease ran out, they would be claimed and
    // sent again while the first send's result is still waiting to be written.
    const held = [...this.#buffer.map((m) => m.id), ...this.#inFlight.keys()];
    if (!held.length) return;
    const until = this.#d.scheduler.now() + this.#o.leaseMs;
    try {
      const kept = new Set(await this.#d.store.renewLeases(this.#o.owner, held, until));
      this.#buffer = this.#buffer.filter((m) => {
        if (kept.has(m.id)) m.leaseExpiresAt = until;
        return kept.has(m.id);
      });
      // A recording message not kept was usually just committed; a lost lease there is
      // reported by recordSent (markSent answers false).
      for (const id of held) if (!kept.has(id) && this.#inFlight.has(id) && !this.#recording.has(id)) this.#d.logger.warn({ messageId: id }, 'lease lost while sending; the message may be delivered twice (same Message-ID)');
    } catch (error) {
      const recording = held.filter((id) => this.#recording.has(id));
      if (recording.length) {
        // The renewal is a write too, and a full disk refuses it: at-least-once applies.
        this.#d.logger.error({ err: error, messageIds: recording }, 'could not renew leases; messages already sent whose result is not recorded yet may be sent again when their lease expires (at-least-once, same Message-ID)');
      } else {
        this.#d.logger.error({ err: error }, 'could not renew leases');
      }
    }
  }

  /**
   * How many messages to hold (claimed, buffered or in flight): enough for the connections and
   * the queue-ahead, or half a lease's worth at the rate if more, up to `prefetch`.
   */
  #wanted(): number {
    const perHalfLease = Math.ceil((this.#o.ratePerMinute * this.#o.leaseMs) / 120_000);
    return Math.min(this.#o.prefetch, Math.max(this.#handoff, perHalfLease));
  }

  #pump(): void {
    if (!this.#running) return;
    while (this.#buffer.length) {
      const now = this.#d.scheduler.now();
      const head = this.#buffer[0];
      if (head.leaseExpiresAt <= now) {
        this.#buffer.shift(); // lease lost while buffered: another worker may have it
        continue;
      }
      if (head.expiresAt <= now) {
        this.#buffer.shift();
        this.#track(head, expireMessage(this.#attemptDeps(), head, now));
        continue;
      }
      const lease = this.#d.mailers.acquire();
      if (!lease) {
        // The settings became unusable: give the buffered messages back.
        for (const m of this.#buffer.splice(0)) void this.#d.store.release(m.lease, now).catch(() => false);
        break;
      }
      if (this.#pause.info) {
        if (!this.#pause.isFor(lease.settings)) this.#endPause('the Email Settings changed');
        else if (this.#pause.holds(now, this.#inFlight.size)) {
          // Paused, or the probe after a pause is still out: hold the queue.
          for (const m of this.#buffer.splice(0)) void this.#d.store.release(m.lease, now).catch(() => false);
          break;
        }
      }
      const mailbox = lease.settings.authorizedFrom.toLowerCase();
      const bucket = this.#limiter.bucket(mailbox);
      const inMailbox = this.#perMailbox.get(mailbox) ?? 0;
      const byOtherMailers = inMailbox - (this.#perMailer.get(lease.mailer) ?? 0);
      const ahead = byOtherMailers === 0 && this.#proven.has(lease.settings) && this.#inFlightBytes < QUEUE_AHEAD_MAX_BYTES;
      if (inMailbox >= (ahead ? this.#handoff : this.#o.maxInFlight)) {
        break;
      }
      if (!bucket.tryTake(now)) {
        this.#scheduleRateWake(bucket.msUntilNext(now));
        break;
      }
      this.#buffer.shift();
      this.#perMailbox.set(mailbox, inMailbox + 1);
      const mailer = lease.mailer;
      this.#perMailer.set(mailer, (this.#perMailer.get(mailer) ?? 0) + 1);
      const bytes = head.payload.length;
      this.#inFlightBytes += bytes;
      const done = deliverMessage(this.#attemptDeps(), head, lease, {
        untake: () => bucket.giveBack(),
        sendSettled: () => {
          this.#recording.add(head.id);
          this.#perMailbox.set(mailbox, (this.#perMailbox.get(mailbox) ?? 1) - 1);
          const left = (this.#perMailer.get(mailer) ?? 1) - 1;
          if (left > 0) this.#perMailer.set(mailer, left);
          else this.#perMailer.delete(mailer);
          this.#inFlightBytes -= bytes;
          this.#pumpSoon();
        },
        failedPermanently: (code, summary, reply) => {
          if (!pausesDelivery(code, reply)) return undefined;
          return this.#startPause(code, summary, lease.settings) ? undefined : 'held';
        },
        requeued: () => this.wake(),
        delivered: () => {
          this.#proven.add(lease.settings);
          if (this.#pause.isFor(lease.settings)) this.#endPause('a message was delivered');
        },
      });
      this.#track(head, done);
    }
    const held = this.#buffer.length + this.#inFlight.size;
    const wanted = this.#wanted();
    // Refill once half of what we hold is gone, not after every send: each claim is a commit,
    // and a claim of one per finished message doubled the store's commits during a burst.
    if (!this.#claiming && !this.#drained && this.#buffer.length <= this.#handoff && held <= Math.floor(wanted / 2)) {
      this.#claimDone = this.#claim(wanted - held);
    }
  }

  /** Start the pause; false when it was already running for these settings (the same incident). */
  #startPause(code: string, summary: string | undefined, settings: unknown): boolean {
    // These settings are no longer known to work: no queue-ahead until one is delivered again.
    if (settings !== null && typeof settings === 'object') this.#proven.delete(settings);
    const lengthMs = this.#pause.start(code, summary, settings, this.#d.scheduler.now());
    if (lengthMs === undefined) return false; // the same incident: one pause
    this.#cancelPause?.();
    this.#cancelPause = this.#d.scheduler.setTimer(() => this.#pump(), lengthMs);
    this.#d.logger.error({ code, pauseMs: lengthMs }, `delivery paused: the configuration was refused (${code}); queued messages wait until the Email Settings change or the pause ends`);
    return true;
  }

  #endPause(reason: string): void {
    const code = this.#pause.end();
    if (code === undefined) return;
    this.#d.logger.info({ code }, `delivery resumed: ${reason}`);
    this.#cancelPause?.();
    this.#cancelPause = undefined;
  }

  /** Secret values per settings object (one per settings version), computed once. */
  readonly #secrets = new WeakMap<EmailSettings, string[]>();

  #secretsOf(settings: EmailSettings): string[] {
    let v = this.#secrets.get(settings);
    if (!v) this.#secrets.set(settings, (v = secretValues(settings)));
    return v;
  }

  #attemptDepsCache?: AttemptDeps;

  #attemptDeps(): AttemptDeps {
    return (this.#attemptDepsCache ??= {
      store: this.#d.store,
      scheduler: this.#d.scheduler,
      logger: this.#d.logger,
      classify: this.#d.classify,
      diagnose: this.#d.diagnose,
      metrics: this.#d.metrics,
      secrets: (settings) => this.#secretsOf(settings),
      random: this.#d.random ?? Math.random,
      backoff: this.#o.backoff,
      budget: this.#budget,
      budgetDeferMs: this.#o.budgetDeferMs,
    });
  }

  #scheduleRateWake(ms: number): void {
    this.#cancelRate?.();
    this.#cancelRate = this.#d.scheduler.setTimer(() => this.#pump(), Math.max(1, ms));
  }

  #track(m: ClaimedMessage, p: Promise<void>): void {
    this.#sending.set(m.id, m);
    const tracked = p
      .catch((error: unknown) => this.#d.logger.error({ messageId: m.id, err: error }, 'delivery bookkeeping failed; the lease will expire and the message will be retried'))
      .finally(() => {
        this.#sending.delete(m.id);
        this.#inFlight.delete(m.id);
        this.#recording.delete(m.id);
        this.#pump();
      });
    this.#inFlight.set(m.id, tracked);
  }

  /** Whether delivery is paused for the settings in effect now (ends the pause when they changed). */
  #pausedNow(): boolean {
    if (!this.#pause.info) return false;
    const lease = this.#d.mailers.acquire();
    const current = lease?.settings;
    if (current !== undefined && !this.#pause.isFor(current)) {
      this.#endPause('the Email Settings changed');
      return false;
    }
    return this.#pause.holds(this.#d.scheduler.now(), this.#inFlight.size);
  }

  async #claim(limit: number): Promise<void> {
    if (!this.#d.mailers.ready() || this.#pausedNow() || this.#d.mayClaim?.() === false) {
      // Nothing is claimed while paused: the queue stays untouched (status queued).
      this.#drained = true;
      return;
    }
    this.#claiming = true;
    const wakes = this.#wakes;
    try {
      const claimed = await this.#d.store.claim({ owner: this.#o.owner, limit, now: this.#d.scheduler.now(), leaseMs: this.#o.leaseMs });
      const local = new Map<string, ClaimedMessage>([...this.#sending, ...this.#buffer.map((m) => [m.id, m] as const)]);
      for (const m of claimed) {
        const mine = local.get(m.id);
        if (mine) {
          // Our own lease expired (a stalled event loop, a failed renewal) and the claim took the
          // message back while we still hold it: adopt the new lease, so the send in flight
          // records its outcome under it instead of losing it and sending the message again.
          mine.lease = m.lease;
          mine.leaseExpiresAt = m.leaseExpiresAt;
          continue;
        }
        if (m.reclaimed) this.#d.logger.info({ messageId: m.id, attempt: m.lease.attempt }, 'took over a message whose lease expired');
        this.#buffer.push(m);
      }
      if (claimed.length < limit && wakes === this.#wakes) this.#drained = true;
    } catch (error) {
      this.#drained = true;
      this.#d.logger.error({ err: error }, 'claiming messages failed; retrying at the next poll');
    } finally {
      this.#claiming = false;
    }
    this.#pump();
  }
}
