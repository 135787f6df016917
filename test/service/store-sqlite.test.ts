/**
 * Runs the Store contract against SQLite (a fresh database in a temp dir per test), plus the
 * SQLite-specific start-up checks: corrupt files and unusable data dirs are reported, never
 * recreated; migrations apply once; group commit batches writes.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { DataDirError, DATABASE_FILE } from '../../src/service/outbox/sqlite/open.js';
import { isStorageFull } from '../../src/service/outbox/sqlite/storage-space.js';
import { StorageFullError } from '../../src/service/outbox/store.js';
import BetterSqlite3 from 'better-sqlite3';
import { loadMigrations, migrate } from '../../src/service/outbox/sqlite/migrate.js';
import { runStoreContract, newMessage } from './store-contract.js';
import { tempDir } from './helpers.js';

runStoreContract('sqlite', async () => {
  const t = tempDir();
  const store = openSqliteStore(t.dir);
  return {
    store,
    reopen: async () => openSqliteStore(t.dir),
    cleanup: async () => {
      await store.close();
      t.remove();
    },
  };
});

describe('SQLite store specifics', () => {
  it('fsyncs enqueues (synchronous=FULL) but commits claims and results without; a passive checkpoint syncs them soon after', async () => {
    const t = tempDir();
    const store = openSqliteStore(t.dir);
    try {
      const db = store.database;
      const now = Date.now();
      await store.enqueue(newMessage({ createdAt: now, expiresAt: now + 60_000 }));
      assert.equal(db.pragma('synchronous', { simple: true }), 2, 'the enqueue committed with FULL');
      assert.equal(store.writeStats.durableBatches, 1);
      const [m] = await store.claim({ owner: 'w', limit: 1, now, leaseMs: 60_000 });
      assert.equal(db.pragma('synchronous', { simple: true }), 1, 'the claim committed with NORMAL');
      assert.equal(await store.markSent(m.lease, { at: now, response: '250 OK', mailbox: 'a@b.c' }), true);
      assert.equal(store.writeStats.durableBatches, 1, 'bookkeeping added no durable batch');
      assert.equal(store.writeStats.syncs, 0);
      const deadline = Date.now() + 5000;
      while (store.writeStats.syncs === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(store.writeStats.syncs, 1, 'a checkpoint synced the bookkeeping within the sync window');
      assert.equal(db.pragma('synchronous', { simple: true }), 2, 'and the connection is back to FULL');
      await store.enqueue(newMessage({ createdAt: now, expiresAt: now + 60_000 }));
      assert.equal(store.writeStats.durableBatches, 2);
    } finally {
      await store.close();
      t.remove();
    }
  });

  it('finds numbered migrations and applies them once across reopenings', async () => {
    assert.ok(loadMigrations().length >= 1);
    const t = tempDir();
    try {
      const a = openSqliteStore(t.dir);
      const b = openSqliteStore(t.dir);
      const rows = a.database.prepare('SELECT version FROM schema_migrations').all();
      assert.equal(rows.length, loadMigrations().length);
      assert.equal(a.database.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(a.database.pragma('synchronous', { simple: true }), 2); // FULL
      await a.close();
      await b.close();
    } finally {
      t.remove();
    }
  });

  it('migration 0002 keeps pre-upgrade idempotency keys working: a retry of the same request finds its message', async () => {
    const t = tempDir();
    try {
      const legacyId = '0e1f3a52-8c4b-4d6e-9f10-2a3b4c5d6e7f';
      const v1 = new BetterSqlite3(join(t.dir, DATABASE_FILE));
      migrate(v1, loadMigrations().slice(0, 1));
      const { lastInsertRowid } = v1.prepare(`INSERT INTO messages (id, message_id_header, mailbox, status, to_summary, subject, recipient_count,
        idempotency_key, request_hash, created_at, updated_at, next_attempt_at, expires_at)
        VALUES (?, '<x@example.com>', 'sender@example.com', 'queued', 'a@example.com', 's', 1, 'legacy-1', 'h1', 1, 1, 1, 9e12)`).run(legacyId);
      v1.prepare('INSERT INTO message_payloads (seq, payload) VALUES (?, ?)').run(lastInsertRowid, '{}');
      v1.close();
      const store = openSqliteStore(t.dir);
      try {
        const retry = await store.enqueue(newMessage({ apiKeyId: '7', idempotencyKey: 'legacy-1', requestHash: 'h1' }));
        assert.equal(retry.outcome, 'duplicate');
        assert.equal(retry.message.id, legacyId);
        assert.equal(retry.message.apiKeyId, '7', 'the retrying key adopts the message it is told about');
        assert.equal((await store.get(legacyId))?.apiKeyId, '7');
        assert.equal((await store.enqueue(newMessage({ apiKeyId: '7', idempotencyKey: 'legacy-1', requestHash: 'h1' }))).outcome, 'duplicate');
        // Another application's request with the same string is its own message, not a 409.
        assert.equal((await store.enqueue(newMessage({ apiKeyId: '8', idempotencyKey: 'legacy-1', requestHash: 'h2' }))).outcome, 'created');
        // The old column is retired; its values were moved under the "no submitter" scope.
        const row = store.database.prepare('SELECT idempotency_key, client_idempotency_key FROM messages WHERE id = ?').get(legacyId);
        assert.deepEqual(row, { idempotency_key: null, client_idempotency_key: 'legacy-1' });
        assert.equal((await store.enqueue(newMessage({ idempotencyKey: 'legacy-2', requestHash: 'h3' }))).outcome, 'created');
        assert.equal((await store.enqueue(newMessage({ idempotencyKey: 'legacy-2', requestHash: 'h4' }))).outcome, 'conflict', 'the no-submitter scope keeps its own rules');
      } finally {
        await store.close();
      }
    } finally {
      t.remove();
    }
  });

  it('reports a corrupt database file naming its path and leaves it untouched', () => {
    const t = tempDir();
    try {
      const file = join(t.dir, DATABASE_FILE);
      writeFileSync(file, 'this is not a database at all, just text that is long enough '.repeat(20));
      const before = readFileSync(file);
      assert.throws(() => openSqliteStore(t.dir), (e: unknown) => e instanceof DataDirError && e.message.includes(file));
      assert.deepEqual(readFileSync(file), before);
    } finally {
      t.remove();
    }
  });

  it('refuses an existing zero-byte or non-database file, naming it, and never overwrites it (only a missing file creates a database)', () => {
    const t = tempDir();
    try {
      const file = join(t.dir, DATABASE_FILE);
      for (const content of [Buffer.alloc(0), Buffer.from('x'), Buffer.from('SQLite format 2\0 and more bytes after the header')]) {
        writeFileSync(file, content);
        assert.throws(
          () => openSqliteStore(t.dir),
          (e: unknown) => e instanceof DataDirError && e.path === file && e.message.includes(file) && /left untouched/.test(e.message) && (content.length > 0 || /empty \(0 bytes\)/.test(e.message)),
        );
        assert.deepEqual(readFileSync(file), content, 'the file is unchanged');
        assert.equal(existsSync(`${file}-wal`), false, 'SQLite never opened it');
      }
      rmSync(file);
      mkdirSync(file);
      assert.throws(() => openSqliteStore(t.dir), (e: unknown) => e instanceof DataDirError && /not a regular file/.test(e.message));
    } finally {
      t.remove();
    }
  });

  it('leaves no start-up write-test file behind', async () => {
    const t = tempDir();
    try {
      const s = openSqliteStore(t.dir);
      await s.close();
      assert.deepEqual(readdirSync(t.dir).filter((f) => f.startsWith('.write-test')), []);
    } finally {
      t.remove();
    }
  });

  it('reports a data dir that is a file, or that cannot be created', () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'plain-file');
      writeFileSync(file, 'x');
      assert.throws(() => openSqliteStore(file), (e: unknown) => e instanceof DataDirError && e.message.includes(file) && /not a directory/.test(e.message));
      const below = join(file, 'sub');
      assert.throws(() => openSqliteStore(below), (e: unknown) => e instanceof DataDirError && e.message.includes(below));
    } finally {
      t.remove();
    }
  });

  it('reports a data dir it cannot write (non-root only)', { skip: process.getuid?.() === 0 ? 'root can write anywhere' : false }, () => {
    const t = tempDir();
    try {
      chmodSync(t.dir, 0o500);
      assert.throws(() => openSqliteStore(t.dir), (e: unknown) => e instanceof DataDirError && /not writable/.test(e.message));
    } finally {
      chmodSync(t.dir, 0o700);
      t.remove();
    }
  });

  it('creates a missing data dir on first start', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'a', 'b');
      const s = openSqliteStore(dir);
      assert.ok(existsSync(join(dir, DATABASE_FILE)));
      await s.close();
    } finally {
      t.remove();
    }
  });

  it('recognises a full disk from SQLite (SQLITE_FULL) and the file system (ENOSPC), also as a cause', () => {
    assert.equal(isStorageFull(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })), true);
    assert.equal(isStorageFull(Object.assign(new Error('x'), { code: 'ENOSPC' })), true);
    assert.equal(isStorageFull(new Error('wrapped', { cause: Object.assign(new Error('y'), { code: 'EDQUOT' }) })), true);
    assert.equal(isStorageFull(Object.assign(new Error('permission denied'), { code: 'EACCES' })), false);
    assert.equal(isStorageFull(Object.assign(new Error('constraint'), { code: 'SQLITE_CONSTRAINT_UNIQUE' })), false);
  });

  it('a write refused for lack of space rejects with StorageFullError, is counted, and ping clears the state once a probe finds room', async () => {
    const t = tempDir();
    const s = openSqliteStore(t.dir);
    try {
      await s.enqueue(newMessage());
      // SQLite's own page limit gives the SQLITE_FULL a full disk gives, without a full disk.
      const pages = s.database.pragma('page_count', { simple: true }) as number;
      s.database.pragma(`max_page_count = ${pages}`);
      const big = newMessage({ payload: JSON.stringify({ to: ['a@example.com'], subject: 's', text: 'x'.repeat(200_000) }) });
      await assert.rejects(s.enqueue(big), (e: unknown) => e instanceof StorageFullError && e.code === 'STORAGE_FULL');
      assert.deepEqual(s.storageHealth(), { full: true, fullWrites: 1 });
      assert.equal(await s.get(big.id), undefined, 'nothing of the refused write was kept');
      s.database.pragma('max_page_count = 1073741823');
      await s.ping(Date.now()); // the data dir has room: the probe clears the state
      assert.deepEqual(s.storageHealth(), { full: false, fullWrites: 1 });
      assert.equal((await s.enqueue(big)).outcome, 'created');
      assert.deepEqual(readdirSync(t.dir).filter((f) => f.startsWith('.')), [], 'the probe file was removed');
    } finally {
      await s.close();
      t.remove();
    }
  });

  it('commits concurrent writes in one group', async () => {
    const t = tempDir();
    const s = openSqliteStore(t.dir);
    try {
      const before = s.writeStats.batches;
      await Promise.all(Array.from({ length: 100 }, () => s.enqueue(newMessage())));
      assert.equal(s.writeStats.batches - before, 1);
      assert.equal((await s.countByStatus()).queued, 100);
    } finally {
      await s.close();
      t.remove();
    }
  });
});
