/**
 * `npm run dev` under a process manager (or a terminal's close) that sends SIGTERM to npm only:
 * npm forwards the signal to the script's shell, and a shell waiting on `node` does not pass it
 * on, so the dev server was left running on its ports with no parent. The script now `exec`s
 * node, so npm's child is the server itself and the signal reaches it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };

/** Every descendant pid of `pid` (from ps, so it sees processes npm spawned through a shell). */
function descendants(pid: number): number[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' });
  const rows = ps.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const out: number[] = [];
  const walk = (p: number) => { for (const [c, pp] of rows) if (pp === p) { out.push(c); walk(c); } };
  walk(pid);
  return out;
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

describe('npm run dev', () => {
  it('execs node, so the script has no shell in between', () => {
    assert.match(pkg.scripts.dev, /^exec node /);
  });

  it('stops the dev server when npm alone receives SIGTERM', { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailgate-npm-dev-'));
    const env: Record<string, string> = { npm_config_update_notifier: 'false', MAILGATE_LOG_LEVEL: 'warn' };
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('MAILGATE_') && !k.startsWith('npm_')) env[k] = v;
    const npm = spawn('npm', ['run', '--silent', 'dev', '--', '--port', '0', '--data-dir', dir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    npm.stdout!.on('data', (d) => (out += String(d)));
    npm.stderr!.on('data', (d) => (out += String(d)));
    let kids: number[] = [];
    try {
      const started = Date.now();
      while (!out.includes('Press Ctrl-C to stop.') && npm.exitCode === null && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 100));
      assert.ok(out.includes('Press Ctrl-C to stop.'), `dev did not start:\n${out}`);
      kids = descendants(npm.pid!);
      assert.ok(kids.length > 0, 'npm has no child process');
      const exited = new Promise<void>((r) => npm.once('exit', () => r()));
      npm.kill('SIGTERM');
      await exited;
      const deadline = Date.now() + 15_000;
      while (kids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(kids.filter(alive), [], 'processes left running after npm got SIGTERM');
    } finally {
      for (const k of kids) if (alive(k)) process.kill(k, 'SIGKILL');
      if (npm.exitCode === null) npm.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
