/**
 * `mailgate backup FILE` (issue 13, item 19): taken with SQLite's online backup API while the
 * service runs and keeps accepting messages; a service started on the restored copy (same
 * master key) serves the messages and accepts the API keys of the original. The CLI runs as a
 * child process, the services are real (SQLite, HTTP app) with the worker off so messages stay
 * as they were accepted.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { LineCapture, tempDir } from './helpers.js';

const MAIN = 'dist/src/cli/main.js';
const MASTER_KEY = Buffer.alloc(32, 5).toString('base64');

function start(dir: string): Promise<RunningService> {
  return startService({
    env: { MAILGATE_DATA_DIR: dir, MAILGATE_MASTER_KEY: MASTER_KEY },
    listen: false,
    worker: false,
    logger: createLogger({ destination: new LineCapture(), level: 'warn' }),
  });
}

async function enqueue(svc: RunningService, key: string, n: number): Promise<string> {
  const r = await svc.app.request('/api/v1/messages', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to: 'user@example.com', subject: `Message ${n}`, text: `Body ${n}` }),
  });
  assert.equal(r.status, 202);
  return ((await r.json()) as { id: string }).id;
}

describe('mailgate backup', () => {
  it('copies the database while the service runs; a service on the copy serves the messages and keys', async () => {
    const t = tempDir();
    const live = join(t.dir, 'live');
    const restored = join(t.dir, 'restored');
    const file = join(t.dir, 'backup.db');
    const svc = await start(live);
    let again: RunningService | undefined;
    try {
      const key = (await createApiKey(svc.store, 'app', 'send', { now: Date.now(), actor: 'test' })).key;
      const before: string[] = [];
      for (let i = 0; i < 40; i++) before.push(await enqueue(svc, key, i));

      // The backup runs in another process while this one keeps accepting messages.
      const child = spawn(process.execPath, [MAIN, 'backup', file, '--data-dir', live, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MAILGATE_LOG_LEVEL: 'warn' } });
      let out = '';
      let err = '';
      child.stdout!.on('data', (d) => (out += String(d)));
      child.stderr!.on('data', (d) => (err += String(d)));
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      let during = 0;
      let done = false;
      void exited.then(() => (done = true));
      while (!done) {
        await enqueue(svc, key, 1000 + during++);
      }
      assert.equal(await exited, 0, err);
      const result = JSON.parse(out) as { file: string; messages: number; bytes: number };
      assert.equal(result.file, file);
      assert.ok(result.messages >= before.length && result.messages <= before.length + during, `${result.messages} messages in the backup`);
      assert.equal(statSync(file).mode & 0o777, 0o600, 'the backup is readable by its owner only');
      assert.deepEqual(readdirSync(t.dir).filter((f) => f.includes('partial')), [], 'no partial file left');

      // Restore: the copy as the database of a new data dir, the same master key.
      mkdirSync(restored);
      copyFileSync(file, join(restored, 'mailgate.db'));
      again = await start(restored);
      for (const id of before) {
        const r = await again.app.request(`/api/v1/messages/${id}`, { headers: { authorization: `Bearer ${key}` } });
        assert.equal(r.status, 200, `message ${id} in the restored service`);
        assert.equal(((await r.json()) as { status: string }).status, 'queued');
      }
    } finally {
      await again?.stop();
      await svc.stop();
      t.remove();
    }
  });

  it('never overwrites a file, and says when the data dir has no database', async () => {
    const t = tempDir();
    try {
      const existing = join(t.dir, 'exists.db');
      writeFileSync(existing, 'keep me');
      mkdirSync(join(t.dir, 'empty'));
      const none = spawnSync(process.execPath, [MAIN, 'backup', join(t.dir, 'b.db'), '--data-dir', join(t.dir, 'empty')], { encoding: 'utf8' });
      assert.equal(none.status, 1);
      assert.match(none.stderr, /There is no Mailgate database in .*empty/);
      assert.equal(existsSync(join(t.dir, 'b.db')), false);
      await openSqliteStore(join(t.dir, 'db')).close();
      const over = spawnSync(process.execPath, [MAIN, 'backup', existing, '--data-dir', join(t.dir, 'db')], { encoding: 'utf8' });
      assert.equal(over.status, 1);
      assert.match(over.stderr, /exists already; choose a new file name/);
      assert.equal(readFileSync(existing, 'utf8'), 'keep me');
    } finally {
      t.remove();
    }
  });
});
