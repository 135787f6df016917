/**
 * Security replay of issue 12 items 3 and 8 against a real `mailgate serve` (a child process,
 * real sockets, real SQLite, configured for the Microsoft 365 emulator):
 *
 * - Item 3, oversized admin bodies: five parallel 30 MB posts to /admin/login (with a valid
 *   session cookie and CSRF token, so nothing but the size stops them) are answered 413, the
 *   service's peak memory (VmHWM of the child) stays flat, and the API keeps accepting
 *   messages meanwhile; a chunked 30 MB post is refused too.
 * - Item 8, the login limiter behind a reverse proxy (MAILGATE_TRUST_PROXY=on, the test
 *   playing the proxy on 127.0.0.1): five wrong passwords from one forwarded client lock out
 *   that client only; a forged left-most X-Forwarded-For entry does not escape it; rotating
 *   IPv6 addresses inside one /64 does not either; and the global ceiling stops everyone.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { tempDir } from '../service/helpers.js';
import { serveEnv } from '../helpers/serve-env.js';

const MAIN = 'dist/src/cli/main.js';
const MASTER_KEY = Buffer.alloc(32, 12).toString('base64');
const PASSWORD = 'security-replay admin password';
const MB = 1024 * 1024;

interface Serve {
  proc: ChildProcess;
  url: string;
  key: string;
  stop(): Promise<void>;
}

async function startServe(emulator: Emulator, extraEnv: Record<string, string>): Promise<Serve> {
  const tmp = tempDir('mailgate-sec-admin-');
  const env = { ...process.env, ...serveEnv(emulator, tmp.dir, MASTER_KEY, { MAILGATE_ADMIN_PASSWORD: PASSWORD }), ...extraEnv };
  const created = spawnSync(process.execPath, [MAIN, 'apikey', 'create', 'security-replay', '--scope', 'send', '--json'], { env, encoding: 'utf8' });
  assert.equal(created.status, 0, created.stderr);
  const { key } = JSON.parse(created.stdout) as { key: string };
  const proc = spawn(process.execPath, [MAIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += String(d)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`serve exited with ${code} before it was ready:\n${err}`)));
  });
  return {
    proc,
    url,
    key,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      tmp.remove();
    },
  };
}

/** Peak resident memory of a process so far (kB), from /proc. */
function peakRssKb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmHWM is readable');
  return Number(m[1]);
}

/** A browser-like session on the login page: its cookie and CSRF token. */
async function loginForm(url: string, headers: Record<string, string> = {}): Promise<{ cookie: string; csrf: string }> {
  const r = await fetch(`${url}/admin/login`, { headers });
  const cookie = r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await r.text())?.[1];
  assert.ok(cookie && csrf, 'the login page gives a session and a CSRF token');
  return { cookie, csrf };
}

async function signIn(url: string, password: string, headers: Record<string, string>): Promise<Response> {
  const { cookie, csrf } = await loginForm(url, headers);
  return fetch(`${url}/admin/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...headers, cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, password, next: '/admin/settings' }),
  });
}

/**
 * POSTs a `size`-byte urlencoded login form (a valid CSRF token first, then a huge password),
 * with Content-Length or chunked; resolves with the status as soon as the server answers
 * (it stops writing then), or with 'closed' when the server cut the connection first.
 */
function bigPost(url: string, size: number, session: { cookie: string; csrf: string }, chunked: boolean): Promise<number | 'closed'> {
  const head = Buffer.from(`_csrf=${session.csrf}&password=`);
  const filler = Buffer.alloc(MB, 'a');
  return new Promise((resolve) => {
    const u = new URL(`${url}/admin/login`);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', cookie: session.cookie };
    if (!chunked) headers['content-length'] = String(size);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', () => {
      if (!answered) resolve('closed');
    });
    let written = 0;
    const write = () => {
      while (!answered && written < size) {
        const part = written === 0 ? head : filler.subarray(0, Math.min(filler.length, size - written));
        written += part.length;
        if (!req.write(part)) return void req.once('drain', write);
      }
      if (!answered) req.end();
    };
    write();
  });
}

describe('security replay: oversized admin form bodies (issue 12 item 3)', () => {
  let emulator: Emulator;
  let serve: Serve;
  before(async () => {
    emulator = await startEmulator(undefined, { limits: { messagesPerMinute: Infinity } });
    serve = await startServe(emulator, {});
  });
  after(async () => {
    await serve?.stop();
    await emulator?.stop();
  });

  it('five parallel 30 MB posts to /admin/login: all 413, memory flat, intake keeps working', async () => {
    const api = (i: number) => fetch(`${serve.url}/api/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${serve.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: `user${i}@example.com`, subject: `during the flood ${i}`, text: 'hello' }),
    });
    // Warm up every path once, so the baseline includes what a normal request costs.
    assert.equal((await api(0)).status, 202);
    const sessions = await Promise.all(Array.from({ length: 5 }, () => loginForm(serve.url)));
    const baseline = peakRssKb(serve.proc.pid!);

    const flood = sessions.map((s) => bigPost(serve.url, 30 * MB, s, false));
    const intake = await Promise.all([api(1), api(2), api(3)]);
    const statuses = await Promise.all(flood);
    assert.deepEqual(intake.map((r) => r.status), [202, 202, 202], 'the API accepted messages during the flood');
    assert.deepEqual(statuses, [413, 413, 413, 413, 413]);

    const chunked = await bigPost(serve.url, 30 * MB, sessions[0]!, true);
    assert.equal(chunked, 413, 'a chunked body is refused while streaming');

    // Refused bodies are still read away for a moment by the HTTP server (so the client sees
    // the 413 instead of a reset) and dropped: some garbage (~20 MB measured) before a GC, far
    // from the 300+ MB that parsing five 30 MB forms took.
    const grownMb = (peakRssKb(serve.proc.pid!) - baseline) / 1024;
    assert.ok(grownMb < 64, `the service's peak memory grew by ${grownMb.toFixed(1)} MB for 180 MB of refused bodies (must stay flat)`);
    assert.equal((await api(4)).status, 202, 'and still accepts messages afterwards');
    assert.equal((await signIn(serve.url, PASSWORD, {})).status, 303, 'a normal sign-in still works');
  });
});

describe('security replay: admin login limiter behind a proxy (issue 12 item 8)', () => {
  let emulator: Emulator;
  let serve: Serve;
  before(async () => {
    emulator = await startEmulator(undefined, { limits: { messagesPerMinute: Infinity } });
    serve = await startServe(emulator, { MAILGATE_TRUST_PROXY: 'on', MAILGATE_LOGIN_GLOBAL_FAILURES_PER_MINUTE: '15' });
  });
  after(async () => {
    await serve?.stop();
    await emulator?.stop();
  });

  it('locks out the attacker, not every administrator behind the proxy; forged hops and rotated IPv6 addresses do not help; the global ceiling holds', async () => {
    const via = (client: string) => ({ 'x-forwarded-for': client });
    for (let i = 0; i < 5; i++) assert.equal((await signIn(serve.url, `guess ${i}`, via('198.51.100.66'))).status, 401);
    const attacker = await signIn(serve.url, PASSWORD, via('198.51.100.66'));
    assert.equal(attacker.status, 429, 'the guessing client is paused');
    assert.ok(Number(attacker.headers.get('retry-after')) > 0);
    assert.equal((await signIn(serve.url, PASSWORD, via('203.0.113.5, 198.51.100.66'))).status, 429, 'a forged left-most hop is ignored');
    assert.equal((await signIn(serve.url, PASSWORD, via('198.51.100.10'))).status, 303, 'an administrator behind the same proxy still signs in');

    // An attacker rotating addresses inside one IPv6 /64.
    for (let i = 1; i <= 5; i++) assert.equal((await signIn(serve.url, 'guess', via(`2001:db8:aa:bb::${i}`))).status, 401);
    assert.equal((await signIn(serve.url, PASSWORD, via('2001:db8:aa:bb::ffff'))).status, 429, 'the /64 is one client');

    // Rotating /64s too: 10 failures so far; 5 more from new clients reach the ceiling of 15 per minute.
    for (let i = 1; i <= 5; i++) assert.equal((await signIn(serve.url, 'guess', via(`2001:db8:${i}::1`))).status, 401);
    const everyone = await signIn(serve.url, PASSWORD, via('192.0.2.200'));
    assert.equal(everyone.status, 429, 'the global ceiling refuses further attempts for the rest of the minute');
    assert.match(await everyone.text(), /on this server in the last minute/);
  });
});
