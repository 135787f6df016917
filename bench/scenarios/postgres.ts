/**
 * PostgreSQL scenario (issue 18): the service on the PostgreSQL store, next to SQLite in the
 * same run. A throwaway cluster (test/helpers/pg-cluster.ts, compiled: initdb as the `postgres`
 * user when root, a unix socket in a temp dir, no TCP listener, Debian's defaults with fsync on)
 * is started by the scenario and removed at the end; every measured configuration gets a fresh
 * database in it (CREATE DATABASE), as every SQLite run gets a fresh data directory.
 *
 * Measured: the burst (N messages queued at once, first submission → last 250 at the sink, and
 * the 202 latency) with SQLite, with PostgreSQL and 1 instance, and with PostgreSQL and 2
 * instances (half the messages posted to each, concurrently; both run their worker, and the
 * one owning the mailbox delivers); durable enqueues/s across 2 instances with their workers
 * off; and failover: 2 instances, a burst, `kill -9` of the instance owning the mailbox (read
 * from `delivery_owners`) once a third of the messages arrived, then the time from the kill to
 * the sink's next 250 (only the survivor can send after the kill: it is its first delivery of a
 * message the dead owner left queued or claimed). The lease is MAILGATE_LEASE_SECONDS (5 s
 * here), so failover should take at most lease + lease/3.
 *
 * Diagnostics (not figures): MAILGATE_BENCH_PG_STATEMENTS=1 loads pg_stat_statements and logs
 * the statements that took the server's time after each configuration;
 * MAILGATE_BENCH_PG_CPU_PROF=DIR runs the enqueue run's services under node --cpu-prof.
 * MAILGATE_BENCH_PG_ONLY=enqueue runs only the enqueue configuration (A/B of the intake path).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { RpcChild } from '../lib/children.js';
import { nowMs } from '../lib/clock.js';
import { onCleanup } from '../lib/children.js';
import { distModule } from '../lib/paths.js';
import { percentile } from '../lib/stats.js';
import { CpuMeter, waitForQuiet } from '../lib/procfs.js';
import type { RunningService, StartOptions } from '../mailgate/service.js';
import { clusterUnavailableReason, startCluster, type Cluster } from '../../test/helpers/pg-cluster.js';
import type { Context } from './context.js';

export interface PgBurst {
  label: string;
  msgsPerS: number | null;
  acceptP50Ms: number | null;
  acceptP99Ms: number | null;
  maxConnectionsPerMailbox: number;
  peakConnections: number;
  received: number;
  errors: number;
  firstError?: string;
}

export interface PostgresOutput {
  messages: number;
  enqueueMessages: number;
  leaseSeconds: number;
  sqlite: PgBurst | null;
  pg1: PgBurst | null;
  pg2: PgBurst | null;
  enqueuePerS: number | null;
  enqueueErrors: number;
  enqueue: EnqueueResult | null;
  failoverMs: number | null;
  failoverNote: string;
  maxConnectionsPerMailbox: number;
  postgresVersion: string | null;
}

interface BurstReply {
  start: number;
  end: number;
  errors: number;
  firstError?: string;
  acceptLatencies?: number[];
}

async function driverFor(ctx: Context, svc: RunningService, concurrency: number): Promise<RpcChild> {
  const d = new RpcChild(distModule('drivers/http-driver.js'));
  await d.call('init', { baseUrl: svc.baseUrl, apiKey: svc.apiKey, concurrency });
  return d;
}

async function closeDriver(d: RpcChild): Promise<void> {
  await d.call('close', {}, 10_000).catch(() => undefined);
  await d.close();
}

export async function runPostgres(ctx: Context): Promise<PostgresOutput> {
  if (!ctx.mailgate) throw new Error('the postgres scenario needs the mailgate competitor');
  const why = clusterUnavailableReason();
  if (why) throw new Error(`no PostgreSQL cluster can be started: ${why}`);
  const { counts } = ctx;
  const N = counts.pgMessages;
  const lease = counts.pgLeaseSeconds;
  ctx.log('  starting a throwaway PostgreSQL cluster (initdb, unix socket, Debian defaults: fsync on)');
  const cluster: Cluster = startCluster();
  let destroyed = false;
  const destroy = () => {
    if (!destroyed) {
      destroyed = true;
      cluster.destroy();
    }
  };
  onCleanup(destroy);
  // MAILGATE_BENCH_PG_STATEMENTS=1: load pg_stat_statements and log, after each configuration,
  // the statements that took the server's time (for finding where it goes; not for the figures).
  const statements = process.env.MAILGATE_BENCH_PG_STATEMENTS === '1';
  if (statements) {
    const c = new pg.Client({ connectionString: cluster.url });
    await c.connect();
    await c.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
    await c.end();
    cluster.stop();
    cluster.start();
  }
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  if (statements) await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const statementReport = async (label: string): Promise<void> => {
    if (!statements) return;
    const rows = (await admin.query(`SELECT calls, rows, round(total_exec_time::numeric, 1) AS ms, round(total_plan_time::numeric, 1) AS plan_ms,
        left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 110) AS q FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 10`)).rows as { calls: string; rows: string; ms: string; plan_ms: string; q: string }[];
    ctx.log(`  statements during ${label} (calls, rows, exec ms, plan ms):`);
    for (const r of rows) ctx.log(`    ${r.calls.padStart(6)} ${r.rows.padStart(7)} ${String(r.ms).padStart(8)} ${String(r.plan_ms).padStart(6)}  ${r.q}`);
    await admin.query('SELECT pg_stat_statements_reset()');
  };
  let dbn = 0;
  const freshDb = async (): Promise<string> => {
    const name = `bench_${++dbn}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const u = new URL(cluster.url);
    u.pathname = `/${name}`;
    return u.toString();
  };
  const out: PostgresOutput = {
    messages: N,
    enqueueMessages: counts.pgEnqueueMessages,
    leaseSeconds: lease,
    sqlite: null,
    pg1: null,
    pg2: null,
    enqueuePerS: null,
    enqueueErrors: 0,
    enqueue: null,
    failoverMs: null,
    failoverNote: '',
    maxConnectionsPerMailbox: 0,
    postgresVersion: null,
  };
  try {
    out.postgresVersion = ((await admin.query('SHOW server_version')).rows[0] as { server_version: string }).server_version;
    const pgEnv = (url: string): Record<string, string> => ({ MAILGATE_DATABASE_URL: url, MAILGATE_LEASE_SECONDS: String(lease) });
    const tryBurst = async (label: string, fn: () => Promise<PgBurst>): Promise<PgBurst | null> => {
      try {
        const b = await fn();
        await statementReport(label);
        ctx.log(`  ${label.padEnd(26)} ${b.msgsPerS === null ? `FAILED (${b.received}/${N}; ${b.errors} errors${b.firstError ? `: ${b.firstError.slice(0, 200)}` : ''})` : `${b.msgsPerS.toFixed(0).padStart(5)} msgs/s`}  202 p50/p99 ${b.acceptP50Ms?.toFixed(1) ?? '–'}/${b.acceptP99Ms?.toFixed(1) ?? '–'} ms  max ${b.maxConnectionsPerMailbox} connections per mailbox`);
        return b;
      } catch (e) {
        ctx.log(`  ${label}: ${(e as Error).message.split('\n')[0]}`);
        ctx.notes.push(`postgres: ${label} failed: ${(e as Error).message.split('\n')[0]}`);
        return null;
      }
    };
    // MAILGATE_BENCH_PG_ONLY=enqueue: the enqueue configuration alone (a diagnostic run, ~20 s).
    const enqueueOnly = process.env.MAILGATE_BENCH_PG_ONLY === 'enqueue';
    if (enqueueOnly) ctx.notes.push('postgres: MAILGATE_BENCH_PG_ONLY=enqueue: only the enqueue configuration ran (no bursts, no failover)');
    else {
      out.sqlite = await tryBurst('SQLite, 1 instance', () => burst(ctx, 'sqlite', [{}]));
      out.pg1 = await tryBurst('PostgreSQL, 1 instance', async () => burst(ctx, 'pg-1', [{ env: pgEnv(await freshDb()) }]));
      out.pg2 = await tryBurst('PostgreSQL, 2 instances', async () => {
        const url = await freshDb();
        return burst(ctx, 'pg-2', [{ env: pgEnv(url), apiKeyName: 'bench-a' }, { env: pgEnv(url), apiKeyName: 'bench-b' }]);
      });
    }
    out.maxConnectionsPerMailbox = Math.max(0, ...[out.pg1, out.pg2].map((b) => b?.maxConnectionsPerMailbox ?? 0));
    try {
      const e = await enqueue(ctx, pgEnv(await freshDb()), postmasterPid(cluster));
      out.enqueuePerS = e.perS;
      out.enqueueErrors = e.errors;
      out.enqueue = e;
      await statementReport('enqueue');
      ctx.log(`  enqueue, 2 instances, worker off: ${e.perS?.toFixed(0) ?? 'FAILED'} enqueues/s (first ${ctx.counts.pgEnqueueMessages} after start: ${e.coldPerS?.toFixed(0) ?? '–'}/s, ${e.coldCpuMsPerEnqueue?.toFixed(2) ?? '–'} ms of the services' CPU each), 202 p50/p99 ${e.acceptP50Ms?.toFixed(1) ?? '–'}/${e.acceptP99Ms?.toFixed(1) ?? '–'} ms, services' CPU ${e.cpuMsPerEnqueue?.toFixed(2) ?? '–'} ms/enqueue, PostgreSQL server's ${e.serverCpuMsPerEnqueue?.toFixed(2) ?? '–'} ms/enqueue, machine ${((e.machineCores ?? 0) * 100).toFixed(0)}%${e.errors ? ` (${e.errors} errors: ${e.firstError?.slice(0, 200)})` : ''}`);
    } catch (e) {
      ctx.notes.push(`postgres: enqueue failed: ${(e as Error).message.split('\n')[0]}`);
      ctx.log(`  enqueue: ${(e as Error).message}`);
    }
    if (!enqueueOnly) try {
      const f = await failover(ctx, pgEnv(await freshDb()));
      out.failoverMs = f.ms;
      out.failoverNote = f.note;
      out.maxConnectionsPerMailbox = Math.max(out.maxConnectionsPerMailbox, f.maxConnectionsPerMailbox);
      ctx.log(`  failover (kill -9 of the owner, lease ${lease} s): ${f.ms === null ? 'FAILED' : `${f.ms.toFixed(0)} ms`} to the survivor's first delivery; ${f.note}`);
    } catch (e) {
      ctx.notes.push(`postgres: failover failed: ${(e as Error).message.split('\n')[0]}`);
      ctx.log(`  failover: ${(e as Error).message}`);
    }
    return out;
  } finally {
    await admin.end().catch(() => undefined);
    destroy();
  }
}

/** A burst through 1 or 2 instances (one database), the messages split evenly between them. */
async function burst(ctx: Context, label: string, starts: StartOptions[]): Promise<PgBurst> {
  const { counts, sink } = ctx;
  const N = counts.pgMessages;
  await sink.waitClosed(15_000);
  await waitForQuiet(counts.quietMaxMs);
  const svcs: RunningService[] = [];
  const drivers: RpcChild[] = [];
  try {
    for (const s of starts) svcs.push(await ctx.mailgate!.start(s));
    for (const s of svcs) drivers.push(await driverFor(ctx, s, Math.max(1, Math.floor(counts.httpConcurrency / svcs.length))));
    const warm = ctx.runId(`${label}-warm`);
    const W = counts.burstWarmup;
    await Promise.all(drivers.map((d, i) => d.call('burst', { run: warm, count: W / drivers.length, startSeq: (i * W) / drivers.length }, 600_000)));
    const w0 = await sink.wait(warm, W, 60_000);
    await sink.forget(warm);
    if (w0.received < W) throw new Error(`warm-up: ${w0.received}/${W} messages arrived at the sink within 60 s`);
    const run = ctx.runId(label);
    await sink.reset();
    const per = N / drivers.length;
    const rs = await Promise.all(drivers.map((d, i) => d.call<BurstReply>('burst', { run, count: per, startSeq: i * per, acceptTimes: true }, 600_000)));
    const start = Math.min(...rs.map((r) => r.start));
    // A POST that failed (e.g. a keep-alive socket the server closed as it was reused) was not
    // queued: wait for the accepted ones, and count the rate over what arrived (errors recorded).
    const errors = rs.reduce((a, r) => a + r.errors, 0);
    const expected = N - errors;
    const w = await sink.wait(run, expected, N * 50 + 60_000);
    await sink.forget(run);
    const lat = rs.flatMap((r) => r.acceptLatencies ?? []);
    return {
      label,
      msgsPerS: expected > 0 && w.received >= expected && errors <= N / 100 && w.last !== null ? (w.received / (w.last - start)) * 1000 : null,
      acceptP50Ms: percentile(lat, 50),
      acceptP99Ms: percentile(lat, 99),
      maxConnectionsPerMailbox: w.peakConnectionsPerUser,
      peakConnections: w.peakConnections,
      received: w.received,
      errors,
      firstError: rs.find((r) => r.firstError)?.firstError,
    };
  } finally {
    for (const d of drivers) await closeDriver(d);
    for (const s of svcs) await s.stop();
  }
}

/** Durable enqueues/s through 2 instances on one database, their workers off. */
interface EnqueueResult {
  /** The second block of M enqueues through the same processes: the steady-state capacity. */
  perS: number | null;
  /** The first block, right after start (100 warm-up posts per instance). */
  coldPerS?: number | null;
  coldCpuMsPerEnqueue?: number | null;
  errors: number;
  firstError?: string;
  acceptP50Ms?: number | null;
  acceptP99Ms?: number | null;
  /** CPU of both service processes per enqueue (the PostgreSQL server's own is not counted). */
  cpuMsPerEnqueue?: number | null;
  /** CPU of the PostgreSQL server (postmaster, backends, WAL writer, checkpointer) per enqueue. */
  serverCpuMsPerEnqueue?: number | null;
  machineCores?: number;
}

/** The cluster's postmaster (its children are the backends and background processes), when readable. */
function postmasterPid(cluster: Cluster): number | undefined {
  try {
    const pid = Number(readFileSync(join(cluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function enqueue(ctx: Context, env: Record<string, string>, serverPid: number | undefined): Promise<EnqueueResult> {
  const M = ctx.counts.pgEnqueueMessages;
  await waitForQuiet(ctx.counts.quietMaxMs);
  const svcs: RunningService[] = [];
  const drivers: RpcChild[] = [];
  try {
    // MAILGATE_BENCH_PG_CPU_PROF=DIR: both services run under node --cpu-prof (for finding where the time goes; not for the figures).
    const cpuProf = process.env.MAILGATE_BENCH_PG_CPU_PROF ? { cpuProf: process.env.MAILGATE_BENCH_PG_CPU_PROF } : {};
    svcs.push(await ctx.mailgate!.start({ env, paused: true, apiKeyName: 'bench-a', ...cpuProf }));
    svcs.push(await ctx.mailgate!.start({ env, paused: true, apiKeyName: 'bench-b', ...cpuProf }));
    for (const s of svcs) drivers.push(await driverFor(ctx, s, Math.floor(ctx.counts.enqueueConcurrency / 2)));
    await Promise.all(drivers.map((d, i) => d.call('burst', { run: ctx.runId('pg-enqueue-warm'), count: 100, startSeq: i * 100 }, 600_000)));
    // Two measured blocks of M through the same two processes. The first is the fresh pair's
    // figure (reported as pg_enqueue_cold_per_s); the second is the capacity the target is
    // about: the processes' CPU per enqueue keeps falling for the first ~10,000 enqueues (V8's
    // optimizing compiler and heap sizing; 0.58 → 0.31 ms in slices of 5,000, see
    // bench/results/HISTORY.md), which a long-running service pays once per start.
    const measure = async (label: string) => {
      const run = ctx.runId(label);
      const meter = new CpuMeter({ service: svcs.map((s) => s.pid), load: drivers.map((d) => d.pid), ...(serverPid ? { server: [serverPid] } : {}) });
      meter.start();
      const rs = await Promise.all(drivers.map((d, i) => d.call<BurstReply>('burst', { run, count: M / 2, startSeq: (i * M) / 2, acceptTimes: true }, 600_000)));
      const cpu = meter.stop();
      const errors = rs.reduce((a, r) => a + r.errors, 0);
      const span = Math.max(...rs.map((r) => r.end)) - Math.min(...rs.map((r) => r.start));
      return { rs, cpu, errors, perS: errors === 0 ? (M / span) * 1000 : null };
    };
    const cold = await measure('pg-enqueue-cold');
    const { rs, cpu, errors, perS } = cold.errors ? cold : await measure('pg-enqueue');
    const lat = rs.flatMap((r) => r.acceptLatencies ?? []);
    return {
      perS,
      coldPerS: cold.perS,
      coldCpuMsPerEnqueue: cold.cpu.cpuMs.service === undefined ? null : cold.cpu.cpuMs.service / M,
      errors,
      firstError: rs.find((r) => r.firstError)?.firstError,
      acceptP50Ms: percentile(lat, 50),
      acceptP99Ms: percentile(lat, 99),
      cpuMsPerEnqueue: cpu.cpuMs.service === undefined ? null : cpu.cpuMs.service / M,
      serverCpuMsPerEnqueue: cpu.cpuMs.server === undefined ? null : cpu.cpuMs.server / M,
      machineCores: cpu.machineCores,
    };
  } finally {
    for (const d of drivers) await closeDriver(d);
    for (const s of svcs) await s.stop();
  }
}

/** 2 instances, a burst, kill -9 of the mailbox's owner mid-burst; kill → the sink's next 250. */
async function failover(ctx: Context, env: Record<string, string>): Promise<{ ms: number | null; note: string; maxConnectionsPerMailbox: number }> {
  const { counts, sink } = ctx;
  const N = counts.pgMessages;
  await sink.waitClosed(15_000);
  const svcs: RunningService[] = [];
  const drivers: RpcChild[] = [];
  const q = new pg.Client({ connectionString: env.MAILGATE_DATABASE_URL });
  try {
    svcs.push(await ctx.mailgate!.start({ env, apiKeyName: 'bench-a' }));
    svcs.push(await ctx.mailgate!.start({ env, apiKeyName: 'bench-b' }));
    await q.connect();
    for (const s of svcs) drivers.push(await driverFor(ctx, s, Math.floor(counts.httpConcurrency / 2)));
    const warm = ctx.runId('pg-failover-warm');
    await Promise.all(drivers.map((d, i) => d.call('burst', { run: warm, count: 10, startSeq: i * 10 }, 600_000)));
    const w0 = await sink.wait(warm, 20, 60_000);
    await sink.forget(warm);
    if (w0.received < 20) throw new Error(`warm-up: ${w0.received}/20 messages arrived within 60 s`);
    const owners = (await q.query('SELECT mailbox, owner FROM delivery_owners')).rows as { mailbox: string; owner: string }[];
    const ownerPid = Number(owners[0]?.owner.split(':')[1]);
    const victim = svcs.find((s) => s.pid === ownerPid);
    if (!victim) throw new Error(`no instance owns the mailbox (delivery_owners: ${JSON.stringify(owners)}; pids ${svcs.map((s) => s.pid).join(', ')})`);
    const survivor = svcs.find((s) => s !== victim)!;
    const survivorDriver = drivers[svcs.indexOf(survivor)];
    const run = ctx.runId('pg-failover');
    await sink.reset();
    // Queue the whole burst through the survivor (its intake stays up), so the dead owner leaves
    // queued and claimed messages behind; kill the owner once a third has arrived at the sink.
    const posted = survivorDriver.call<BurstReply>('burst', { run, count: N }, 600_000);
    const third = await sink.wait(run, Math.ceil(N / 3), N * 50 + 60_000);
    if (third.received < Math.ceil(N / 3)) throw new Error(`only ${third.received}/${N} delivered before the kill`);
    process.kill(victim.pid, 'SIGKILL');
    const killedAt = nowMs();
    // A POST that failed was not queued (the burst's own rule): wait for the accepted ones.
    const postedReply = await posted;
    const accepted = N - postedReply.errors;
    const w = await sink.wait(run, accepted, (counts.pgLeaseSeconds + 30) * 1000 + N * 50, true);
    await sink.forget(run);
    // A 250 already under way when the process died can land a few ms after the kill; anything
    // 250 ms or more after it can only be the survivor's.
    const after = (w.times ?? []).map(([, t]) => t).filter((t) => t > killedAt + 250).sort((a, b) => a - b);
    const lost = accepted - w.received;
    const refused = postedReply.errors ? ` (${postedReply.errors} POSTs failed, so not queued${postedReply.firstError ? `: ${postedReply.firstError.slice(0, 120)}` : ''})` : '';
    return {
      ms: after.length ? after[0] - killedAt : null,
      note: `${third.received} of ${N} delivered before the kill, ${w.received} in all${refused}${lost ? ` (${lost} accepted but not delivered within the wait)` : ''}; ${after.length} delivered by the survivor`,
      maxConnectionsPerMailbox: w.peakConnectionsPerUser,
    };
  } finally {
    await q.end().catch(() => undefined);
    for (const d of drivers) await closeDriver(d);
    for (const s of svcs) await s.stop();
  }
}
