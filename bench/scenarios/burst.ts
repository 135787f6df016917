/**
 * Scenario 1, burst throughput: N messages of ~11 KB queued at once; messages/s from the first
 * submission to the last 250 at the sink. Competitors alternate within each repetition (the
 * order rotates), each run follows an uncounted warm-up through the same path, and each
 * Mailgate run uses a fresh process and database.
 */
import { join } from 'node:path';
import type { CompetitorKey, Session } from '../competitors.js';
import { busiestOtherThread, CpuMeter, ioCounters, mainThreadSched, rssMb, threadScheds, waitForQuiet } from '../lib/procfs.js';
import { SCRATCH } from '../lib/paths.js';
import { percentile, spread, type Spread } from '../lib/stats.js';
import { mergeComponents, summariseProfiles, type ProfileSummary } from '../report/cpu-profile.js';
import { rotation, type Context } from './context.js';

export interface BurstRun {
  competitor: CompetitorKey;
  rep: number;
  msgsPerS: number | null;
  received: number;
  errors: number;
  firstError?: string;
  peakConnections: number;
  connectionsOpened: number;
  authentications: number;
  sutCpuMsPerMsg: number | null;
  cpuMsPerMsg: Record<string, number>;
  machineCores: number;
  backgroundCores: number;
  quietBefore: boolean;
  /** Mailgate: durable accepts per second and the 202 latency during the burst. */
  acceptPerS?: number;
  acceptP50Ms?: number | null;
  acceptP99Ms?: number | null;
  tokenRequests?: number;
  peakRssMb?: number;
  /** Storage writes caused by the system-under-test process, per message (KB), and its cores used. */
  diskKbPerMsg?: number;
  sutCores?: number;
  /**
   * The system-under-test's main thread (event loop), as shares of the run's wall time: on a CPU,
   * runnable but waiting for a CPU (other work on the machine), and neither (idle in epoll, or
   * blocked in a synchronous call such as an fsync).
   */
  mainThread?: { running: number; waitingForCpu: number; sleepingOrBlocked: number };
  /** The busiest other thread of the process (Mailgate: the delivery thread). */
  otherThread?: { name: string; running: number; waitingForCpu: number; restRunning: number };
  /** Store commits per message (Mailgate): durable (fsync) and bookkeeping. */
  commitsPerMsg?: { durable: number; bookkeeping: number };
}

export interface BurstOutput {
  messages: number;
  reps: number;
  runs: BurstRun[];
  msgsPerS: Partial<Record<CompetitorKey, Spread>>;
  sutCpuMsPerMsg: Partial<Record<CompetitorKey, Spread>>;
  peakConnections: Partial<Record<CompetitorKey, number>>;
  ratios: { mailgate_raw: Spread; mailgate_postfix: Spread; mailgate_postfix_default: Spread };
  mailgateAcceptPerS: Spread;
  tokenRequests: number[];
  /** --cpu-prof: an extra, uncounted Mailgate burst run under the V8 profiler. */
  profile?: { msgsPerS: number | null; summaries: ProfileSummary[]; components: { name: string; pct: number }[]; dir: string };
}

export async function runBurst(ctx: Context): Promise<BurstOutput> {
  const { counts } = ctx;
  const keys = (['raw', 'postfix', 'postfix_default', 'mailgate'] as const).filter((k) => ctx.competitors[k]);
  const runs: BurstRun[] = [];
  const N = counts.burstMessages;
  for (let rep = 0; rep < counts.burstReps; rep++) {
    for (const key of rotation(keys, rep)) runs.push(await measureRun(ctx, key, rep));
  }
  const profile = ctx.options.cpuProf && ctx.competitors.mailgate ? await profiledRun(ctx) : undefined;
  return summarise(ctx, keys, runs, profile);
}

/** One measured run of one competitor: quiet machine, fresh session, warm-up, burst, accounting. */
async function measureRun(ctx: Context, key: CompetitorKey, rep: number): Promise<BurstRun> {
  const { counts, sink } = ctx;
  const N = counts.burstMessages;
  await sink.waitClosed(15_000);
  const quiet = await waitForQuiet(counts.quietMaxMs);
  await sink.resetTokens();
  let session: Session;
  try {
    session = await ctx.competitors[key]!.open();
  } catch (e) {
    ctx.log(`  ${key}: could not start: ${(e as Error).message}`);
    return { competitor: key, rep, msgsPerS: null, received: 0, errors: N, firstError: (e as Error).message, peakConnections: 0, connectionsOpened: 0, authentications: 0, sutCpuMsPerMsg: null, cpuMsPerMsg: {}, machineCores: 0, backgroundCores: 0, quietBefore: quiet.quiet };
  }
  try {
    const warm = ctx.runId(`${key}-warm`);
    await session.burst(warm, counts.burstWarmup);
    await sink.wait(warm, counts.burstWarmup, 60_000);
    await sink.forget(warm);

    const run = ctx.runId(`${key}-burst`);
    await sink.reset();
    const meter = new CpuMeter({ ...session.cpuRoots, sink: [sink.pid] });
    const io0 = session.peakRssPid ? ioCounters(session.peakRssPid) : undefined;
    const sched0 = session.peakRssPid ? mainThreadSched(session.peakRssPid) : undefined;
    const threads0 = session.peakRssPid ? threadScheds(session.peakRssPid) : undefined;
    const counters0 = await session.counters?.().catch(() => undefined);
    meter.start();
    const r = await session.burst(run, N);
    const w = await sink.wait(run, N, N * 25 + 30_000);
    const cpu = meter.stop();
    const io1 = session.peakRssPid ? ioCounters(session.peakRssPid) : undefined;
    const sched1 = session.peakRssPid ? mainThreadSched(session.peakRssPid) : undefined;
    const threads1 = session.peakRssPid ? threadScheds(session.peakRssPid) : undefined;
    const counters1 = await session.counters?.().catch(() => undefined);
    await sink.forget(run);
    const msgsPerS = w.received === N && w.last !== null ? (N / (w.last - r.start)) * 1000 : null;
    const perMsg = Object.fromEntries(Object.entries(cpu.cpuMs).map(([k, v]) => [k, v / N]));
    const out: BurstRun = {
      competitor: key,
      rep,
      msgsPerS,
      received: w.received,
      errors: r.errors,
      firstError: r.firstError,
      peakConnections: w.peakConnections,
      connectionsOpened: w.connectionsOpened,
      authentications: w.authentications,
      sutCpuMsPerMsg: perMsg[session.sut] ?? null,
      cpuMsPerMsg: perMsg,
      machineCores: cpu.machineCores,
      backgroundCores: cpu.backgroundCores,
      quietBefore: quiet.quiet,
    };
    if (key === 'mailgate') {
      out.acceptPerS = (N / (r.end - r.start)) * 1000;
      out.acceptP50Ms = percentile(r.acceptLatencies ?? [], 50);
      out.acceptP99Ms = percentile(r.acceptLatencies ?? [], 99);
      out.tokenRequests = (await sink.tokens()).requests;
    }
    if (session.peakRssPid) out.peakRssMb = rssMb(session.peakRssPid)?.peak;
    if (io0 && io1) out.diskKbPerMsg = (io1.writeBytes - io0.writeBytes) / 1024 / N;
    if (sched0 && sched1) {
      const running = (sched1.runMs - sched0.runMs) / cpu.elapsedMs;
      const waitingForCpu = (sched1.waitMs - sched0.waitMs) / cpu.elapsedMs;
      out.mainThread = { running, waitingForCpu, sleepingOrBlocked: Math.max(0, 1 - running - waitingForCpu) };
    }
    const commits = (k: string) => ((counters1?.[k] ?? NaN) - (counters0?.[k] ?? NaN)) / N;
    if (counters0 && counters1) out.commitsPerMsg = { durable: commits('mailgate_store_commits_total_durable'), bookkeeping: commits('mailgate_store_commits_total_bookkeeping') };
    if (process.env.BENCH_THREADS && threads0 && threads1) {
      const rows = [...threads1].map(([tid, e]) => ({ tid, name: e.name, run: (e.runMs - (threads0.get(tid)?.runMs ?? 0)) / cpu.elapsedMs })).filter((r) => r.run > 0.005).sort((a, b) => b.run - a.run);
      ctx.log(`    threads: ${rows.map((r) => `${r.name}#${r.tid} ${(r.run * 100).toFixed(0)}%`).join(', ')}`);
    }
    if (threads0 && threads1 && session.peakRssPid) out.otherThread = busiestOtherThread(session.peakRssPid, threads0, threads1, cpu.elapsedMs);
    if (msgsPerS && out.sutCpuMsPerMsg !== null) out.sutCores = (out.sutCpuMsPerMsg * msgsPerS) / 1000;
    ctx.log(describeRun(out, N));
    return out;
  } finally {
    await session.close();
  }
}

const pct = (v: number) => `${(v * 100).toFixed(0)}%`;

function describeRun(x: BurstRun, N: number): string {
  const head = x.msgsPerS === null
    ? `FAILED (${x.received}/${N} received; ${x.errors} errors${x.firstError ? `: ${x.firstError.slice(0, 200)}` : ''})`
    : `${x.msgsPerS.toFixed(0).padStart(5)} msgs/s`;
  return (
    `  rep ${x.rep + 1} ${x.competitor.padEnd(15)} ${head}  peak conns ${x.peakConnections}  cpu ${x.sutCpuMsPerMsg?.toFixed(2) ?? '–'} ms/msg  machine ${(x.machineCores * 100).toFixed(0)}%` +
    (x.sutCores !== undefined ? `  ${x.sutCores.toFixed(2)} cores` : '') +
    (x.mainThread ? `  main thread ${pct(x.mainThread.running)} running / ${pct(x.mainThread.waitingForCpu)} waiting for CPU / ${pct(x.mainThread.sleepingOrBlocked)} idle or blocked` : '') +
    (x.otherThread && x.otherThread.running > 0.05 ? `  busiest other thread (${x.otherThread.name}) ${pct(x.otherThread.running)} running / ${pct(x.otherThread.waitingForCpu)} waiting, all others ${pct(x.otherThread.restRunning)} running` : '') +
    (x.diskKbPerMsg !== undefined && x.diskKbPerMsg > 0 ? `  ${x.diskKbPerMsg.toFixed(0)} KB written/msg` : '') +
    (x.commitsPerMsg ? `  commits/msg ${x.commitsPerMsg.durable.toFixed(2)} durable + ${x.commitsPerMsg.bookkeeping.toFixed(2)} bookkeeping` : '') +
    (x.acceptPerS ? `  accepts ${x.acceptPerS.toFixed(0)}/s  tokens ${x.tokenRequests}` : '')
  );
}

/** --cpu-prof: one extra Mailgate burst under the V8 profiler, not counted in the figures. */
async function profiledRun(ctx: Context): Promise<BurstOutput['profile']> {
  const { counts, sink } = ctx;
  const N = counts.burstMessages;
  const dir = join(SCRATCH, 'profiles', new Date().toISOString().replace(/[:.]/g, '-'));
  ctx.log(`  extra Mailgate run under --cpu-prof (not counted), profile in ${dir}`);
  await sink.waitClosed(15_000);
  const session = await ctx.competitors.mailgate!.open({ cpuProf: dir });
  let msgsPerS: number | null = null;
  try {
    const warm = ctx.runId('prof-warm');
    await session.burst(warm, counts.burstWarmup);
    await sink.wait(warm, counts.burstWarmup, 60_000);
    const run = ctx.runId('prof');
    const r = await session.burst(run, N);
    const w = await sink.wait(run, N, N * 25 + 30_000);
    if (w.received === N && w.last !== null) msgsPerS = (N / (w.last - r.start)) * 1000;
  } finally {
    await session.close();
  }
  const summaries = summariseProfiles(dir);
  const profile = { msgsPerS, summaries, components: mergeComponents(summaries), dir };
  ctx.log(`  profiled run ${msgsPerS?.toFixed(0)} msgs/s; busy time by component: ${profile.components.slice(0, 6).map((c) => `${c.name} ${c.pct}%`).join(', ')}`);
  return profile;
}

function summarise(ctx: Context, keys: readonly CompetitorKey[], runs: BurstRun[], profile: BurstOutput['profile']): BurstOutput {
  const { counts } = ctx;
  const N = counts.burstMessages;
  const by = (k: CompetitorKey) => runs.filter((r) => r.competitor === k);
  const msgsPerS: BurstOutput['msgsPerS'] = {};
  const sutCpu: BurstOutput['sutCpuMsPerMsg'] = {};
  const peak: BurstOutput['peakConnections'] = {};
  for (const k of keys) {
    msgsPerS[k] = spread(by(k).map((r) => r.msgsPerS));
    sutCpu[k] = spread(by(k).map((r) => r.sutCpuMsPerMsg));
    peak[k] = Math.max(0, ...by(k).map((r) => r.peakConnections));
  }
  const paired = (other: CompetitorKey) =>
    spread(
      Array.from({ length: counts.burstReps }, (_, rep) => {
        const m = runs.find((r) => r.competitor === 'mailgate' && r.rep === rep)?.msgsPerS;
        const o = runs.find((r) => r.competitor === other && r.rep === rep)?.msgsPerS;
        return m && o ? m / o : null;
      }),
    );
  return {
    messages: N,
    reps: counts.burstReps,
    runs,
    msgsPerS,
    sutCpuMsPerMsg: sutCpu,
    peakConnections: peak,
    ratios: { mailgate_raw: paired('raw'), mailgate_postfix: paired('postfix'), mailgate_postfix_default: paired('postfix_default') },
    mailgateAcceptPerS: spread(by('mailgate').map((r) => r.acceptPerS ?? null)),
    tokenRequests: by('mailgate').map((r) => r.tokenRequests ?? -1),
    profile,
  };
}
