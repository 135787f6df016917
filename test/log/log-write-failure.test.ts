/**
 * `mailgate serve` whose log lines cannot be written: stderr is a file on a full disk (here
 * /dev/full: every write fails with ENOSPC, as a log file sharing the data dir's full disk does)
 * or a pipe whose reader went away (`mailgate serve 2>&1 | tee ...` with tee gone: EPIPE).
 * Node reports a failed write as an 'error' event on process.stderr, and nobody listened: the
 * service ended right after its first log line (exit 1), although a full disk is meant to be a
 * 503, not an outage. Asserted: the service keeps answering.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { describe, it } from 'node:test';
import { tempDir } from '../service/helpers.js';

const MAIN = 'dist/src/cli/main.js';
const MASTER_KEY = Buffer.alloc(32, 3).toString('base64');

/** Starts serve with `stderr` as its fd 2; resolves with its URL once it listens (or rejects when it exits first). */
function serve(dir: string, stderr: number | 'pipe'): { proc: ChildProcess; ready: Promise<string> } {
  const proc = spawn(process.execPath, [MAIN, 'serve'], {
    env: { ...process.env, MAILGATE_DATA_DIR: dir, MAILGATE_HTTP_PORT: '0', MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', stderr],
  });
  const ready = new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`serve exited with ${code} before it was ready`)));
  });
  return { proc, ready };
}

/** The service answers /healthz for a second, and has not exited. */
async function keepsAnswering(proc: ChildProcess, url: string): Promise<void> {
  const end = Date.now() + 1000;
  while (Date.now() < end) {
    const r = await fetch(`${url}/healthz`).catch((e: unknown) => e as Error);
    assert.ok(!(r instanceof Error), `the service answers (exit code ${proc.exitCode}): ${r instanceof Error ? r.message : ''}`);
    assert.equal(r.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(proc.exitCode, null, 'still running');
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  await gone;
}

describe('serve when its log lines cannot be written', () => {
  it('keeps running with stderr on a full disk (ENOSPC)', { skip: existsSync('/dev/full') ? false : 'no /dev/full on this system' }, async () => {
    const t = tempDir();
    const full = openSync('/dev/full', 'w');
    const { proc, ready } = serve(t.dir, full);
    closeSync(full);
    try {
      await keepsAnswering(proc, await ready);
    } finally {
      await stop(proc);
      t.remove();
    }
  });

  it('keeps running when the reader of its stderr pipe went away (EPIPE)', async () => {
    const t = tempDir();
    const { proc, ready } = serve(t.dir, 'pipe');
    proc.stderr!.destroy();
    try {
      await keepsAnswering(proc, await ready);
    } finally {
      await stop(proc);
      t.remove();
    }
  });
});
