/**
 * Disk full (issue 12 item 5), on a real small tmpfs: with the data directory full, a submission
 * is 503 `storage-full` with Retry-After (never 500), /readyz turns 503 naming the storage, the
 * metric counts the refused writes; once space is freed everything recovers by itself and no
 * message accepted before was lost. At start on a full disk the message says "full" and the
 * start-up write test leaves no file behind. Skips loudly when mount is not permitted.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService } from '../../src/app/service.js';
import { DataDirError, DATABASE_FILE } from '../../src/service/outbox/sqlite/open.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { mountTmpfs, skipLoudly } from '../helpers/tmpfs.js';
import { LineCapture, waitFor } from './helpers.js';

const MASTER_KEY = Buffer.alloc(32, 3).toString('base64');
const TMPFS_BYTES = 8 * 1024 * 1024;

describe('a full data directory', () => {
  it('answers 503 storage-full with Retry-After, turns /readyz 503, counts it, and recovers by itself when space returns, losing nothing', async (t) => {
    const fs = mountTmpfs(TMPFS_BYTES);
    if ('skipReason' in fs) return skipLoudly(t, fs.skipReason);
    const dataDir = join(fs.dir, 'data');
    const svc = await startService({
      env: { MAILGATE_DATA_DIR: dataDir, MAILGATE_MASTER_KEY: MASTER_KEY },
      listen: false,
      worker: false,
      logger: createLogger({ destination: new LineCapture(), level: 'debug' }),
    });
    try {
      const key = (await createApiKey(svc.store, 'app', 'send', { now: Date.now(), actor: 'test' })).key;
      const call = async (method: string, path: string, body?: unknown) => {
        const r = await svc.app.request(path, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await r.text();
        return { status: r.status, headers: r.headers, text, json: text && r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined };
      };
      const readyErrors = async () => ((await call('GET', '/readyz')).json?.errors ?? []).map((e: { key: string }) => e.key) as string[];
      const accepted: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await call('POST', '/api/v1/messages', { to: 'a@example.com', subject: `before ${i}`, text: 'kept' });
        assert.equal(r.status, 202);
        accepted.push(r.json.id);
      }
      assert.ok(!(await readyErrors()).includes('storage'));

      fs.fill();
      // Larger than any WAL space SQLite could reuse, so the commit must grow a file.
      const big = { to: 'a@example.com', subject: 'big', text: 'x'.repeat(1024 * 1024) };
      const refused = await call('POST', '/api/v1/messages', big);
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.json.type, 'urn:mailgate:problem:storage-full');
      assert.match(refused.headers.get('content-type') ?? '', /problem\+json/);
      assert.ok(Number(refused.headers.get('retry-after')) > 0, 'Retry-After is set');
      const ready = await call('GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.ok((await readyErrors()).includes('storage'), 'readyz names the storage');
      const metrics = (await call('GET', '/metrics')).text;
      assert.match(metrics, /^mailgate_storage_full_total [1-9]\d*$/m);
      assert.match(metrics, /^mailgate_storage_full 1$/m);

      fs.free();
      await waitFor(async () => !(await readyErrors()).includes('storage'), 10_000);
      assert.match((await call('GET', '/metrics')).text, /^mailgate_storage_full 0$/m);
      const after = await call('POST', '/api/v1/messages', big);
      assert.equal(after.status, 202, 'accepted again once space returned, without a restart');
      for (const id of accepted) assert.equal((await call('GET', `/api/v1/messages/${id}`)).json.status, 'queued', 'every message accepted before the disk filled is still there');
      assert.deepEqual(readdirSync(dataDir).filter((f) => f.startsWith('.')), [], 'no probe file left behind');
    } finally {
      await svc.stop();
      fs.unmount();
    }
  });

  it('at start, says the disk is full (not "fix its permissions"), leaves the database untouched and no write-test file', async (t) => {
    const fs = mountTmpfs(2 * 1024 * 1024);
    if ('skipReason' in fs) return skipLoudly(t, fs.skipReason);
    try {
      const dataDir = join(fs.dir, 'data');
      await openSqliteStore(dataDir).close();
      const before = readFileSync(join(dataDir, DATABASE_FILE));
      fs.fill();
      assert.throws(
        () => openSqliteStore(dataDir),
        (e: unknown) => e instanceof DataDirError && /is full \(no space left on device\)/.test(e.message) && e.message.includes(dataDir) && !/permissions/i.test(e.message),
      );
      assert.deepEqual(readdirSync(dataDir).filter((f) => f.startsWith('.write-test')), []);
      assert.deepEqual(readFileSync(join(dataDir, DATABASE_FILE)), before);
      // A data dir still to be created on a full disk: the same message.
      assert.throws(() => openSqliteStore(join(fs.dir, 'new')), (e: unknown) => e instanceof DataDirError && /is full/.test(e.message));
    } finally {
      fs.unmount();
    }
  });
});
