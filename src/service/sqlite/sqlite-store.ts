/**
 * The embedded SQLite implementation of `Store` (better-sqlite3 12, WAL, synchronous=FULL,
 * group commit). `openSqliteStore(dataDir)` is the only entry point.
 *
 * Why: a single-file database in the data directory needs no server, survives `kill -9`, and
 * is fast enough for Exchange Online's limits by orders of magnitude. Its outbox and config
 * halves live in sqlite-outbox.ts and sqlite-config.ts; this file wires them to one connection
 * and one write queue.
 *
 * Imports: ./open, ./write-queue, ./sqlite-outbox, ./sqlite-config, ../store/store.
 */
import type { Database } from 'better-sqlite3';
import type { Store } from '../store/store.js';
import { openDatabase } from './open.js';
import { SqliteConfig } from './sqlite-config.js';
import { SqliteOutbox } from './sqlite-outbox.js';
import { WriteQueue, type WriteQueueStats } from './write-queue.js';

export interface SqliteStore extends Store {
  /** The underlying connection (for diagnostics and tests). */
  readonly database: Database;
  /** How many group commits and writes happened. */
  readonly writeStats: WriteQueueStats;
}

/** Open the store in `dataDir`; throws DataDirError (naming the path) when it cannot be used. */
export function openSqliteStore(dataDir: string): SqliteStore {
  const db = openDatabase(dataDir);
  const queue = new WriteQueue(db);
  const outbox = new SqliteOutbox(db, queue);
  const config = new SqliteConfig(db, queue);
  const heartbeat = db.prepare("INSERT INTO meta (key, value) VALUES ('heartbeat', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  let closed = false;

  return {
    database: db,
    writeStats: queue.stats,
    enqueue: (m) => outbox.enqueue(m),
    claim: (o) => outbox.claim(o),
    renewLeases: (owner, ids, until) => outbox.renewLeases(owner, ids, until),
    markSent: (lease, r) => outbox.markSent(lease, r),
    markRetrying: (lease, a, next) => outbox.markRetrying(lease, a, next),
    markFailed: (lease, a, code) => outbox.markFailed(lease, a, code),
    release: (lease, next) => outbox.release(lease, next),
    requeue: (id, now, expiresAt) => outbox.requeue(id, now, expiresAt),
    recordTest: (m) => outbox.recordTest(m),
    get: (id) => outbox.get(id),
    list: (o) => outbox.list(o),
    countByStatus: () => outbox.countByStatus(),
    recipientsSentSince: (mailbox, since) => outbox.recipientsSentSince(mailbox, since),
    deliveryHistogram: (since, bucket) => outbox.deliveryHistogram(since, bucket),
    getSettings: () => config.getSettings(),
    saveSettings: (changes, audit) => config.saveSettings(changes, audit),
    settingsVersion: () => config.settingsVersion(),
    getMeta: (key) => config.getMeta(key),
    setMeta: (key, value) => config.setMeta(key, value),
    setMetaIfAbsent: (key, value) => config.setMetaIfAbsent(key, value),
    appendAudit: (e) => config.appendAudit(e),
    listAudit: (limit) => config.listAudit(limit),
    createApiKey: (k) => config.createApiKey(k),
    listApiKeys: () => config.listApiKeys(),
    revokeApiKey: (name, at) => config.revokeApiKey(name, at),
    findApiKey: (hash) => config.findApiKey(hash),
    touchApiKey: (hash, at) => config.touchApiKey(hash, at),
    // A readiness probe (unauthenticated, frequent) proves the store takes writes; it needs no fsync.
    ping: (now) => queue.write(() => void heartbeat.run(String(now)), { durable: false }),
    async close() {
      if (closed) return;
      closed = true;
      queue.close();
      db.close();
    },
  };
}
