/**
 * The PostgreSQL implementation of `Store` (node-postgres pools), for running several Mailgate
 * instances on one database (issue 18). `openPgStore({ url })` is the only entry point; the
 * service picks it when MAILGATE_DATABASE_URL is a postgres:// URL (./open-store.ts).
 *
 * Why: SQLite is one file on one machine; an identity platform's mail must survive the loss of
 * a machine, and such platforms already run PostgreSQL. The outbox and config halves live in
 * pg-outbox.ts and pg-config.ts; this file opens the pools, migrates (or checks the schema),
 * and wires them into one Store.
 *
 * Imports: ./pg-db, ./pg-migrate, ./pg-outbox, ./pg-config, ./pg-sessions, ../store.
 */
import { StorageFullError, type Store } from '../store.js';
import { PgDb, mapPgError, type PgOptions, type PgWriteStats } from './pg-db.js';
import { migratePg } from './pg-migrate.js';
import { PgConfig } from './pg-config.js';
import { PgOutbox } from './pg-outbox.js';
import { pgAdminSessions } from './pg-sessions.js';

export interface PgStore extends Store {
  readonly kind: 'postgres';
  /** The pools (diagnostics, tests, the ownership and notification modules). */
  readonly db: PgDb;
  /** Commits, counted like the SQLite write queue's (durable = synchronous commit). */
  readonly writeStats: PgWriteStats;
}

export interface OpenPgOptions extends PgOptions {
  /** 'auto' (default): apply pending migrations under the advisory lock; 'check': refuse to start when any is pending. */
  migrate?: 'auto' | 'check';
  /** Called when an idle connection breaks (the pool replaces it). */
  onIdleError?: (error: Error) => void;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Open the store: connect, create the schema if named, migrate. Rejects with a clear message when the database cannot be used. */
export async function openPgStore(o: OpenPgOptions): Promise<PgStore> {
  if (o.schema !== undefined && !SCHEMA_NAME.test(o.schema)) throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(o.schema)}`);
  const db = new PgDb(o, o.onIdleError);
  try {
    const client = await db.durable.connect().catch((error: unknown) => {
      throw mapPgError(error);
    });
    try {
      // A 202 means committed: refuse a server or role that turned synchronous_commit off for
      // our sessions behind our back (the pool sets it on; this proves the setting took).
      const sc = (await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0].synchronous_commit;
      if (sc === 'off') throw new Error('synchronous_commit is off for Mailgate\'s connections; a 202 would not mean committed');
      await migratePg(client, { check: o.migrate === 'check', ...(o.schema ? { schema: o.schema } : {}) });
      await db.useLz4(client);
    } finally {
      client.release();
    }
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  const outbox = new PgOutbox(db);
  const config = new PgConfig(db);
  let full = false;
  let closed = false;
  const watch = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    try {
      return await fn(...a);
    } catch (error) {
      if (error instanceof StorageFullError) full = true;
      throw error;
    }
  };

  return {
    kind: 'postgres',
    db,
    writeStats: db.stats,
    enqueue: watch((m) => outbox.enqueue(m)),
    claim: (c) => outbox.claim(c),
    renewLeases: (owner, ids, until) => outbox.renewLeases(owner, ids, until),
    markSent: (lease, r) => outbox.markSent(lease, r),
    markRetrying: (lease, a, next) => outbox.markRetrying(lease, a, next),
    markFailed: (lease, a, code) => outbox.markFailed(lease, a, code),
    release: (lease, next) => outbox.release(lease, next),
    requeue: watch((id, now, expiresAt) => outbox.requeue(id, now, expiresAt)),
    recordTest: watch((m) => outbox.recordTest(m)),
    get: (id) => outbox.get(id),
    list: (l) => outbox.list(l),
    countByStatus: () => outbox.countByStatus(),
    recipientsSentSince: (mailbox, since) => outbox.recipientsSentSince(mailbox, since),
    deliveryHistogram: (since, bucket) => outbox.deliveryHistogram(since, bucket),
    getSettings: () => config.getSettings(),
    saveSettings: watch((changes, audit, options) => config.saveSettings(changes, audit, options)),
    settingsVersion: () => config.settingsVersion(),
    getMeta: (key) => config.getMeta(key),
    setMeta: watch((key, value) => config.setMeta(key, value)),
    setMetaIfAbsent: watch((key, value) => config.setMetaIfAbsent(key, value)),
    appendAudit: watch((e) => config.appendAudit(e)),
    listAudit: (limit) => config.listAudit(limit),
    createApiKey: watch((k) => config.createApiKey(k)),
    listApiKeys: () => config.listApiKeys(),
    revokeApiKey: watch((name, at) => config.revokeApiKey(name, at)),
    findApiKey: (hash) => config.findApiKey(hash),
    touchApiKey: (hash, at) => config.touchApiKey(hash, at),
    createRelayClient: watch((c) => config.createRelayClient(c)),
    listRelayClients: () => config.listRelayClients(),
    revokeRelayClient: watch((name, at) => config.revokeRelayClient(name, at)),
    activeRelayClients: () => config.activeRelayClients(),
    touchRelayClient: (id, at) => config.touchRelayClient(id, at),
    ...pgAdminSessions(db),
    // Readiness: a small write proves the database is reachable and takes writes; a write that
    // succeeds after a disk-full refusal clears the full state (PostgreSQL frees WAL segments
    // itself, so no probe file is needed here).
    async ping(now) {
      try {
        await db.query(`INSERT INTO meta (key, value) VALUES ('heartbeat', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [String(now)], { durable: false });
        full = false;
      } catch (error) {
        if (error instanceof StorageFullError) full = true;
        throw error;
      }
    },
    storageHealth: () => ({ full, fullWrites: db.stats.fullWrites }),
    async close() {
      if (closed) return;
      closed = true;
      await db.close();
    },
  };
}
