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
 *   worker's leases expire and another worker (or this one after restart) takes the messages;
 * - a result the store cannot record now (database unreachable, disk full) is kept in memory
 *   and written once the store answers, and nothing new is claimed before
 *   (unrecorded-results.ts), so a message sent during an outage is not sent again after it.
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
import { deliverMessage, expireMessage, isTransientStoreError, RECORD_SENT_RETRY_MS, type AttemptDeps, type RetryClassification, type WorkerMetrics } from './attempt.js';
import { UnrecordedResults } from './unrecorded-results.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { credentialFingerprint, type MailerLease } from './mailer-source.js';
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

/** How long a message of a sender that cannot send (incomplete settings) waits before it is looked at again. */
export const UNUSABLE_SENDER_DEFER_MS = 60_000;
/** While a scope is paused and others send, its messages go back to the queue for at least this long. */
export const PAUSED_RECHECK_MS = 5_000;

/** The pause scopes of a sender: its credential and its signed-in mailbox (with that credential). */
export function pauseScopes(s: EmailSettings): [string, string] {
  let v = scopeCache.get(s);
  if (!v) {
    const fp = credentialFingerprint(s);
    scopeCache.set(s, (v = [`cred:${fp}`, `mbox:${fp}|${s.authorizedFrom.toLowerCase()}`]));
  }
  return v;
}
const scopeCache = new WeakMap<EmailSettings, [string, string]>();

/**
 * Which scope a configuration failure pauses: the token endpoint refusing the credential, or TLS
 * to the endpoints, concern every sender of the credential; everything else (535 5.7.3, a
 * mailbox-wide reply, a sender's settings) the signed-in mailbox.
 */
export function pauseScopeOf(code: string, scopes: readonly [string, string] | readonly string[]): string {
  return code === 'TOKEN_REJECTED' || code === 'TOKEN_UNAVAILABLE' || code === 'TLS_FAILED' || code === 'STARTTLS_UNAVAILABLE' ? scopes[0] : scopes[1];
}

/** Payload bytes handed to the mailer at once beyond maxInFlight (queue-ahead), at most. */
export const QUEUE_AHEAD_MAX_BYTES = 16 * 1024 * 1024;

export interface WorkerDeps {
  store: OutboxStore;
  /**
   * The mailer of a message's sender (`acquire(sender)`; the default sender when absent), and
   * the senders in effect (`senders()`, issue 16; absent: one sender).
   */
  mailers: { acquire(sender?: string): MailerLease | undefined; ready(): boolean; senders?(): (string | undefined)[] };
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
  /**
   * Senders (lower case; '' for messages without a sender) this instance must not deliver for
   * now: their signed-in mailbox's delivery is owned by another instance (PostgreSQL, several
   * senders: each signed-in mailbox has its own owner). Their due messages and expired leases
   * are left out of every claim (the holder of such a lease may still record its result late);
   * one of theirs buffered when the ownership moved goes back to the queue at once, for the
   * owner. Absent: every sender.
   */
  notOwnedSenders?: () => readonly string[];
}

export interface WorkerActivity {
  buffered: number;
  inFlight: number;
  claiming: boolean;
  /** Delivery paused after a configuration failure (see delivery-pause.ts). */
  paused?: PauseInfo;
  /** Delivery results kept in memory because the store could not record them (unrecorded-results.ts). */
  unrecorded?: number;
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
  /** Results the store refused for now: written before anything new is claimed. */
  readonly #unrecorded: UnrecordedResults;
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
  /**
   * The delivery pauses after a configuration failure, one per scope (issue 16): a refused
   * credential pauses every sender using it (`cred:`), a refused mailbox every sender signing in
   * as it (`mbox:`); the other senders go on. Each is tied to the failing sender's settings:
   * when that sender's settings change, its pause ends.
   */
  readonly #pauses = new Map<string, { pause: DeliveryPause; sender: string; settings: EmailSettings; cancel?: () => void }>();
  /** Sends in flight per pause scope (the probe after a pause is one of them). */
  readonly #perScope = new Map<string, number>();

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
    this.#unrecorded = new UnrecordedResults({
      store: deps.store, logger: deps.logger, scheduler: deps.scheduler, isTransient: isTransientStoreError,
      retryMs: RECORD_SENT_RETRY_MS, onEmpty: () => this.wake(),
    });
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
   * Messages handed to the mailer for the signed-in `mailbox` whose SMTP part is not over yet
   * (PostgreSQL: an instance hands a mailbox's delivery over only when this is 0).
   */
  sendingFor(mailbox: string): number {
    return this.#perMailbox.get(mailbox.toLowerCase()) ?? 0;
  }

  /**
   * End a delivery pause now (an administrator fixed the cause and retried a message): the next
   * message probes the configuration at once instead of waiting for the pause to end.
   */
  resume(): void {
    for (const sc of [...this.#pauses.keys()]) this.#endPause(sc, 'resumed by an administrator');
    this.wake();
  }

  activity(): WorkerActivity {
    const paused = [...this.#pauses.values()].map((p) => p.pause.info).find((i) => i !== undefined);
    const unrecorded = this.#unrecorded.size;
    return { buffered: this.#buffer.length, inFlight: this.#inFlight.size, claiming: this.#claiming, ...(paused ? { paused } : {}), ...(unrecorded ? { unrecorded } : {}) };
  }

  /** Delivery results recorded late (kept while the store refused them) and late results dropped, since start. */
  lateResults(): { recorded: number; dropped: number; kept: number } {
    return { ...this.#unrecorded.counts, kept: this.#unrecorded.size };
  }

  isIdle(): boolean {
    return this.#buffer.length === 0 && this.#inFlight.size === 0 && !this.#claiming && this.#unrecorded.size === 0;
  }

  /**
   * Stop claiming, give buffered messages back, and wait up to `graceMs` for sends in flight.
   * Sends still running after that keep their lease, which expires; they are retried then.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.#running = false;
    this.#cancelPoll?.();
    this.#cancelRate?.();
    for (const p of this.#pauses.values()) p.cancel?.();
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
    // Results the store refused: one last try, then they are lost with this process (their
    // messages are sent again once their leases lapse, same Message-ID).
    if (this.#unrecorded.size) await this.#unrecorded.flush();
    this.#unrecorded.stop();
    if (this.#unrecorded.size) this.#d.logger.error({ messageIds: this.#unrecorded.ids() }, 'stopping with delivery results the store could not record; these messages are tried again when their leases expire (same Message-ID)');
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
    // Kept results (unrecorded-results.ts) too, while the store answers renewals.
    const held = [...this.#buffer.map((m) => m.id), ...this.#inFlight.keys(), ...this.#unrecorded.ids()];
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
      const recording = held.filter((id) => this.#recording.has(id) || this.#unrecorded.has(id));
      if (recording.length) {
        // The renewal is a write too, and a full disk refuses it. This instance records these
        // results before it claims anything, but another instance taking their mailbox over
        // (PostgreSQL) once their leases lapsed would send them again: at-least-once applies.
        this.#d.logger.error({ err: error, messageIds: recording }, 'could not renew leases; messages already sent whose result is not recorded yet are recorded before this instance claims anything, but another instance taking their mailbox over after their lease expires may send them again (at-least-once, same Message-ID)');
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
    let rateWait = Infinity;
    /** Senders that cannot take a message now (full, rate-limited): their later messages wait in the buffer. */
    const blocked = new Set<string>();
    /** Of those, the ones waiting for their rate (or paused), not just for a free connection. */
    const slow = new Set<string>();
    /** Paused senders and when their messages are looked at again (each of their messages goes back to the queue). */
    const paused = new Map<string, number>();
    const notOwned = new Set(this.#d.notOwnedSenders?.() ?? []);
    // Each buffered message is looked at in order; one that its mailbox cannot take now is
    // skipped, not waited for, so a slow, full or paused mailbox never holds up the others
    // (issue 16). Within one sender the order stays first in, first out.
    for (let i = 0; i < this.#buffer.length; ) {
      const now = this.#d.scheduler.now();
      const head = this.#buffer[i];
      if (head.leaseExpiresAt <= now) {
        this.#buffer.splice(i, 1); // lease lost while buffered: another worker may have it
        continue;
      }
      if (head.expiresAt <= now) {
        this.#buffer.splice(i, 1);
        this.#track(head, expireMessage(this.#attemptDeps(), head, now));
        continue;
      }
      const senderKey = head.sender ?? '';
      if (notOwned.has(senderKey)) {
        // Another instance delivers for this sender's mailbox (a lease we took over, or an
        // ownership we lost while it was buffered): back to the queue for the owner, untouched.
        this.#buffer.splice(i, 1);
        void this.#d.store.release(head.lease, now).catch(() => false);
        continue;
      }
      const pausedUntil = paused.get(senderKey);
      if (pausedUntil !== undefined) {
        this.#buffer.splice(i, 1);
        void this.#d.store.release(head.lease, pausedUntil).catch(() => false);
        continue;
      }
      if (blocked.has(senderKey)) {
        i++;
        continue;
      }
      const lease = this.#d.mailers.acquire(head.sender);
      if (!lease) {
        if (!this.#d.mailers.ready()) {
          // The settings became unusable: give the buffered messages back.
          for (const m of this.#buffer.splice(0)) void this.#d.store.release(m.lease, now).catch(() => false);
          break;
        }
        // This sender cannot send (its settings are incomplete, its credential unusable, or it
        // was removed): its message waits in the queue while the other senders go on.
        this.#buffer.splice(i, 1);
        this.#d.logger.warn({ messageId: head.id, sender: head.sender }, 'the message\'s sender cannot send now (see its settings); message returned to the queue for a minute');
        void this.#d.store.release(head.lease, now + UNUSABLE_SENDER_DEFER_MS).catch(() => false);
        continue;
      }
      const scopes = pauseScopes(lease.settings);
      const held = this.#heldBy(scopes, senderKey, lease.settings, now);
      if (held) {
        this.#buffer.splice(i, 1);
        // Paused: back to the queue, untouched, until the pause ends (at once when every sender
        // is paused: nothing is claimed then).
        const until = this.#allPaused(now) ? now : Math.max(held.until, now + PAUSED_RECHECK_MS);
        paused.set(senderKey, until);
        void this.#d.store.release(head.lease, until).catch(() => false);
        continue;
      }
      const mailbox = lease.settings.authorizedFrom.toLowerCase();
      const maxInFlight = Math.min(this.#o.maxInFlight, lease.limits?.maxConnections ?? 3);
      const handoff = maxInFlight + this.#o.queueAhead;
      const bucket = this.#limiter.bucket(mailbox, lease.limits?.ratePerMinute);
      const inMailbox = this.#perMailbox.get(mailbox) ?? 0;
      const byOtherMailers = inMailbox - (this.#perMailer.get(lease.mailer) ?? 0);
      const ahead = byOtherMailers === 0 && this.#proven.has(lease.settings) && this.#inFlightBytes < QUEUE_AHEAD_MAX_BYTES;
      if (inMailbox >= (ahead ? handoff : maxInFlight)) {
        blocked.add(senderKey);
        i++;
        continue;
      }
      if (!bucket.tryTake(now)) {
        rateWait = Math.min(rateWait, bucket.msUntilNext(now));
        blocked.add(senderKey);
        slow.add(senderKey);
        i++;
        continue;
      }
      this.#buffer.splice(i, 1);
      this.#perMailbox.set(mailbox, inMailbox + 1);
      for (const sc of scopes) this.#perScope.set(sc, (this.#perScope.get(sc) ?? 0) + 1);
      const mailer = lease.mailer;
      this.#perMailer.set(mailer, (this.#perMailer.get(mailer) ?? 0) + 1);
      const bytes = head.payload.length;
      this.#inFlightBytes += bytes;
      const done = deliverMessage(this.#attemptDeps(), head, lease, {
        untake: () => bucket.giveBack(),
        sendSettled: () => {
          // A sender left out of the last claim has room again: look for its messages.
          if (this.#excluded.has(senderKey)) this.#drained = false;
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
          return this.#startPause(code, summary, senderKey, lease.settings, pauseScopeOf(code, scopes)) ? undefined : 'held';
        },
        requeued: () => this.wake(),
        delivered: () => {
          this.#proven.add(lease.settings);
          for (const sc of scopes) if (this.#pauses.get(sc)?.settings === lease.settings) this.#endPause(sc, 'a message was delivered');
        },
      });
      this.#track(head, done, () => {
        for (const sc of scopes) {
          const n = (this.#perScope.get(sc) ?? 1) - 1;
          if (n > 0) this.#perScope.set(sc, n);
          else this.#perScope.delete(sc);
        }
      });
    }
    if (rateWait !== Infinity) this.#scheduleRateWake(rateWait);
    // Fairness across senders (issue 16): with several senders, the buffered messages of a
    // sender waiting for its rate, and those beyond a full mailbox's hand-off, do not count as
    // held, and the claim leaves that sender's due messages in the queue, so a slow or
    // rate-limited mailbox never fills the buffer while others have messages due. With one
    // sender, nothing changes. The buffer holds at most twice the prefetch.
    let waiting = 0;
    const exclude: string[] = [];
    if ((blocked.size || paused.size) && (this.#d.mailers.senders?.().length ?? 1) > 1) {
      exclude.push(...paused.keys());
      const per = new Map<string, number>();
      for (const m of this.#buffer) per.set(m.sender ?? '', (per.get(m.sender ?? '') ?? 0) + 1);
      for (const snd of blocked) {
        const n = per.get(snd) ?? 0;
        if (slow.has(snd)) {
          waiting += n;
          exclude.push(snd);
        } else if (n >= this.#handoff) {
          waiting += n - this.#handoff;
          exclude.push(snd);
        }
      }
    }
    const held = this.#buffer.length - waiting + this.#inFlight.size;
    const wanted = this.#wanted();
    // Refill once half of what we hold is gone, not after every send: each claim is a commit,
    // and a claim of one per finished message doubled the store's commits during a burst.
    if (!this.#claiming && !this.#drained && this.#buffer.length - waiting <= this.#handoff && held <= Math.floor(wanted / 2) && this.#buffer.length < 2 * this.#o.prefetch) {
      this.#excluded = new Set(exclude);
      this.#claimDone = this.#claim(Math.min(wanted - held, 2 * this.#o.prefetch - this.#buffer.length), exclude);
    }
  }

  /** The senders the last claim left out (their mailbox was full or waiting for its rate). */
  #excluded = new Set<string>();

  /** The pause holding a sender now (its credential's or its mailbox's), ending the ones whose settings changed. */
  #heldBy(scopes: readonly string[], sender: string, settings: EmailSettings, now: number): { until: number } | undefined {
    for (const sc of scopes) {
      const p = this.#pauses.get(sc);
      if (!p) continue;
      if (p.sender === sender && p.settings !== settings) {
        this.#endPause(sc, 'the sender\'s settings changed');
        continue;
      }
      if (p.pause.holds(now, this.#perScope.get(sc) ?? 0)) return { until: p.pause.info?.until ?? now };
    }
    return undefined;
  }

  /** Whether every sender in effect is held by a pause (then nothing is claimed, as with one sender). */
  #allPaused(now: number): boolean {
    if (!this.#pauses.size) return false;
    const senders = this.#d.mailers.senders?.() ?? [undefined];
    if (!senders.length) return false;
    for (const s of senders) {
      const lease = this.#d.mailers.acquire(s);
      if (!lease) continue;
      if (!this.#heldBy(pauseScopes(lease.settings), s ?? '', lease.settings, now)) return false;
    }
    return true;
  }

  /** Start the pause of a scope; false when it was already running for these settings (the same incident). */
  #startPause(code: string, summary: string | undefined, sender: string, settings: EmailSettings, scope: string): boolean {
    // These settings are no longer known to work: no queue-ahead until one is delivered again.
    this.#proven.delete(settings);
    let p = this.#pauses.get(scope);
    if (p && p.sender === sender && p.settings !== settings) {
      this.#endPause(scope, 'the sender\'s settings changed');
      p = undefined;
    }
    if (!p) {
      p = { pause: new DeliveryPause(), sender, settings };
      this.#pauses.set(scope, p);
    }
    const lengthMs = p.pause.start(code, summary, settings, this.#d.scheduler.now());
    if (lengthMs === undefined) return false; // the same incident: one pause
    p.cancel?.();
    p.cancel = this.#d.scheduler.setTimer(() => this.#pump(), lengthMs);
    this.#d.logger.error({ code, pauseMs: lengthMs, sender: sender || undefined, scope: scope.startsWith('cred:') ? 'credential' : 'mailbox', mailbox: settings.authorizedFrom }, `delivery paused: the configuration was refused (${code}); queued messages of the ${scope.startsWith('cred:') ? 'senders using this credential' : 'senders signing in as this mailbox'} wait until their settings change or the pause ends`);
    return true;
  }

  #endPause(scope: string, reason: string): void {
    const p = this.#pauses.get(scope);
    if (!p) return;
    this.#pauses.delete(scope);
    const code = p.pause.end();
    p.cancel?.();
    if (code === undefined) return;
    this.#d.logger.info({ code, mailbox: p.settings.authorizedFrom }, `delivery resumed: ${reason}`);
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
      keep: (r) => this.#unrecorded.keep(r),
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

  #track(m: ClaimedMessage, p: Promise<void>, onDone?: () => void): void {
    this.#sending.set(m.id, m);
    const tracked = p
      .catch((error: unknown) => this.#d.logger.error({ messageId: m.id, err: error }, 'delivery bookkeeping failed; the lease will expire and the message will be retried'))
      .finally(() => {
        onDone?.();
        this.#sending.delete(m.id);
        this.#inFlight.delete(m.id);
        this.#recording.delete(m.id);
        this.#pump();
      });
    this.#inFlight.set(m.id, tracked);
  }

  /** Whether delivery is paused for every sender in effect now (ends the pauses whose settings changed). */
  #pausedNow(): boolean {
    return this.#allPaused(this.#d.scheduler.now());
  }

  async #claim(limit: number, excludeSenders: string[] = []): Promise<void> {
    if (!this.#d.mailers.ready() || this.#pausedNow() || this.#d.mayClaim?.() === false) {
      // Nothing is claimed while paused: the queue stays untouched (status queued).
      this.#drained = true;
      return;
    }
    if (this.#unrecorded.size) {
      // Results the store refused are written first (their retry timer; its success wakes the
      // loop): a claim now could take their messages back once their leases lapsed and send
      // them again.
      this.#drained = true;
      return;
    }
    this.#claiming = true;
    const wakes = this.#wakes;
    try {
      // Senders whose mailbox another instance owns are left out too (their owner claims them).
      const exclude = [...new Set([...excludeSenders, ...(this.#d.notOwnedSenders?.() ?? [])])];
      const claimed = await this.#d.store.claim({ owner: this.#o.owner, limit, now: this.#d.scheduler.now(), leaseMs: this.#o.leaseMs, ...(exclude.length ? { excludeSenders: exclude } : {}) });
      const local = new Map<string, ClaimedMessage>([...this.#sending, ...this.#buffer.map((m) => [m.id, m] as const)]);
      for (const m of claimed) {
        // A result kept since the claim started (the store refused it): its message's lease had
        // lapsed and came back to us: the kept result is written under the new lease.
        if (this.#unrecorded.adopt(m.id, m.lease)) continue;
        const mine = local.get(m.id);
        if (mine && !m.reclaimed && this.#inFlight.has(m.id)) {
          // Not a lease we lost: our attempt already recorded its result (a retry due at once)
          // and only its bookkeeping is still finishing. The new attempt waits for it, so the two
          // never share the id's entries.
          const previous = this.#inFlight.get(m.id)!;
          void previous.then(() => {
            this.#buffer.push(m);
            this.#pump();
          });
          continue;
        }
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
