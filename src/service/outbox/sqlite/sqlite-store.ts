/**
 * The embedded SQLite implementation of `Store` (better-sqlite3 12, WAL, synchronous=FULL,
 * group commit). `openSqliteStore(dataDir)` is the only entry point.
 *
 * Why: a single-file database in the data directory needs no server, survives `kill -9`, and
 * is fast enough for Exchange Online's limits by orders of magnitude. Its outbox and config
 * halves live in sqlite-outbox.ts and sqlite-config.ts; this file wires them to one connection
 * and one write queue.
 *
 * Disk full: once a write failed for lack of space, `ping` (readiness) answers StorageFullError
 * until a write probe in the data dir (FREE_SPACE_PROBE_BYTES, synced, removed at once) succeeds,
 * tried at most once per PROBE_INTERVAL_MS. A tiny heartbeat alone would prove nothing: SQLite
 * reuses the space of a checkpointed WAL, so small writes can succeed while every message of
 * ordinary size fails.
 *
 * Imports: ./open, ./write-queue, ./sqlite-outbox, ./sqlite-config, ./sqlite-sessions, ./storage-space, ../store.
 */
import type { Database } from 'better-sqlite3';
import { StorageFullError, type Store } from '../store.js';
import { openDatabase } from './open.js';
import { isStorageFull, probeFreeSpace } from './storage-space.js';
import { SqliteConfig } from './sqlite-config.js';
import { SqliteOutbox } from './sqlite-outbox.js';
import { sqliteAdminSessions } from './sqlite-sessions.js';
import { WriteQueue, type WriteQueueStats } from './write-queue.js';

export interface SqliteStore extends Store {
  /** The underlying connection (for diagnostics and tests). */
  readonly database: Database;
  /** How many group commits and writes happened. */
  readonly writeStats: WriteQueueStats;
}

/** Room a full store must show again before it counts as writable (a message of ordinary size, and then some). */
export const FREE_SPACE_PROBE_BYTES = 1024 * 1024;
const PROBE_INTERVAL_MS = 1000;

/** Open the store in `dataDir`; throws DataDirError (naming the path) when it cannot be used. */
export function openSqliteStore(dataDir: string): SqliteStore {
  const db = openDatabase(dataDir);
  let full = false;
  let lastProbe = -Infinity;
  const queue = new WriteQueue(db, {
    onStorageFull: () => {
      full = true;
    },
  });
  /** While full: whether a probe (rate-limited) shows room again. */
  const stillFull = (): boolean => {
    if (!full) return false;
    const t = performance.now();
    if (t - lastProbe < PROBE_INTERVAL_MS) return true;
    lastProbe = t;
    try {
      probeFreeSpace(dataDir, FREE_SPACE_PROBE_BYTES);
      full = false;
    } catch (error) {
      if (!isStorageFull(error)) throw error;
    }
    return full;
  };
  const outbox = new SqliteOutbox(db, queue);
  const config = new SqliteConfig(db, queue);
  const sessions = sqliteAdminSessions(db, queue);
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
    saveSettings: (changes, audit, options) => config.saveSettings(changes, audit, options),
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
    createRelayClient: (c) => config.createRelayClient(c),
    listRelayClients: () => config.listRelayClients(),
    revokeRelayClient: (name, at) => config.revokeRelayClient(name, at),
    activeRelayClients: () => config.activeRelayClients(),
    touchRelayClient: (id, at) => config.touchRelayClient(id, at),
    ...sessions,
    // A readiness probe (unauthenticated, frequent) proves the store takes writes; it needs no fsync.
    async ping(now) {
      if (stillFull()) throw new StorageFullError('the data directory is full: writes fail until space is freed');
      await queue.write(() => void heartbeat.run(String(now)), { durable: false });
    },
    storageHealth: () => ({ full, fullWrites: queue.stats.fullWrites }),
    async close() {
      if (closed) return;
      closed = true;
      queue.close();
      db.close();
    },
  };
}
