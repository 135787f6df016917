/**
 * Group commit for SQLite: every write of the process goes through one queue, and all writes
 * that arrive while the event loop is busy are committed in one transaction.
 *
 * Why: a 202 may only be answered once the message is durable (synchronous=FULL: the commit
 * fsyncs the WAL). One fsync per request costs 0.5–5 ms on real disks; batching amortises it
 * over every request of the same event-loop turn. Following perf-calibration.md, the batch is
 * flushed on the next `setImmediate` (as soon as the current turn ends), not on a timer: a
 * fixed window only adds latency. Enqueues, claims and completions share the same commits.
 *
 * Writes are plain synchronous functions, so they can be replayed: when one throws, the whole
 * batch is rolled back and each write is run again in its own transaction, so only the failing
 * write fails (no per-write savepoints on the fast path). Promises resolve only after COMMIT
 * returned.
 *
 * Imports: better-sqlite3 types.
 */
import type { Database } from 'better-sqlite3';

interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface WriteQueueStats {
  batches: number;
  writes: number;
}

export class WriteQueue {
  readonly #db: Database;
  #pending: PendingWrite[] = [];
  #scheduled = false;
  #closed = false;
  readonly stats: WriteQueueStats = { batches: 0, writes: 0 };
  /** Cap per transaction, so one huge batch does not hold the write lock for long. */
  readonly #maxBatch: number;
  readonly #lazyWindowMs: number;
  #lazyTimer: NodeJS.Timeout | undefined;

  constructor(db: Database, options: { maxBatch?: number; lazyWindowMs?: number } = {}) {
    this.#db = db;
    this.#maxBatch = options.maxBatch ?? 512;
    this.#lazyWindowMs = options.lazyWindowMs ?? 5;
  }

  /**
   * Run `fn` inside the next group transaction; resolves with its result after COMMIT.
   * A `lazy` write (bookkeeping nobody waits for: delivery results, lease renewals) may wait up
   * to `lazyWindowMs` for company, so results trickling in one by one share commits; any eager
   * write (an enqueue, a claim) flushes everything pending at once.
   */
  write<T>(fn: () => T, options: { lazy?: boolean } = {}): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ run: fn, resolve: resolve as (v: unknown) => void, reject });
      if (this.#scheduled) return;
      if (options.lazy && this.#lazyWindowMs > 0) {
        this.#lazyTimer ??= setTimeout(() => {
          this.#lazyTimer = undefined;
          this.#schedule();
        }, this.#lazyWindowMs);
      } else {
        this.#schedule();
      }
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#lazyTimer) {
      clearTimeout(this.#lazyTimer);
      this.#lazyTimer = undefined;
    }
    setImmediate(() => this.#flush());
  }

  /** Commit whatever is pending now (used by close). */
  flushNow(): void {
    while (this.#pending.length) this.#flushBatch();
  }

  close(): void {
    if (this.#lazyTimer) clearTimeout(this.#lazyTimer);
    this.#lazyTimer = undefined;
    this.flushNow();
    this.#closed = true;
  }

  #flush(): void {
    this.#scheduled = false;
    this.#flushBatch();
    if (this.#pending.length) this.#schedule();
  }

  #flushBatch(): void {
    const batch = this.#pending.splice(0, this.#maxBatch);
    if (!batch.length) return;
    const db = this.#db;
    let values: unknown[];
    try {
      // Fast path: every write of the batch in one transaction, no savepoints.
      values = db.transaction(() => batch.map((p) => p.run())).immediate();
    } catch {
      // A write failed (a constraint, or the commit itself): the whole batch was rolled back.
      // Run each write in its own transaction so only the failing ones fail.
      for (const p of batch) {
        try {
          p.resolve(db.transaction(p.run).immediate());
        } catch (error) {
          p.reject(error);
        }
      }
      this.stats.batches += batch.length;
      this.stats.writes += batch.length;
      return;
    }
    this.stats.batches++;
    this.stats.writes += batch.length;
    for (let i = 0; i < batch.length; i++) batch[i].resolve(values[i]);
  }
}
