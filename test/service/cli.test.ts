/**
 * The service's command line as users run it (child processes of dist/src/cli/main.js):
 * apikey create/list/revoke, admin set-password, serve start-up failures (corrupt data dir,
 * bad variables), serve's first start and graceful SIGTERM, and `mailgate dev` end to end.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir, waitFor } from './helpers.js';

const MAIN = 'dist/src/cli/main.js';

function cli(args: string[], env: Record<string, string> = {}, input?: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [MAIN, ...args], { env: { ...process.env, MAILGATE_LOG_LEVEL: 'warn', ...env }, encoding: 'utf8', input, timeout: 30_000 });
}

function exitOf(p: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((r) => (p.exitCode !== null ? r({ code: p.exitCode, signal: null }) : p.once('exit', (code, signal) => r({ code, signal }))));
}

describe('mailgate apikey / admin', () => {
  it('creates (shown once), lists (never the key) and revokes API keys', () => {
    const t = tempDir();
    try {
      const env = { MAILGATE_DATA_DIR: t.dir };
      const json = cli(['apikey', 'create', 'billing', '--scope', 'admin', '--json'], env);
      assert.equal(json.status, 0, json.stderr);
      const created = JSON.parse(json.stdout) as { name: string; key: string; scope: string };
      assert.equal(created.name, 'billing');
      assert.equal(created.scope, 'admin');
      assert.match(created.key, /^mg_/);
      const text = cli(['apikey', 'create', 'shop'], env);
      assert.equal(text.status, 0);
      assert.match(text.stdout, /Created API key "shop" \(scope send\)[\s\S]*\nmg_[A-Za-z0-9_-]+\n$/);
      const dup = cli(['apikey', 'create', 'shop'], env);
      assert.equal(dup.status, 1);
      assert.match(dup.stderr, /exists already/);
      const list = cli(['apikey', 'list', '--json'], env);
      const keys = JSON.parse(list.stdout) as { name: string; scope: string; revokedAt: string | null }[];
      assert.deepEqual(keys.map((k) => [k.name, k.scope, k.revokedAt]), [['billing', 'admin', null], ['shop', 'send', null]]);
      assert.ok(!list.stdout.includes(created.key));
      assert.match(cli(['apikey', 'list'], env).stdout, /^NAME\s+SCOPE\s+PREFIX/);
      assert.equal(cli(['apikey', 'revoke', 'shop'], env).status, 0);
      const again = cli(['apikey', 'revoke', 'shop'], env);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /No active API key/);
      assert.equal(cli(['apikey', 'create', 'x', '--scope', 'root'], env).status, 2, 'an unknown scope is an invalid argument');
    } finally {
      t.remove();
    }
  });

  it('sets the admin password from stdin, refusing a short one', () => {
    const t = tempDir();
    try {
      const ok = cli(['admin', 'set-password', '--data-dir', t.dir], {}, 'correct-horse-battery\n');
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /Admin password updated/);
      const short = cli(['admin', 'set-password', '--data-dir', t.dir], {}, 'short\n');
      assert.equal(short.status, 1);
      assert.match(short.stderr, /at least 12 characters/);
    } finally {
      t.remove();
    }
  });
});

describe('bad option values stop before anything runs, naming the option, with exit 2', () => {
  for (const [args, pattern] of [
    [['serve', '--port', 'abc'], /--port <port>' argument 'abc' is invalid\. not a port number/],
    [['dev', '--port', '70000'], /--port <port>' argument '70000' is invalid/],
    [['emulator', '--smtp-port', '99999'], /--smtp-port <n>' argument '99999' is invalid/],
    [['apikey', 'create', 'x', '--scope', 'root'], /Allowed choices are send, admin/],
  ] as [string[], RegExp][]) {
    it(args.join(' '), () => {
      const r = cli(args);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, pattern);
    });
  }
});

describe('mailgate serve start-up', () => {
  it('refuses a corrupt database, naming the path and leaving the file alone', () => {
    const t = tempDir();
    try {
      const db = join(t.dir, 'mailgate.db');
      writeFileSync(db, 'garbage '.repeat(1000));
      const r = cli(['serve'], { MAILGATE_DATA_DIR: t.dir, MAILGATE_HTTP_PORT: '0' });
      assert.equal(r.status, 1);
      assert.ok(r.stderr.includes(db), r.stderr);
      assert.equal(readFileSync(db, 'utf8'), 'garbage '.repeat(1000));
    } finally {
      t.remove();
    }
  });

  it('refuses a data dir that is a file, and lists every bad variable', () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'file');
      writeFileSync(file, 'x');
      let r = cli(['serve'], { MAILGATE_DATA_DIR: file, MAILGATE_HTTP_PORT: '0' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`${file}.*not a directory`));
      r = cli(['serve'], { MAILGATE_DATA_DIR: t.dir, MAILGATE_MAX_CONNECTIONS: '5', MAILGATE_HTTP_PORT: 'x', MAILGATE_MASTER_KEY: '' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /MAILGATE_MAX_CONNECTIONS must be between 1 and 3/);
      assert.match(r.stderr, /MAILGATE_HTTP_PORT must be a whole number/);
      r = cli(['serve'], { MAILGATE_DATA_DIR: join(t.dir, 'd'), MAILGATE_HTTP_PORT: '0', MAILGATE_MASTER_KEY: 'nope' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /MAILGATE_MASTER_KEY must be 32 bytes/);
    } finally {
      t.remove();
    }
  });

  it('prints a generated admin password on first start, then the URL; SIGTERM exits 0', async () => {
    const t = tempDir();
    // A child left running (a failed wait) would keep this file's test process alive for ever.
    const children: ChildProcess[] = [];
    try {
      const p = spawn(process.execPath, [MAIN, 'serve'], { env: { ...process.env, MAILGATE_DATA_DIR: t.dir, MAILGATE_HTTP_PORT: '0', MAILGATE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(p);
      let out = '';
      let err = '';
      p.stdout!.on('data', (d) => (out += String(d)));
      p.stderr!.on('data', (d) => (err += String(d)));
      await waitFor(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(out), 30_000, 'ready line');
      assert.match(out, /^Admin password \(generated; shown once; change it with mailgate admin set-password\): \S{20,}\n/);
      assert.match(err, /MAILGATE_MASTER_KEY is not set/);
      assert.match(err, /Email Settings are incomplete/);
      const url = /listening on (\S+)/.exec(out)![1];
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      p.kill('SIGTERM');
      assert.deepEqual(await exitOf(p), { code: 0, signal: null });
      // Second start: no new password.
      const r = spawn(process.execPath, [MAIN, 'serve'], { env: { ...process.env, MAILGATE_DATA_DIR: t.dir, MAILGATE_HTTP_PORT: '0', MAILGATE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'ignore'] });
      children.push(r);
      let out2 = '';
      r.stdout!.on('data', (d) => (out2 += String(d)));
      await waitFor(() => out2.includes('listening on'), 30_000, 'second ready line');
      assert.ok(!out2.includes('Admin password'));
      r.kill('SIGINT');
      assert.equal((await exitOf(r)).code, 0);
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      t.remove();
    }
  });
});

describe('mailgate dev', () => {
  it('runs the emulator and the service; the printed curl example delivers a message; Ctrl-C stops everything', async () => {
    const p = spawn(process.execPath, [MAIN, 'dev', '--temp', '--port', '0'], { env: { ...process.env, MAILGATE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => (out += String(d)));
    p.stderr!.on('data', (d) => (err += String(d)));
    try {
      await waitFor(() => out.includes('Press Ctrl-C to stop.'), 20_000, 'the dev banner');
      const api = /API:\s+(http:\/\/\S+)\/api\/v1\/messages/.exec(out)![1];
      const key = /API key \(admin\): (mg_\S+)/.exec(out)![1];
      const dataDir = /Data dir:\s+(\S+)/.exec(out)![1];
      assert.match(out, /Admin password:\s+\S{20,}/);
      assert.match(out, /curl -sS -X POST/);
      assert.ok(!err.includes('Email Settings are incomplete'), err);
      const body = /-d '(\{.*\})'/.exec(out)![1];
      const r = await fetch(`${api}/api/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
      assert.equal(r.status, 202);
      const { id } = (await r.json()) as { id: string };
      await waitFor(async () => {
        const m = (await fetch(`${api}/api/v1/messages/${id}`, { headers: { authorization: `Bearer ${key}` } }).then((x) => x.json())) as { status: string };
        return m.status === 'sent';
      }, 15_000, 'the message sent');
      p.kill('SIGINT');
      assert.equal((await exitOf(p)).code, 0);
      assert.equal(existsSync(dataDir), false, 'the temp data dir is removed');
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
    }
  });
});
