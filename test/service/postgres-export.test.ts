/**
 * `mailgate migrate` and `mailgate export-sqlite --to postgres://...` (issue 18 item 5): a
 * single-instance data dir moves to PostgreSQL with every queued message, its attempts, the API
 * keys (same ids, so the messages still belong to them), relay clients and settings; the target
 * must be empty; the database URL is never printed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { openPgStore } from '../../src/service/outbox/postgres/pg-store.js';
import { loadPgMigrations } from '../../src/service/outbox/postgres/pg-migrate.js';
import { newMessage } from './store-contract.js';
import { countPostgresTests, pgSkip, pgUrl } from '../helpers/postgres.js';
import { tempDir } from './helpers.js';

const MAIN = 'dist/src/cli/main.js';
const T0 = 1_700_000_000_000;

if (!pgSkip) countPostgresTests();

describe('mailgate migrate and export-sqlite', { skip: pgSkip }, () => {
  it('migrates explicitly, then moves every queued message, key, client and setting; refuses a non-empty target', async () => {
    const dbName = `export_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(pgUrl!);
    u.pathname = `/${dbName}`;
    const dbUrl = u.toString();
    const t = tempDir();
    try {
      // The source: one instance's data dir.
      const src = openSqliteStore(t.dir);
      await src.createApiKey({ name: 'app', scope: 'send', hash: 'hash-app', prefix: 'mg_a', createdAt: T0 });
      await src.createApiKey({ name: 'old', scope: 'send', hash: 'hash-old', prefix: 'mg_o', createdAt: T0 });
      await src.revokeApiKey('old', T0 + 1);
      const keyId = (await src.findApiKey('hash-app'))!.id;
      await src.createRelayClient({ name: 'scanner', username: 'u1', passwordHash: 'scrypt$x', noAuth: false, allowFrom: [], allowIp: [], fromPolicy: 'reject', createdAt: T0 });
      await src.saveSettings({ clientId: 'abc' }, { at: T0, actor: 'admin', action: 'settings.update', detail: { keys: ['clientId'] } });
      // Several senders (issue 16): a key limited to one sender, the senders configuration row,
      // and messages recorded with their sender.
      await src.createApiKey({ name: 'billing', scope: 'send', hash: 'hash-billing', prefix: 'mg_b', createdAt: T0, senders: ['billing@example.com'] });
      const sendersConfig = JSON.stringify({ credentials: [], senders: [{ address: 'billing@example.com', signInAs: 'sender@example.com', credential: 'default' }] });
      await src.saveSettings({ 'senders.config': sendersConfig }, { at: T0, actor: 'admin', action: 'senders.update', detail: {} });
      const billing = newMessage({ sender: 'billing@example.com', createdAt: T0 + 3 });
      await src.enqueue(billing);
      const sent = newMessage({ createdAt: T0 - 10 });
      await src.enqueue(sent);
      const [s] = await src.claim({ owner: 'w', limit: 1, now: T0 - 5, leaseMs: 1000 });
      assert.equal(await src.markSent(s.lease, { at: T0 - 4, response: '250 2.0.0 OK', mailbox: 'sender@example.com' }), true);
      const queued = [0, 1, 2].map((i) => newMessage({ apiKeyId: keyId, idempotencyKey: `k${i}`, requestHash: 'h', createdAt: T0 + i }));
      for (const m of queued) await src.enqueue(m);
      const [c] = await src.claim({ owner: 'w', limit: 1, now: T0 + 5, leaseMs: 1000 });
      assert.equal(c.id, queued[0].id);
      await src.markRetrying(c.lease, { at: T0 + 6, outcome: 'retry', code: 'SMTP_TRANSIENT', reply: '432 4.3.2' }, T0 + 100);
      await src.close();

      const env = { ...process.env, MAILGATE_DATABASE_URL: dbUrl };
      const migrated = spawnSync(process.execPath, [MAIN, 'migrate'], { env, encoding: 'utf8' });
      assert.equal(migrated.status, 0, migrated.stderr);
      assert.match(migrated.stdout, new RegExp(`migrated to version ${loadPgMigrations().length}`));
      const again = spawnSync(process.execPath, [MAIN, 'migrate'], { env, encoding: 'utf8' });
      assert.match(again.stdout, /up to date/);

      const exported = spawnSync(process.execPath, [MAIN, 'export-sqlite', '--data-dir', t.dir, '--to', dbUrl, '--json'], { env: process.env, encoding: 'utf8' });
      assert.equal(exported.status, 0, exported.stderr);
      const r = JSON.parse(exported.stdout) as { rows: Record<string, number>; pending: number };
      assert.equal(r.rows.messages, 5);
      assert.equal(r.pending, 4);
      assert.ok(!exported.stdout.includes(dbUrl) && !exported.stderr.includes(dbUrl));

      const store = await openPgStore({ url: dbUrl });
      try {
        assert.equal((await store.findApiKey('hash-app'))?.id, keyId, 'API key ids are kept');
        assert.equal(await store.findApiKey('hash-old'), undefined, 'a revoked key stays revoked');
        assert.deepEqual(await store.getSettings(), { clientId: 'abc', 'senders.config': sendersConfig }, 'the senders configuration is copied');
        assert.equal(await store.settingsVersion(), 2);
        assert.deepEqual((await store.findApiKey('hash-billing'))?.senders, ['billing@example.com'], 'a key limited to senders stays limited');
        assert.equal((await store.get(billing.id))?.sender, 'billing@example.com');
        assert.deepEqual((await store.list({ sender: 'billing@example.com', limit: 10 })).items.map((m) => m.id), [billing.id]);
        assert.deepEqual((await store.activeRelayClients()).map((x) => [x.name, x.passwordHash]), [['scanner', 'scrypt$x']]);
        const first = await store.get(queued[0].id);
        assert.equal(first?.status, 'retrying');
        assert.deepEqual(first?.attempts.map((a) => [a.attempt, a.outcome, a.reply]), [[1, 'retry', '432 4.3.2']]);
        // Idempotency survives the move.
        const dup = await store.enqueue(newMessage({ apiKeyId: keyId, idempotencyKey: 'k1', requestHash: 'h' }));
        assert.equal(dup.outcome, 'duplicate');
        assert.equal(dup.message.id, queued[1].id);
        // New rows get fresh ids after the copied ones.
        assert.equal(await store.createApiKey({ name: 'new', scope: 'send', hash: 'hash-new', prefix: 'mg_n', createdAt: T0 }), true);
        assert.ok(Number((await store.findApiKey('hash-new'))!.id) > Number(keyId));
        // Every queued message is delivered from PostgreSQL, with its Message-ID.
        const claimed = await store.claim({ owner: 'pg', limit: 10, now: T0 + 1000, leaseMs: 1000 });
        assert.deepEqual(claimed.map((m) => m.messageIdHeader).sort(), [...queued, billing].map((m) => m.messageIdHeader).sort());
        assert.equal(claimed.find((m) => m.id === billing.id)?.sender, 'billing@example.com', 'the claim hands the worker the sender');
        assert.equal((await store.get(sent.id))?.status, 'sent', 'a sent message stays sent (never resent)');
      } finally {
        await store.close();
      }
      const twice = spawnSync(process.execPath, [MAIN, 'export-sqlite', '--data-dir', t.dir, '--to', dbUrl], { env: process.env, encoding: 'utf8' });
      assert.equal(twice.status, 1);
      assert.match(twice.stderr, /already holds/);
    } finally {
      t.remove();
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    }
  });

  it('exports a data dir from the release before senders: its messages get the default sender, as SQLite 0005 would give them', async () => {
    const dbName = `export_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(pgUrl!);
    u.pathname = `/${dbName}`;
    const dbUrl = u.toString();
    const t = tempDir();
    try {
      mkdirSync(t.dir, { recursive: true });
      copyFileSync(new URL('../../../test/fixtures/pre-senders/mailgate.db', import.meta.url), join(t.dir, 'mailgate.db'));
      const exported = spawnSync(process.execPath, [MAIN, 'export-sqlite', '--data-dir', t.dir, '--to', dbUrl, '--json'], { env: process.env, encoding: 'utf8' });
      assert.equal(exported.status, 0, exported.stderr);
      const store = await openPgStore({ url: dbUrl });
      try {
        const m = await store.get('9b2f3c1e-0000-4000-8000-000000000001');
        assert.equal(m?.status, 'queued');
        assert.equal(m?.sender, 'noreply@contoso.com', 'filled from lower(mailbox)');
        assert.equal((await store.listApiKeys())[0].senders, undefined, 'an existing key may use every sender');
      } finally {
        await store.close();
      }
    } finally {
      t.remove();
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    }
  });
});
