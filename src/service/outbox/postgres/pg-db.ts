/**
 * The PostgreSQL connections of the store: two pools over one database, error mapping, stats.
 *
 * Why two pools: the store keeps SQLite's split between durable commits (enqueue, settings, keys:
 * a 202 or a saved setting must survive a crash, so they commit with `synchronous_commit = on`,
 * or whatever stronger level the operator configured for replication) and bookkeeping commits
 * (claims, lease renewals, delivery results, "last used" stamps: `synchronous_commit = off`,
 * flushed by the WAL writer within about 3 × wal_writer_delay, 600 ms by default). A lost
 * bookkeeping commit after a database crash only means a message is claimed again and, if its
 * result was lost, sent again with the same Message-ID: the at-least-once promise SQLite makes
 * with its 200 ms sync window. One pool per kind sets the level once per connection, so every
 * write stays a single round trip.
 *
 * Errors: a lost or refused connection (the database is down, restarting, unreachable) becomes
 * StoreUnavailableError, a full disk (SQLSTATE 53100) StorageFullError, so callers answer 503
 * with Retry-After instead of 500.
 *
 * Imports: pg, ../store.
 */
import pg from 'pg';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { StorageFullError, StoreUnavailableError } from '../store.js';

/** bigint (int8) columns are epoch ms and counts: JavaScript numbers, exact up to 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

export interface PgOptions {
  /** postgres://user:password@host:port/database (MAILGATE_DATABASE_URL). */
  url: string;
  /** Use this schema instead of the connection's default search_path (tests: one per test). */
  schema?: string;
  /** Connections of the durable pool (default 10); the bookkeeping pool has half as many. */
  maxConnections?: number;
  /** Give up connecting after this long (default 5 s): readiness must answer, not hang. */
  connectTimeoutMs?: number;
}

export interface PgWriteStats {
  /** Commits (every write is one). */
  batches: number;
  writes: number;
  /** Commits that waited for the WAL flush (synchronous_commit on or stronger). */
  durableBatches: number;
  syncs: number;
  /** Writes refused because the database's disk is full. */
  fullWrites: number;
}

const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'ENOENT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Whether `error` means the database cannot be reached now (as opposed to a bad statement). */
export function isUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  if (!e) return false;
  if (typeof e.code === 'string') {
    if (UNAVAILABLE_ERRNO.has(e.code)) return true;
    // 08: connection exception; 57P01-57P03: shutting down, crashed, not accepting connections yet.
    if (e.code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(e.code)) return true;
  }
  const m = e.message ?? '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connect ECONNREFUSED|Connection ended/i.test(m);
}

export function mapPgError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError || error instanceof StorageFullError) return error;
  if ((error as { code?: string })?.code === '53100') return new StorageFullError('the PostgreSQL database is full (SQLSTATE 53100 disk_full)', { cause: error });
  if (isUnavailable(error)) return new StoreUnavailableError(`the PostgreSQL database cannot be reached: ${(error as Error).message}`, { cause: error });
  return error;
}

function poolConfig(o: PgOptions, max: number, bookkeeping: boolean): pg.PoolConfig {
  // The URL's own `options` (e.g. `-c search_path=mailgate`) are kept; ours come after and win.
  let fromUrl: string | null = null;
  try {
    fromUrl = new URL(o.url).searchParams.get('options');
  } catch {
    /* pg reports a malformed URL itself */
  }
  const options = [...(fromUrl ? [fromUrl] : []), `-c synchronous_commit=${bookkeeping ? 'off' : 'on'}`];
  // A schema name is validated by the caller (identifier characters only).
  if (o.schema) options.push(`-c search_path=${o.schema}`);
  return {
    connectionString: o.url,
    max,
    types,
    options: options.join(' '),
    application_name: 'mailgate',
    connectionTimeoutMillis: o.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    // A statement that hangs (a lock held by a stalled instance) must fail, not block forever.
    statement_timeout: 30_000,
  } as pg.PoolConfig;
}

export class PgDb {
  readonly durable: Pool;
  readonly bookkeeping: Pool;
  readonly stats: PgWriteStats = { batches: 0, writes: 0, durableBatches: 0, syncs: 0, fullWrites: 0 };
  #closed = false;
  /** Run first on every new durable connection (useLz4). */
  #durableSetup: string | undefined;

  constructor(readonly options: PgOptions, onIdleError: (error: Error) => void = () => undefined) {
    const max = options.maxConnections ?? 10;
    // The setup statement runs to completion before the pool hands a new connection out
    // (pg-pool's onConnect hook, awaited), so it never overlaps the caller's first query (pg 9
    // refuses a query on a busy client); a failure only loses the optimisation.
    this.durable = new pg.Pool({
      ...poolConfig(options, max, false),
      onConnect: async (c: pg.ClientBase) => {
        if (this.#durableSetup) await c.query(this.#durableSetup).catch(() => undefined);
      },
    });
    this.bookkeeping = new pg.Pool(poolConfig(options, Math.max(2, Math.ceil(max / 2)), true));
    // An idle connection dropped by the server (restart, failover) must not crash the process.
    this.durable.on('error', onIdleError);
    this.bookkeeping.on('error', onIdleError);
    // Nor one it drops while the connection is handed out: pg-pool takes its idle listener off
    // a connection it hands out (PgDb.tx, start-up's migration), and pg emits 'error' when the
    // server ends a connection with no query running (a shutdown's 57P01 arriving between two
    // statements of a transaction), which unheard was an uncaught exception that ended the
    // process. The error is not lost: the next statement on that connection fails with it
    // (#fail: a 503), and pg-pool discards a connection that is no longer queryable on release.
    for (const pool of [this.durable, this.bookkeeping]) pool.on('connect', (c) => c.on('error', () => undefined));
  }

  /**
   * Compress the payloads this store writes (durable pool: enqueues, test emails) with lz4
   * instead of pglz, on a server that has it (PostgreSQL 14+ built with lz4, as Debian's and the
   * official images are). Measured on ~11 KB messages: 53–82 µs of server CPU per row with pglz,
   * 12–25 µs with lz4, the same size stored (~800 B), and reading them back no slower. A session
   * setting, not a schema change: rows already stored keep their compression. `current` is a
   * connection already open in the durable pool.
   */
  async useLz4(current: PoolClient): Promise<boolean> {
    const r = await current.query<{ lz4: boolean }>(`SELECT 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'`);
    if (!r.rows[0]?.lz4) return false;
    this.#durableSetup = 'SET default_toast_compression = lz4';
    await current.query(this.#durableSetup);
    return true;
  }

  #count(write: { durable: boolean; writes?: number }): void {
    this.stats.batches++;
    this.stats.writes += write.writes ?? 1;
    if (write.durable) this.stats.durableBatches++;
  }

  #fail(error: unknown): never {
    const mapped = mapPgError(error);
    if (mapped instanceof StorageFullError) this.stats.fullWrites++;
    throw mapped;
  }

  /**
   * A read (or a single-statement write with `write` set), on the durable pool unless told
   * otherwise. `sql` may be a named statement ({ name, text }): each connection parses and plans
   * it once and then only binds and executes it (the hot paths: enqueue, claim, results).
   * `write.writes`: how many writes the statement holds (a group commit), for the stats.
   */
  async query<R extends QueryResultRow>(sql: string | { name?: string; text: string }, params: unknown[] = [], write?: { durable: boolean; writes?: number }): Promise<{ rows: R[]; rowCount: number }> {
    const pool = write && !write.durable ? this.bookkeeping : this.durable;
    try {
      const r = typeof sql === 'string' || sql.name === undefined
        ? await pool.query<R>(typeof sql === 'string' ? sql : sql.text, params)
        : await pool.query<R>({ name: sql.name, text: sql.text, values: params });
      if (write) this.#count(write);
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    } catch (error) {
      this.#fail(error);
    }
  }

  /** Several statements in one transaction (READ COMMITTED). */
  async tx<T>(fn: (c: PoolClient) => Promise<T>, write: { durable: boolean }): Promise<T> {
    let client: PoolClient;
    try {
      client = await (write.durable ? this.durable : this.bookkeeping).connect();
    } catch (error) {
      this.#fail(error);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      this.#count(write);
      return out;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      this.#fail(error);
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.durable.end(), this.bookkeeping.end()]);
  }
}
