/**
 * Delivery results the store could not record (PostgreSQL unreachable, a full disk, a busy
 * SQLite), kept in memory and written as soon as the store answers again.
 *
 * Why: the instance that sent a message knows its outcome. Dropped, that outcome would be lost
 * with the lease: once the lease lapsed, a claim (this instance's own, after the outage) would
 * take the message back and send it again. Kept here, each result is written again every
 * `retryMs`, and the worker claims nothing new while any result is kept (worker.ts #claim), so
 * its own claims never take these rows back; a claim that was already running when a result was
 * kept hands its new lease over to the kept result (`adopt`). Their leases are renewed with the
 * worker's other leases while the store answers renewals.
 *
 * The late write is guarded by the claim, as every result is (the row's lease owner, its attempt
 * count and status 'sending', see the outbox stores), never by the lease's expiry: a lease that
 * lapsed and that nobody claimed since accepts it; a row another instance claimed meanwhile
 * (PostgreSQL: it took the mailbox over during a long outage) refuses it, so the late result
 * never overwrites that instance's outcome. Such a refusal is logged ("late delivery result
 * dropped"): the message may be delivered twice, with the same Message-ID. A refusal because
 * the first write did commit (its answer was lost with the connection) is recognised by the
 * attempt row and counts as recorded.
 *
 * Bounded: at most MAX_UNRECORDED results. Beyond that a result is not kept (logged as an
 * error) and its message is sent again after its lease lapses (same Message-ID), as before this
 * module. One worker holds at most twice its prefetch (buffered and in flight) and claims
 * nothing while results are kept, so one outage keeps far fewer.
 *
 * Imports: ../outbox/store, ../../log/logger, ./scheduler.
 */
import type { Logger } from '../../log/logger.js';
import type { Lease, OutboxStore } from '../outbox/store.js';
import type { Scheduler } from './scheduler.js';

/** Results kept at most (see the header). */
export const MAX_UNRECORDED = 5000;

export interface UnrecordedResult {
  /** The message id. */
  id: string;
  /** The claim the result is written under (a later claim of ours may replace it: `adopt`). */
  lease: Lease;
  /** The attempt outcome the write records ('sent', 'retry', 'failed', 'expired'). */
  outcome: string;
  /** Write the result under `lease`: true recorded, false the claim is no longer current. */
  write(lease: Lease): Promise<boolean>;
}

export interface UnrecordedResultsDeps {
  store: Pick<OutboxStore, 'get'>;
  logger: Logger;
  scheduler: Scheduler;
  /** Whether a refused write is worth trying again (attempt.ts isTransientStoreError). */
  isTransient: (error: unknown) => boolean;
  /** Every kept result was written (or dropped): the worker may claim again. */
  onEmpty: () => void;
  retryMs: number;
  max?: number;
}

export interface FlushCounts {
  recorded: number;
  dropped: number;
}

export class UnrecordedResults {
  readonly #d: UnrecordedResultsDeps;
  readonly #kept = new Map<string, UnrecordedResult>();
  #flushing: Promise<void> | undefined;
  #cancelTimer: (() => void) | undefined;
  /** Since the store last refused: results recorded late, and late results refused (dropped). */
  readonly counts: FlushCounts = { recorded: 0, dropped: 0 };

  constructor(d: UnrecordedResultsDeps) {
    this.#d = d;
  }

  get size(): number {
    return this.#kept.size;
  }

  has(id: string): boolean {
    return this.#kept.has(id);
  }

  ids(): string[] {
    return [...this.#kept.keys()];
  }

  /** Keep a result the store refused; false when MAX_UNRECORDED are kept already (not kept). */
  keep(r: UnrecordedResult): boolean {
    if (!this.#kept.has(r.id) && this.#kept.size >= (this.#d.max ?? MAX_UNRECORDED)) return false;
    this.#kept.set(r.id, r);
    this.#schedule();
    return true;
  }

  /** A claim of ours took a kept message back (its lease had lapsed): write under the new lease. */
  adopt(id: string, lease: Lease): boolean {
    const r = this.#kept.get(id);
    if (!r) return false;
    r.lease = lease;
    return true;
  }

  #schedule(): void {
    if (this.#cancelTimer || this.#flushing) return;
    this.#cancelTimer = this.#d.scheduler.setTimer(() => {
      this.#cancelTimer = undefined;
      void this.flush();
    }, this.#d.retryMs);
  }

  /** Write every kept result once (single flight); what the store still refuses stays kept. */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing;
    if (!this.#kept.size) return Promise.resolve();
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#flushing = this.#flushAll().finally(() => {
      this.#flushing = undefined;
      if (this.#kept.size) this.#schedule();
      else this.#d.onEmpty();
    });
    return this.#flushing;
  }

  async #flushAll(): Promise<void> {
    const before = { ...this.counts };
    let refused: unknown;
    await Promise.all([...this.#kept.values()].map(async (r) => {
      const lease = r.lease;
      try {
        if (await r.write(lease)) {
          this.#done(r);
          this.counts.recorded++;
          return;
        }
        if (r.lease !== lease) return; // adopted meanwhile: written under the new lease next time
        // Our first write may have committed although its answer was lost with the connection.
        const attempt = (await this.#d.store.get(r.id))?.attempts.find((a) => a.attempt === lease.attempt);
        this.#done(r);
        if (attempt?.outcome === r.outcome) {
          this.counts.recorded++;
          return;
        }
        this.counts.dropped++;
        this.#d.logger.warn({ messageId: r.id, attempt: lease.attempt, outcome: r.outcome },
          'late delivery result dropped: another instance claimed the message while this one could not record its result (it took the mailbox over during the database outage); the message may be delivered twice (same Message-ID)');
      } catch (error) {
        if (this.#d.isTransient(error)) {
          refused = error;
          return;
        }
        this.#done(r);
        this.#d.logger.error({ messageId: r.id, attempt: lease.attempt, err: error }, 'recording a kept delivery result failed (not retried); when the lease expires the message is tried again (same Message-ID)');
      }
    }));
    const recorded = this.counts.recorded - before.recorded;
    const dropped = this.counts.dropped - before.dropped;
    if (recorded || dropped) this.#d.logger.info({ recorded, dropped, stillKept: this.#kept.size }, 'delivery results kept while the store could not record them were written');
    if (refused && this.#kept.size) this.#d.logger.debug({ err: refused, kept: this.#kept.size }, 'the store still refuses the kept delivery results; trying again');
  }

  #done(r: UnrecordedResult): void {
    if (this.#kept.get(r.id) === r) this.#kept.delete(r.id);
  }

  stop(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }
}
