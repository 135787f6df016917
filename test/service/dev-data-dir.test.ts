/**
 * Issue 13, items 3 and 4, as a newcomer meets them:
 * - `npm run dev` then `npx mailgate apikey create my-app` in the same directory makes a key the
 *   dev server accepts (the one-shot commands find ./data/dev when ./data has no database), and
 *   a 401 names the data dir the server uses and the command that creates a key there;
 * - restarting `mailgate dev` on the same data dir prints the same API key and admin password
 *   (kept in dev-credentials.json, mode 0600) and both still work.
 * Child processes run the real CLI in a temporary working directory.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ADMIN_PASSWORD_META, setAdminPassword, verifyPassword } from '../../src/service/access/admin-password.js';
import { revokeApiKey } from '../../src/service/access/api-keys.js';
import { unauthorizedDetail } from '../../src/service/intake/http/auth.js';
import { resolveDataDir } from '../../src/service/data-dir.js';
import { devCredentials, DEV_CREDENTIALS_FILE } from '../../src/app/dev-credentials.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { createLogger } from '../../src/log/logger.js';
import { startService } from '../../src/app/service.js';
import { tempDir, waitFor } from './helpers.js';

const MAIN = resolve('dist/src/cli/main.js');

/** The environment of a new user's shell: no Mailgate variables. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('MAILGATE_')) env[k] = v;
  return { ...env, MAILGATE_LOG_LEVEL: 'warn' };
}

async function startDevIn(cwd: string): Promise<{ out: () => string; api: string; key: string; password: string; stop(): Promise<number | null> }> {
  const p = spawn(process.execPath, [MAIN, 'dev', '--port', '0'], { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => (out += String(d)));
  p.stderr!.on('data', (d) => (err += String(d)));
  try {
    await waitFor(() => out.includes('Press Ctrl-C to stop.') || p.exitCode !== null, 30_000, 'the dev banner');
  } catch (error) {
    p.kill('SIGKILL');
    throw error;
  }
  assert.ok(out.includes('Press Ctrl-C'), `dev did not start: ${err}`);
  return {
    out: () => out,
    api: /API:\s+(http:\/\/\S+)\/api\/v1\/messages/.exec(out)![1],
    key: /API key \(admin\): (mg_\S+)/.exec(out)![1],
    password: /Admin password:\s+(\S+)/.exec(out)![1],
    stop: () => new Promise((r) => {
      if (p.exitCode !== null) return r(p.exitCode);
      p.once('exit', (code) => r(code));
      p.kill('SIGINT');
    }),
  };
}

const send = (api: string, key: string) => fetch(`${api}/api/v1/messages`, {
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ to: 'someone@example.com', subject: 'Hi', text: 'x' }),
});

describe('mailgate dev and the one-shot commands agree on the data dir', () => {
  it('a key made with `apikey create` next to `npm run dev` works; a wrong one gets a 401 naming the data dir; dev keeps its key and password across restarts', async () => {
    const t = tempDir('mailgate-newcomer-');
    const devDir = join(t.dir, 'data', 'dev');
    let dev = await startDevIn(t.dir);
    try {
      assert.match(dev.out(), new RegExp(`Data dir:\\s+${devDir}`));

      const made = spawnSync(process.execPath, [MAIN, 'apikey', 'create', 'my-app'], { cwd: t.dir, env: cleanEnv(), encoding: 'utf8', timeout: 30_000 });
      assert.equal(made.status, 0, made.stderr);
      assert.match(made.stderr, /using the data dir of mailgate dev/);
      assert.ok(made.stdout.includes(devDir), made.stdout);
      const appKey = /\n(mg_\S+)\n$/.exec(made.stdout)![1];
      assert.equal((await send(dev.api, appKey)).status, 202, 'the key made by the README command is accepted by the dev server');

      const denied = await send(dev.api, 'mg_not-a-key');
      assert.equal(denied.status, 401);
      const problem = (await denied.json()) as { detail: string };
      assert.ok(problem.detail.includes(`This server's data dir is ${devDir}`), problem.detail);
      assert.ok(problem.detail.includes(`mailgate apikey create NAME --data-dir ${devDir}`), problem.detail);

      const first = { key: dev.key, password: dev.password };
      assert.match(dev.out(), /kept across restarts in .*dev-credentials\.json \(mode 0600/);
      assert.equal(statSync(join(devDir, DEV_CREDENTIALS_FILE)).mode & 0o777, 0o600);
      assert.equal(await dev.stop(), 0);

      dev = await startDevIn(t.dir);
      assert.equal(dev.key, first.key, 'the same API key is printed again');
      assert.equal(dev.password, first.password, 'the same admin password is printed again');
      assert.match(dev.out(), /The same as at the last start/);
      assert.equal((await send(dev.api, first.key)).status, 202, 'the previous key still works');
      assert.equal((await send(dev.api, appKey)).status, 202, 'so does the key made with apikey create');
      assert.equal(await dev.stop(), 0);

      const store = openSqliteStore(devDir);
      try {
        assert.ok(verifyPassword(first.password, (await store.getMeta(ADMIN_PASSWORD_META))!), 'the printed password is the stored one');
      } finally {
        await store.close();
      }
    } finally {
      await dev.stop();
      t.remove();
    }
  });
});

describe('the 401 advice', () => {
  it('names the data dir as one shell word, and no path when the API is not on loopback', () => {
    assert.match(unauthorizedDetail("/srv/my data/it's"), /--data-dir '\/srv\/my data\/it'\\''s'$/);
    const remote = unauthorizedDetail(undefined);
    assert.ok(!remote.includes('/'), remote.replace('"Authorization: Bearer <key>"', ''));
    assert.match(remote, /mailgate apikey create NAME --data-dir <this server's data dir>/);
  });

  it('the service names its data dir only when it listens on loopback, and never to a request that came through a proxy', async () => {
    const t = tempDir();
    try {
      for (const [host, expected] of [['127.0.0.1', resolve(t.dir)], ['0.0.0.0', undefined]] as const) {
        const svc = await startService({ env: { MAILGATE_MASTER_KEY: Buffer.alloc(32, 3).toString('base64') }, config: { dataDir: t.dir, httpHost: host }, listen: false, worker: false, logger: createLogger({ level: 'silent' }) });
        try {
          assert.equal(svc.deps.dataDir, expected, host);
          const r = await svc.app.request('/api/v1/messages/x');
          assert.equal(r.status, 401);
          assert.equal(((await r.json()) as { detail: string }).detail.includes(t.dir), expected !== undefined);
          // On loopback behind a reverse proxy (deploy/README.md) a request from the internet
          // arrives with the proxy's headers: it never learns the path.
          for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip', 'via', 'x-forwarded-proto']) {
            const proxied = await svc.app.request('/api/v1/messages/x', { headers: { [header]: header === 'forwarded' ? 'for=203.0.113.9' : '203.0.113.9' } });
            assert.equal(proxied.status, 401);
            const detail = ((await proxied.json()) as { detail: string }).detail;
            assert.ok(!detail.includes(t.dir), `${host} ${header}: ${detail}`);
            assert.match(detail, /--data-dir <this server's data dir>/);
          }
        } finally {
          await svc.stop();
        }
      }
    } finally {
      t.remove();
    }
  });
});

describe('resolveDataDir', () => {
  it('--data-dir, then MAILGATE_DATA_DIR, then ./data with a database, then ./data/dev with one, then ./data', async () => {
    const t = tempDir();
    const cwd = process.cwd();
    process.chdir(t.dir);
    try {
      assert.deepEqual(resolveDataDir('x', { MAILGATE_DATA_DIR: 'y' }), { dir: 'x', source: 'option' });
      assert.deepEqual(resolveDataDir(undefined, { MAILGATE_DATA_DIR: 'y' }), { dir: 'y', source: 'env' });
      assert.deepEqual(resolveDataDir(undefined, {}), { dir: './data', source: 'default' });
      await openSqliteStore('./data/dev').close();
      assert.deepEqual(resolveDataDir(undefined, {}), { dir: './data/dev', source: 'dev' });
      await openSqliteStore('./data').close();
      assert.deepEqual(resolveDataDir(undefined, {}), { dir: './data', source: 'default' }, 'a serve database in ./data wins');
    } finally {
      process.chdir(cwd);
      t.remove();
    }
  });
});

describe('devCredentials', () => {
  it('replaces a revoked key, keeps a password the user changed without printing it, and keeps nothing with --temp', async () => {
    const t = tempDir();
    const store = openSqliteStore(t.dir);
    try {
      const now = Date.now();
      const first = await devCredentials(store, { dataDir: t.dir, persist: true, now });
      assert.equal(first.kept, false);
      assert.ok(first.adminPassword && first.apiKey);
      const again = await devCredentials(store, { dataDir: t.dir, persist: true, now });
      assert.deepEqual([again.apiKey, again.adminPassword, again.kept], [first.apiKey, first.adminPassword, true]);

      await revokeApiKey(store, 'dev', { now, actor: 'test' });
      await setAdminPassword(store, 'my own password 123', { now, actor: 'test' });
      const after = await devCredentials(store, { dataDir: t.dir, persist: true, now });
      assert.notEqual(after.apiKey, first.apiKey, 'a revoked key is replaced');
      assert.equal(after.adminPasswordSource, 'user');
      assert.equal(after.adminPassword, undefined);
      assert.ok(verifyPassword('my own password 123', (await store.getMeta(ADMIN_PASSWORD_META))!), 'the user\'s password is kept');
      assert.equal((await devCredentials(store, { dataDir: t.dir, persist: true, now })).adminPasswordSource, 'user');

      mkdirSync(join(t.dir, 'temp'));
      const temp = await devCredentials(store, { dataDir: join(t.dir, 'temp'), persist: false, now });
      assert.equal(temp.file, undefined);
      assert.equal(temp.kept, false);
    } finally {
      await store.close();
      t.remove();
    }
  });
});
