/**
 * Security replay, storage (issue 12 items 4 and 5), end to end against `mailgate serve` as a
 * child process and the Microsoft 365 emulator:
 * - a `mailgate.db` truncated to zero bytes stops the start naming the file, and the file is
 *   never overwritten (before: an empty outbox, every queued message silently gone);
 * - a full data directory (a real small tmpfs) answers 503 `storage-full` with Retry-After (before:
 *   500 `problem:internal`), /readyz turns 503 and recovers by itself once space is freed, no
 *   accepted message is lost, and a start on the full disk says "full" (before: "Fix its
 *   permissions") leaving no `.write-test-*` file. Skips loudly when mount is not permitted.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { DATABASE_FILE } from '../../src/service/outbox/sqlite/open.js';
import { mountTmpfs, skipLoudly } from '../helpers/tmpfs.js';
import { tempDir, waitFor } from '../service/helpers.js';
import { serveEnv } from '../helpers/serve-env.js';
import { createApiKeyCli, startServe, stopServe } from '../helpers/serve-process.js';

const MASTER_KEY = Buffer.alloc(32, 11).toString('base64');

interface Serve {
  proc: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

function envFor(emulator: Emulator, dataDir: string): Record<string, string> {
  return serveEnv(emulator, dataDir, MASTER_KEY);
}

/** Start `mailgate serve`; resolves when it listens, rejects with its stderr when it exits first. */
async function serve(env: Record<string, string>): Promise<Serve> {
  const c = await startServe(env);
  return { proc: c.proc, url: c.url, stop: () => stopServe(c) };
}

/** Run `mailgate serve` expecting it to refuse to start; returns its exit code and stderr. */
async function refusedStart(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  let started: Serve;
  try {
    started = await serve(env);
  } catch (error) {
    const e = error as { code?: number; stderr?: string };
    if (e.stderr === undefined) throw error;
    return { code: e.code ?? -1, stderr: e.stderr };
  }
  await started.stop();
  assert.fail('serve started, but it must refuse');
}

function sendKey(env: Record<string, string>): string {
  return createApiKeyCli(env, 'storage-test');
}

async function http(url: string, method: string, key: string | undefined, body?: unknown) {
  const r = await fetch(url, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: r.headers.get('content-type')?.includes('json') && text ? JSON.parse(text) : undefined };
}

describe('security replay: storage', () => {
  let emulator: Emulator;
  before(async () => {
    emulator = await startEmulator(undefined, { limits: { messagesPerMinute: Infinity } });
  });
  after(async () => {
    await emulator.stop();
  });

  it('a zero-byte mailgate.db stops the start naming the file, and is never overwritten', async () => {
    const t = tempDir('mailgate-sec-storage-');
    try {
      const env = envFor(emulator, t.dir);
      const key = sendKey(env);
      const s = await serve(env);
      for (let i = 0; i < 3; i++) assert.equal((await http(`${s.url}/api/v1/messages`, 'POST', key, { to: 'a@example.com', subject: `queued ${i}`, text: 't' })).status, 202);
      await s.stop();
      const file = join(t.dir, DATABASE_FILE);
      for (const f of [`${file}-wal`, `${file}-shm`]) if (existsSync(f)) truncateSync(f, 0);
      truncateSync(file, 0);

      const refused = await refusedStart(env);
      assert.equal(refused.code, 1);
      assert.ok(refused.stderr.includes(file), `names the file: ${refused.stderr}`);
      assert.match(refused.stderr, /empty \(0 bytes\)/);
      assert.match(refused.stderr, /left untouched/);
      assert.equal(statSync(file).size, 0, 'the file was not overwritten with a new database');
    } finally {
      t.remove();
    }
  });

  it('a full data directory: 503 storage-full with Retry-After, /readyz 503 then ready again by itself, nothing lost; a start on the full disk says so', async (t) => {
    const fs = mountTmpfs(8 * 1024 * 1024);
    if ('skipReason' in fs) return skipLoudly(t, fs.skipReason);
    const dataDir = join(fs.dir, 'data');
    const env = envFor(emulator, dataDir);
    let s: Serve | undefined;
    try {
      const key = sendKey(env);
      s = await serve(env);
      const url = s.url;
      await waitFor(async () => (await http(`${url}/readyz`, 'GET', undefined)).status === 200, 15_000, 'ready before the disk fills');
      const accepted: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await http(`${url}/api/v1/messages`, 'POST', key, { to: 'a@example.com', subject: `before ${i}`, text: 'kept' });
        assert.equal(r.status, 202);
        accepted.push(r.json.id);
      }

      fs.fill();
      const big = { to: 'a@example.com', subject: 'big', text: 'x'.repeat(1024 * 1024) };
      const refused = await http(`${url}/api/v1/messages`, 'POST', key, big);
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.json.type, 'urn:mailgate:problem:storage-full');
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      const notReady = await http(`${url}/readyz`, 'GET', undefined);
      assert.equal(notReady.status, 503);
      assert.ok(notReady.json.errors.some((e: { key: string }) => e.key === 'storage'), notReady.text);
      assert.match((await http(`${url}/metrics`, 'GET', undefined)).text, /^mailgate_storage_full_total [1-9]\d*$/m);

      fs.free();
      await waitFor(async () => (await http(`${url}/readyz`, 'GET', undefined)).status === 200, 15_000, 'ready again once space returned');
      assert.equal((await http(`${url}/api/v1/messages`, 'POST', key, big)).status, 202);
      for (const id of accepted) {
        const m = await http(`${url}/api/v1/messages/${id}`, 'GET', key);
        assert.equal(m.status, 200, 'a message accepted before the disk filled is still there');
        assert.ok(['queued', 'sending', 'sent', 'retrying'].includes(m.json.status), m.text);
      }
      await s.stop();
      s = undefined;

      const db = readFileSync(join(dataDir, DATABASE_FILE));
      fs.fill();
      const atStart = await refusedStart(env);
      assert.equal(atStart.code, 1);
      assert.match(atStart.stderr, /is full \(no space left on device\)/);
      assert.doesNotMatch(atStart.stderr, /permissions/i);
      assert.deepEqual(readdirSync(dataDir).filter((f) => f.startsWith('.write-test')), [], 'no write-test file left behind');
      assert.deepEqual(readFileSync(join(dataDir, DATABASE_FILE)), db, 'the database is untouched');
    } finally {
      await s?.stop();
      fs.unmount();
    }
  });
});
