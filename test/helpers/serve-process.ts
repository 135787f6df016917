/**
 * `mailgate serve` as a child process for the end-to-end tests that kill, restart or run several
 * instances (the crash test, the PostgreSQL failover, multi-instance and admin-session tests):
 * start it and wait for its "listening on" line, stop it cleanly, create an API key through the
 * CLI on the same store, and a fresh PostgreSQL database for a group of instances.
 *
 * Why one helper: these tests spawned and stopped the service with copies of the same code.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const MAIN = 'dist/src/cli/main.js';

export interface ServeChild {
  proc: ChildProcess;
  url: string;
  stderr: () => string;
  stdout: () => string;
  /** The match of `options.also` on stdout, when asked for. */
  also?: RegExpExecArray;
}

/** Why `serve` did not become ready: its exit code and stderr (for tests of a refused start). */
export interface ServeExit extends Error { code: number | null; stderr: string }

/**
 * Starts `mailgate serve` with `env` added to ours; resolves with its URL once it listens (and,
 * with `also`, once stdout also matches it, e.g. the relay's line); rejects with a ServeExit when
 * it exits first.
 */
export function startServe(env: Record<string, string>, options: { also?: RegExp } = {}): Promise<ServeChild> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [MAIN, 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stderr!.on('data', (d) => (err += String(d)));
    proc.stdout!.on('data', (d) => {
      out += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      const also = options.also ? options.also.exec(out) ?? undefined : undefined;
      if (m && (!options.also || also)) resolve({ proc, url: m[1]!, stderr: () => err, stdout: () => out, ...(also ? { also } : {}) });
    });
    proc.once('exit', (code) => reject(Object.assign(new Error(`serve exited with ${code} before it was ready:\n${err}\n${out}`), { code, stderr: err })));
  });
}

/** Whether the child has exited (or was killed). */
export function exited(c: ServeChild | undefined): boolean {
  return !c || c.proc.exitCode !== null || c.proc.signalCode !== null;
}

/** SIGTERM and wait for the exit (no-op when it already exited). */
export async function stopServe(c: ServeChild | undefined): Promise<void> {
  if (!c || exited(c)) return;
  const gone = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGTERM');
  await gone;
}

/** `mailgate apikey create NAME --scope send --json` on the store `env` names; returns the key. */
export function createApiKeyCli(env: Record<string, string>, name: string): string {
  const created = spawnSync(process.execPath, [MAIN, 'apikey', 'create', name, '--scope', 'send', '--json'], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(created.status, 0, created.stderr);
  return (JSON.parse(created.stdout) as { key: string }).key;
}

/** A new, empty database on the cluster of `serverUrl`, for instances that share it; `drop` removes it. */
export async function freshDatabase(serverUrl: string, prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    },
  };
}
