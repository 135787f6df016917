/**
 * Group commit for SQLite: every write of the process goes through one queue, and all writes
 * that arrive while the event loop is busy are committed in one transaction.
 *
 * Why: a 202 may only be answered once the message is durable (synchronous=FULL: the commit
 * fsyncs the WAL). One fsync per request costs 0.5–5 ms on real disks; batching amortises it
 * over every request of the same event-loop turn. Following docs/perf-calibration.md, the batch is
 * flushed on the next `setImmediate` (as soon as the current turn ends), not on a timer: a
 * fixed window only adds latency. Enqueues, claims and completions share the same commits.
 *
 * Durable and bookkeeping writes. Only some writes must survive a power loss the moment they
 * resolve: an enqueue (the 202 promises it), settings, API keys, audit. Claims, lease renewals
 * and delivery results are bookkeeping: after a process crash they are intact either way (WAL:
 * a committed transaction is in the OS's page cache), and after a power loss or kernel crash
 * losing the last of them means a message is sent again with the same Message-ID, never that a
 * message is lost. A batch with no durable write commits with synchronous=NORMAL (no fsync of
 * the WAL); the next durable commit's fsync covers its frames too (the WAL is one file written
 * in order), and if none comes within `syncWithinMs` a passive checkpoint syncs them. Measured on
 * the delivery path: an fsync per claim and per batch of results blocked the event loop for
 * most of SQLite's time per message.
 *
 * Writes are plain synchronous functions, so they can be replayed: when one throws, the whole
 * batch is rolled back and each write is run again in its own transaction, so only the failing
 * write fails (no per-write savepoints on the fast path). Promises resolve only after COMMIT
 * returned.
 *
 * A write that fails for lack of space (SQLITE_FULL, ENOSPC) rejects with the store-neutral
 * StorageFullError, counted in `stats.fullWrites`, and `onStorageFull` is told.
 *
 * Imports: better-sqlite3 types, ../store (StorageFullError), ./storage-space.
 */
import type { Database } from 'better-sqlite3';
import { StorageFullError } from '../store.js';
import { isStorageFull } from './storage-space.js';

interface PendingWrite {
  run: () => unknown;
  durable: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface WriteQueueStats {
  batches: number;
  writes: number;
  /** Batches committed with an fsync (synchronous=FULL). */
  durableBatches: number;
  /** Passive checkpoints run to sync bookkeeping no durable commit followed. */
  syncs: number;
  /** Writes refused because the disk is full. */
  fullWrites: number;
}

export class WriteQueue {
  readonly #db: Database;
  #pending: PendingWrite[] = [];
  #scheduled = false;
  #closed = false;
  readonly stats: WriteQueueStats = { batches: 0, writes: 0, durableBatches: 0, syncs: 0, fullWrites: 0 };
  /** Cap per transaction, so one huge batch does not hold the write lock for long. */
  readonly #maxBatch: number;
  readonly #lazyWindowMs: number;
  #lazyTimer: NodeJS.Timeout | undefined;
  readonly #syncWithinMs: number;
  #syncTimer: NodeJS.Timeout | undefined;
  /** The connection's current synchronous mode. */
  #full = true;
  /** Bookkeeping was committed without an fsync since the last durable commit or sync. */
  #unsynced = false;

  readonly #onStorageFull: (() => void) | undefined;

  constructor(db: Database, options: { maxBatch?: number; lazyWindowMs?: number; syncWithinMs?: number; onStorageFull?: () => void } = {}) {
    this.#db = db;
    this.#onStorageFull = options.onStorageFull;
    this.#maxBatch = options.maxBatch ?? 512;
    this.#lazyWindowMs = options.lazyWindowMs ?? 5;
    this.#syncWithinMs = options.syncWithinMs ?? 200;
  }

  /**
   * Run `fn` inside the next group transaction; resolves with its result after COMMIT.
   * A `lazy` write (bookkeeping nobody waits for: delivery results, lease renewals) may wait up
   * to `lazyWindowMs` for company, so results trickling in one by one share commits; any eager
   * write (an enqueue, a claim) flushes everything pending at once. A write that is not
   * `durable` (default: durable) is bookkeeping: see the header.
   */
  write<T>(fn: () => T, options: { lazy?: boolean; durable?: boolean } = {}): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ run: fn, durable: options.durable ?? true, resolve: resolve as (v: unknown) => void, reject });
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
    this.#sync();
    if (this.#syncTimer) clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    this.#closed = true;
  }

  #mode(full: boolean): void {
    if (this.#full === full) return;
    this.#db.pragma(full ? 'synchronous = FULL' : 'synchronous = NORMAL');
    this.#full = full;
  }

  /** Make every committed frame durable (a passive checkpoint syncs the WAL first). */
  #sync(): void {
    if (this.#syncTimer) clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    if (!this.#unsynced) return;
    try {
      this.#mode(true);
      // The WAL is synced before frames are copied; a checkpoint that could copy nothing (a
      // reader of another connection holds an old snapshot) may not have synced: try again.
      const [r] = this.#db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
      if (r && r.busy === 0 && r.checkpointed === r.log) {
        this.#unsynced = false;
        this.stats.syncs++;
      } else if (!this.#closed) {
        this.#syncTimer = setTimeout(() => this.#sync(), this.#syncWithinMs);
        this.#syncTimer.unref?.();
      }
    } catch {
      // The next durable commit syncs the WAL anyway.
    }
  }

  /** What a failed write rejects with: a full disk becomes StorageFullError. */
  #failure(error: unknown): unknown {
    if (!isStorageFull(error)) return error;
    this.stats.fullWrites++;
    this.#onStorageFull?.();
    return new StorageFullError(undefined, { cause: error });
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
    const durable = batch.some((p) => p.durable);
    this.#mode(durable);
    if (durable) {
      // This commit's fsync also covers the bookkeeping committed before it.
      this.stats.durableBatches++;
      this.#unsynced = false;
      if (this.#syncTimer) clearTimeout(this.#syncTimer);
      this.#syncTimer = undefined;
    } else {
      this.#unsynced = true;
      this.#syncTimer ??= setTimeout(() => this.#sync(), this.#syncWithinMs);
      this.#syncTimer.unref?.();
    }
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
          p.reject(this.#failure(error));
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
