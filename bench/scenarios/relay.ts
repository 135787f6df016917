/**
 * Scenario 7, the SMTP relay (issue 14): what a printer, scanner or legacy application sees when
 * it submits to Mailgate's relay, side by side with Postfix as the submission relay an
 * administrator would install instead.
 *
 * (a) Intake: N pre-built ~11 KB messages over 3 STARTTLS connections (the device side: a
 *     nodemailer pool with a username and password), messages/s from the first submission until
 *     the last `250`, and each message's DATA→250 time (354 → final reply). Mailgate runs with its
 *     delivery worker off (MAILGATE_WORKER=off), Postfix with every message put on hold, so both
 *     only accept durably: a 250 from either means the message is on disk.
 * (b) End to end: device → relay → sink, delivery on: Mailgate's worker with its pool of 3
 *     versus Postfix relaying over STARTTLS with SASL and TLS connection reuse, destination
 *     concurrency 3; messages/s from the first submission to the last 250 at the sink, and the
 *     peak number of connections at the sink (Exchange Online allows 3 per mailbox).
 *
 * Each Mailgate run is a fresh process and data directory; Postfix's hold queue is emptied
 * between runs; every run follows an uncounted warm-up through the same path, and the order
 * alternates between repetitions. Two Postfix instances of their own (ports 10027, 10028) are
 * started for this scenario and stopped at its end. Unless --no-cpu-prof, one extra, uncounted
 * Mailgate intake run goes under `node --cpu-prof`, so a missed target comes with where the
 * service's time went.
 */
import { join } from 'node:path';
import { onCleanup, RpcChild } from '../lib/children.js';
import { distModule, SCRATCH } from '../lib/paths.js';
import { mergeComponents, summariseProfiles } from '../report/cpu-profile.js';
import { CpuMeter, waitForQuiet } from '../lib/procfs.js';
import { percentile, spread, type Spread } from '../lib/stats.js';
import type { RunningService } from '../mailgate/service.js';
import { heldCount, masterPid, purgeQueue, startPostfix, stopPostfix, type PostfixInstance } from '../postfix/postfix.js';
import { rotation, type Context } from './context.js';

export type RelayCompetitor = 'mailgate' | 'postfix';
export type RelayPhase = 'intake' | 'e2e';

export interface RelayRun {
  phase: RelayPhase;
  competitor: RelayCompetitor;
  rep: number;
  messages: number;
  msgsPerS: number | null;
  /** Intake: DATA→250 (354 → final reply) percentiles, ms (nodemailer's messageTime: whole ms). */
  dataP50Ms?: number | null;
  dataP99Ms?: number | null;
  /** End to end: peak simultaneous connections at the sink, messages received. */
  peakConnections?: number;
  received?: number;
  /** Intake, Postfix: messages found in the hold queue after the run (should be all). */
  held?: number;
  errors: number;
  firstError?: string;
  /** CPU ms per message of the system under test (the service process; all Postfix processes). */
  sutCpuMsPerMsg: number | null;
  machineCores: number;
  backgroundCores: number;
}

export interface RelayOutput {
  messages: number;
  e2eMessages: number;
  reps: number;
  runs: RelayRun[];
  intake: Partial<Record<RelayCompetitor, Spread>>;
  dataP99: Partial<Record<RelayCompetitor, Spread>>;
  dataP50: Partial<Record<RelayCompetitor, Spread>>;
  e2e: Partial<Record<RelayCompetitor, Spread>>;
  cpu: Partial<Record<`${RelayPhase}_${RelayCompetitor}`, Spread>>;
  /** Peak connections to the sink during Mailgate's end-to-end runs (the issue's figure). */
  peakConnections: number | null;
  postfixPeakConnections: number | null;
  ratios: { intake: Spread; e2e: Spread };
  postfixSetUp: string;
  /** The extra, uncounted Mailgate intake run under --cpu-prof. */
  profile?: { msgsPerS: number | null; busyMs: number; components: { name: string; pct: number }[]; functions: { name: string; ms: number; pct: number }[]; dir: string };
}

interface Burst {
  start: number;
  end: number;
  errors: number;
  firstError?: string;
  dataTimes?: number[];
}

const POSTFIX_HOLD_PORT = 10027;
const POSTFIX_RELAY_PORT = 10028;

export async function runRelay(ctx: Context): Promise<RelayOutput> {
  const { counts } = ctx;
  const keys: RelayCompetitor[] = [];
  if (ctx.mailgate) keys.push('mailgate');
  else ctx.notes.push('relay: Mailgate could not run; its figures are null.');
  let hold: PostfixInstance | undefined;
  let relay: PostfixInstance | undefined;
  if (ctx.postfixUnavailable) ctx.notes.push(`relay: Postfix figures are null: ${ctx.postfixUnavailable}`);
  else {
    try {
      const common = { scratch: SCRATCH, sinkPort: ctx.sink.smtpPort, caFile: ctx.certFiles.certPath, smtpdTls: { certFile: ctx.certFiles.certPath, keyFile: ctx.certFiles.keyPath } };
      const started = await Promise.allSettled([
        startPostfix({ ...common, name: 'postfix_relay_hold', reuse: true, smtpdPort: POSTFIX_HOLD_PORT, hold: true }),
        startPostfix({ ...common, name: 'postfix_relay', reuse: true, smtpdPort: POSTFIX_RELAY_PORT }),
      ]);
      const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure) {
        for (const r of started) if (r.status === 'fulfilled') stopPostfix(r.value);
        throw failure.reason;
      }
      [hold, relay] = started.map((r) => (r as PromiseFulfilledResult<PostfixInstance>).value);
      for (const inst of [hold!, relay!]) onCleanup(() => stopPostfix(inst)); // also on Ctrl-C (stopping twice is harmless)
      keys.push('postfix');
      ctx.log(`relay: Postfix submission relays started (STARTTLS required; intake on ${POSTFIX_HOLD_PORT} with every message held, end to end on ${POSTFIX_RELAY_PORT} with TLS reuse)`);
    } catch (e) {
      ctx.notes.push(`relay: Postfix could not start: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const runs: RelayRun[] = [];
  try {
    for (let rep = 0; rep < counts.relayReps; rep++) {
      for (const key of rotation(keys, rep)) runs.push(await intakeRun(ctx, key, rep, hold));
      for (const key of rotation(keys, rep + 1)) runs.push(await e2eRun(ctx, key, rep, relay));
    }
  } finally {
    for (const inst of [hold, relay]) if (inst) stopPostfix(inst);
  }
  const out = summarise(ctx, runs);
  if (ctx.options.cpuProf && ctx.mailgate) out.profile = await profiledIntake(ctx).catch((e: Error) => (ctx.log(`  relay: profiled run failed: ${e.message}`), undefined));
  return out;
}

/** --cpu-prof: one extra Mailgate intake run under the V8 profiler, not counted in the figures. */
async function profiledIntake(ctx: Context): Promise<RelayOutput['profile']> {
  const N = ctx.counts.relayMessages;
  const dir = join(SCRATCH, 'profiles', `relay-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  ctx.log(`  extra Mailgate relay intake under --cpu-prof (not counted), profile in ${dir}`);
  const svc = await ctx.mailgate!.start({ paused: true, cpuProf: dir, relay: { certPath: ctx.certFiles.certPath, keyPath: ctx.certFiles.keyPath } });
  const d = driver();
  let msgsPerS: number | null = null;
  try {
    if (!svc.relay) throw new Error('the service did not start its SMTP relay');
    await initDevice(ctx, d, svc.relay.port, { user: svc.relay.username, pass: svc.relay.password });
    await d.call<Burst>('burst', { run: ctx.runId('relay-prof-warm'), count: ctx.counts.relayWarmup }, 600_000);
    const r = await d.call<Burst>('burst', { run: ctx.runId('relay-prof'), count: N }, 600_000);
    if (!r.errors) msgsPerS = (N / (r.end - r.start)) * 1000;
  } finally {
    await d.call('close', {}, 10_000).catch(() => undefined);
    await d.close();
    await svc.stop(); // SIGTERM: the profile is written on exit
  }
  const summaries = summariseProfiles(dir);
  const profile = { msgsPerS, busyMs: summaries.reduce((a, x) => a + x.busyMs, 0), components: mergeComponents(summaries), functions: summaries[0]?.functions ?? [], dir };
  ctx.log(`  profiled relay intake ${f(msgsPerS)} msgs/s; busy time by component: ${profile.components.slice(0, 6).map((c) => `${c.name} ${c.pct}%`).join(', ')}`);
  return profile;
}

function driver(): RpcChild {
  return new RpcChild(distModule('drivers/smtp-driver.js'));
}

async function initDevice(ctx: Context, d: RpcChild, port: number, credentials: { user: string; pass: string }): Promise<void> {
  await d.call('init', { host: '127.0.0.1', port, tls: true, ca: ctx.ca, password: credentials, maxConnections: 3, prebuilt: true });
}

/** A fresh Mailgate with the relay on; the caller stops it. */
async function startMailgate(ctx: Context, paused: boolean): Promise<RunningService & { relay: NonNullable<RunningService['relay']> }> {
  const svc = await ctx.mailgate!.start({ paused, relay: { certPath: ctx.certFiles.certPath, keyPath: ctx.certFiles.keyPath } });
  if (!svc.relay) {
    await svc.stop();
    throw new Error('the service did not start its SMTP relay');
  }
  return svc as RunningService & { relay: NonNullable<RunningService['relay']> };
}

function failed(phase: RelayPhase, competitor: RelayCompetitor, rep: number, messages: number, e: unknown): RelayRun {
  return { phase, competitor, rep, messages, msgsPerS: null, errors: messages, firstError: (e as Error).message.split('\n')[0], sutCpuMsPerMsg: null, machineCores: 0, backgroundCores: 0 };
}

// Postfix's smtpd offers no AUTH here (mynetworks relay); nodemailer then does not authenticate.
const POSTFIX_DEVICE = { user: 'device', pass: 'unused-by-postfix' };

/** (a) One intake run: durable accepts only (Mailgate's worker off; Postfix holds every message). */
async function intakeRun(ctx: Context, key: RelayCompetitor, rep: number, hold: PostfixInstance | undefined): Promise<RelayRun> {
  const N = ctx.counts.relayMessages;
  await waitForQuiet(ctx.counts.quietMaxMs);
  let svc: Awaited<ReturnType<typeof startMailgate>> | undefined;
  const d = driver();
  try {
    let roots: Record<string, number[]>;
    if (key === 'mailgate') {
      svc = await startMailgate(ctx, true);
      await initDevice(ctx, d, svc.relay.port, { user: svc.relay.username, pass: svc.relay.password });
      roots = { sut: [svc.pid], device: [d.pid] };
    } else {
      purgeQueue(hold!);
      const master = masterPid(hold!);
      if (master === undefined) throw new Error('Postfix (hold) is not running');
      await initDevice(ctx, d, hold!.smtpdPort, POSTFIX_DEVICE);
      roots = { sut: [master], device: [d.pid] };
    }
    const warm = await d.call<Burst>('burst', { run: ctx.runId(`relay-${key}-warm`), count: ctx.counts.relayWarmup }, 600_000);
    if (warm.errors) throw new Error(`warm-up: ${warm.errors} errors: ${warm.firstError}`);
    const meter = new CpuMeter({ ...roots, sink: [ctx.sink.pid] });
    meter.start();
    const r = await d.call<Burst>('burst', { run: ctx.runId(`relay-${key}-intake`), count: N, dataTimes: true }, 600_000);
    const cpu = meter.stop();
    const out: RelayRun = {
      phase: 'intake',
      competitor: key,
      rep,
      messages: N,
      msgsPerS: r.errors ? null : (N / (r.end - r.start)) * 1000,
      dataP50Ms: percentile(r.dataTimes ?? [], 50),
      dataP99Ms: percentile(r.dataTimes ?? [], 99),
      errors: r.errors,
      firstError: r.firstError,
      sutCpuMsPerMsg: cpu.cpuMs.sut / N,
      machineCores: cpu.machineCores,
      backgroundCores: cpu.backgroundCores,
    };
    if (key === 'postfix') out.held = heldCount(hold!);
    ctx.log(describe(out));
    return out;
  } catch (e) {
    ctx.log(`  relay intake ${key}: FAILED: ${(e as Error).message.split('\n')[0]}`);
    return failed('intake', key, rep, N, e);
  } finally {
    await d.call('close', {}, 10_000).catch(() => undefined);
    await d.close();
    await svc?.stop();
    if (key === 'postfix' && hold) purgeQueue(hold);
  }
}

/** (b) One end-to-end run: device → relay → sink. */
async function e2eRun(ctx: Context, key: RelayCompetitor, rep: number, relay: PostfixInstance | undefined): Promise<RelayRun> {
  const N = ctx.counts.relayE2eMessages;
  const { sink } = ctx;
  await sink.waitClosed(15_000);
  await waitForQuiet(ctx.counts.quietMaxMs);
  let svc: Awaited<ReturnType<typeof startMailgate>> | undefined;
  const d = driver();
  try {
    let roots: Record<string, number[]>;
    if (key === 'mailgate') {
      svc = await startMailgate(ctx, false);
      await initDevice(ctx, d, svc.relay.port, { user: svc.relay.username, pass: svc.relay.password });
      roots = { sut: [svc.pid], device: [d.pid] };
    } else {
      const master = masterPid(relay!);
      if (master === undefined) throw new Error('Postfix (relay) is not running');
      await initDevice(ctx, d, relay!.smtpdPort, POSTFIX_DEVICE);
      roots = { sut: [master], device: [d.pid] };
    }
    const warm = ctx.runId(`relay-${key}-e2e-warm`);
    const w0 = await d.call<Burst>('burst', { run: warm, count: ctx.counts.relayWarmup }, 600_000);
    if (w0.errors) throw new Error(`warm-up: ${w0.errors} errors: ${w0.firstError}`);
    await sink.wait(warm, ctx.counts.relayWarmup, 60_000);
    await sink.forget(warm);
    const run = ctx.runId(`relay-${key}-e2e`);
    await sink.reset();
    const meter = new CpuMeter({ ...roots, sink: [sink.pid] });
    meter.start();
    const r = await d.call<Burst>('burst', { run, count: N }, 600_000);
    const w = await sink.wait(run, N, N * 25 + 30_000);
    const cpu = meter.stop();
    await sink.forget(run);
    const out: RelayRun = {
      phase: 'e2e',
      competitor: key,
      rep,
      messages: N,
      msgsPerS: w.received === N && w.last !== null ? (N / (w.last - r.start)) * 1000 : null,
      peakConnections: w.peakConnections,
      received: w.received,
      errors: r.errors,
      firstError: r.firstError,
      sutCpuMsPerMsg: cpu.cpuMs.sut / N,
      machineCores: cpu.machineCores,
      backgroundCores: cpu.backgroundCores,
    };
    ctx.log(describe(out));
    return out;
  } catch (e) {
    ctx.log(`  relay e2e ${key}: FAILED: ${(e as Error).message.split('\n')[0]}`);
    return failed('e2e', key, rep, N, e);
  } finally {
    await d.call('close', {}, 10_000).catch(() => undefined);
    await d.close();
    await svc?.stop();
  }
}

const f = (v: number | null | undefined, d = 0) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '–');

function describe(x: RelayRun): string {
  const head = x.msgsPerS === null ? `FAILED (${x.errors} errors${x.firstError ? `: ${x.firstError.slice(0, 200)}` : ''}${x.received !== undefined ? `; ${x.received}/${x.messages} at the sink` : ''})` : `${f(x.msgsPerS).padStart(5)} msgs/s`;
  return (
    `  rep ${x.rep + 1} relay ${x.phase.padEnd(6)} ${x.competitor.padEnd(8)} ${head}` +
    (x.phase === 'intake' ? `  DATA→250 p50 ${f(x.dataP50Ms)} / p99 ${f(x.dataP99Ms)} ms` : `  peak conns ${x.peakConnections ?? '–'}`) +
    (x.held !== undefined ? `  held ${x.held}` : '') +
    `  cpu ${f(x.sutCpuMsPerMsg, 2)} ms/msg  machine ${f(x.machineCores * 100)}%`
  );
}

function summarise(ctx: Context, runs: RelayRun[]): RelayOutput {
  const { counts } = ctx;
  const pick = (phase: RelayPhase, k: RelayCompetitor) => runs.filter((r) => r.phase === phase && r.competitor === k);
  const out: RelayOutput = {
    messages: counts.relayMessages,
    e2eMessages: counts.relayE2eMessages,
    reps: counts.relayReps,
    runs,
    intake: {},
    dataP99: {},
    dataP50: {},
    e2e: {},
    cpu: {},
    peakConnections: null,
    postfixPeakConnections: null,
    ratios: { intake: spread([]), e2e: spread([]) },
    postfixSetUp: `smtpd with STARTTLS required (TLS 1.2+), relaying for mynetworks (no SASL); intake: every message held (check_client_access static:HOLD); end to end: relayhost = the sink over STARTTLS with SASL, smtp_tls_connection_reuse = yes, destination concurrency 3`,
  };
  for (const k of ['mailgate', 'postfix'] as const) {
    out.intake[k] = spread(pick('intake', k).map((r) => r.msgsPerS));
    out.dataP99[k] = spread(pick('intake', k).map((r) => r.dataP99Ms ?? null));
    out.dataP50[k] = spread(pick('intake', k).map((r) => r.dataP50Ms ?? null));
    out.e2e[k] = spread(pick('e2e', k).map((r) => r.msgsPerS));
    out.cpu[`intake_${k}`] = spread(pick('intake', k).map((r) => r.sutCpuMsPerMsg));
    out.cpu[`e2e_${k}`] = spread(pick('e2e', k).map((r) => r.sutCpuMsPerMsg));
  }
  const peaks = (k: RelayCompetitor) => pick('e2e', k).map((r) => r.peakConnections).filter((p): p is number => typeof p === 'number');
  out.peakConnections = peaks('mailgate').length ? Math.max(...peaks('mailgate')) : null;
  out.postfixPeakConnections = peaks('postfix').length ? Math.max(...peaks('postfix')) : null;
  const paired = (phase: RelayPhase) =>
    spread(
      Array.from({ length: counts.relayReps }, (_, rep) => {
        const m = runs.find((r) => r.phase === phase && r.competitor === 'mailgate' && r.rep === rep)?.msgsPerS;
        const p = runs.find((r) => r.phase === phase && r.competitor === 'postfix' && r.rep === rep)?.msgsPerS;
        return m && p ? m / p : null;
      }),
    );
  out.ratios = { intake: paired('intake'), e2e: paired('e2e') };
  return out;
}
