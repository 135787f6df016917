/**
 * Throwaway PostgreSQL clusters for the tests: initdb into a temp dir, a unix socket in that
 * dir (no TCP listener, no fixed port), removed at the end.
 *
 * Why: the store contract suite must run on a real PostgreSQL in `npm test`, for a newcomer and
 * in CI, without touching any PostgreSQL the machine already runs. scripts/run-tests.mjs starts
 * ONE cluster for the whole run (MAILGATE_TEST_DATABASE_URL for every test process); a test that
 * stops its database on purpose (the outage tests) starts a private one with `startCluster`.
 * initdb refuses to run as root, so as root the cluster belongs to Debian's `postgres` user.
 *
 * Imports: node only.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Cluster {
  url: string;
  dir: string;
  /** Stop the server (fast shutdown); the data stays. */
  stop(): void;
  /** Start it again after stop(). */
  start(): void;
  /** Stop and remove everything. */
  destroy(): void;
}

/** The newest /usr/lib/postgresql/N/bin that has initdb, or undefined. */
export function findPgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(root, v, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  return undefined;
}

/** uid/gid of the user the cluster runs as: ourselves, or `postgres` when we are root. */
function runAs(): { uid: number; gid: number } | undefined | 'no-user' {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) return 'no-user';
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** Why a cluster cannot be started here, or undefined when it can. */
export function clusterUnavailableReason(): string | undefined {
  if (!findPgBin()) return 'no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql, or run scripts/install-system-deps.sh)';
  if (runAs() === 'no-user') return 'running as root and there is no `postgres` user to run initdb as (install the Debian package postgresql)';
  return undefined;
}

export function startCluster(): Cluster {
  const bin = findPgBin();
  const who = runAs();
  if (!bin || who === 'no-user') throw new Error(clusterUnavailableReason());
  const dir = mkdtempSync(join(tmpdir(), 'mailgate-pg-'));
  if (who) chownSync(dir, who.uid, who.gid);
  const data = join(dir, 'data');
  const port = 20_000 + Math.floor(Math.random() * 40_000);
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(join(bin, cmd), args, { encoding: 'utf8', cwd: dir, ...(who ? { uid: who.uid, gid: who.gid } : {}), env: { ...process.env, LC_ALL: 'C' } });
    if (r.status !== 0) throw new Error(`${cmd} failed (exit ${r.status}): ${r.stderr || r.stdout}`);
  };
  try {
    run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const start = () => run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', `-c listen_addresses='' -k ${dir} -p ${port} -c max_connections=200`, 'start']);
  const stop = () => {
    try {
      run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    } catch {
      /* already stopped */
    }
  };
  try {
    start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `postgres://postgres@localhost:${port}/postgres?host=${encodeURIComponent(dir)}`,
    dir,
    stop,
    start,
    destroy() {
      stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
