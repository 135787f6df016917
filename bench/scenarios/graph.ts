/**
 * Graph scenario (issue 15): N messages of ~11 KB through the service with Transport
 * `graph` (HTTPS sendMail to the sink's Graph endpoint, keep-alive, ≤ 4 requests in flight per
 * app and mailbox) next to the same burst with Transport `smtp` (STARTTLS + XOAUTH2 to the
 * sink, its pool of 3 connections), alternating within each repetition, each a fresh service
 * and database after an uncounted warm-up through the same path.
 *
 * Concurrency: each transport runs at its own per-mailbox limit, which is what Mailgate uses
 * against Microsoft 365: 4 Graph requests (Graph's limit; a fifth gets 429 MailboxConcurrency),
 * 3 SMTP connections (Exchange's limit; MAILGATE_MAX_CONNECTIONS cannot exceed it). The sink
 * counts Graph requests in flight (the peak of the run) as the server sees them.
 */
import { CpuMeter, waitForQuiet } from '../lib/procfs.js';
import { spread, type Spread } from '../lib/stats.js';
import { rotation, type Context } from './context.js';

export type GraphTransportKey = 'smtp' | 'graph';

export interface GraphRun {
  transport: GraphTransportKey;
  rep: number;
  msgsPerS: number | null;
  received: number;
  errors: number;
  firstError?: string;
  /** Graph: requests in flight at the sink at once (peak); SMTP: connections at once (peak). */
  peakConcurrent: number;
  graphRequests: number;
  graphConnectionsOpened: number;
  /** Graph: most TLS connections open at once to the sink's Graph endpoint. */
  graphPeakOpenConnections: number;
  cpuMsPerMsg: number | null;
  loadCpuMsPerMsg: number | null;
  sinkCpuMsPerMsg: number | null;
  machineCores: number;
  backgroundCores: number;
}

export interface GraphOutput {
  messages: number;
  reps: number;
  runs: GraphRun[];
  msgsPerS: Record<GraphTransportKey, Spread>;
  cpuMsPerMsg: Record<GraphTransportKey, Spread>;
  /** Graph msgs/s ÷ SMTP msgs/s, paired within each repetition. */
  ratio: Spread;
  peakConcurrentRequests: number;
  peakSmtpConnections: number;
}

export async function runGraph(ctx: Context): Promise<GraphOutput> {
  if (!ctx.competitors.mailgate) throw new Error('the graph scenario needs the mailgate competitor');
  const { counts } = ctx;
  const runs: GraphRun[] = [];
  for (let rep = 0; rep < counts.graphReps; rep++) {
    for (const t of rotation(['smtp', 'graph'] as const, rep)) runs.push(await measure(ctx, t, rep));
  }
  const by = (t: GraphTransportKey) => runs.filter((r) => r.transport === t);
  const ratio = spread(
    Array.from({ length: counts.graphReps }, (_, rep) => {
      const g = runs.find((r) => r.transport === 'graph' && r.rep === rep)?.msgsPerS;
      const s = runs.find((r) => r.transport === 'smtp' && r.rep === rep)?.msgsPerS;
      return g && s ? g / s : null;
    }),
  );
  return {
    messages: counts.graphMessages,
    reps: counts.graphReps,
    runs,
    msgsPerS: { smtp: spread(by('smtp').map((r) => r.msgsPerS)), graph: spread(by('graph').map((r) => r.msgsPerS)) },
    cpuMsPerMsg: { smtp: spread(by('smtp').map((r) => r.cpuMsPerMsg)), graph: spread(by('graph').map((r) => r.cpuMsPerMsg)) },
    ratio,
    peakConcurrentRequests: Math.max(0, ...by('graph').map((r) => r.peakConcurrent)),
    peakSmtpConnections: Math.max(0, ...by('smtp').map((r) => r.peakConcurrent)),
  };
}

async function measure(ctx: Context, transport: GraphTransportKey, rep: number): Promise<GraphRun> {
  const { counts, sink } = ctx;
  const N = counts.graphMessages;
  await sink.waitClosed(15_000);
  const quiet = await waitForQuiet(counts.quietMaxMs);
  const failed = (e: unknown): GraphRun => ({ transport, rep, msgsPerS: null, received: 0, errors: N, firstError: (e as Error).message, peakConcurrent: 0, graphRequests: 0, graphConnectionsOpened: 0, graphPeakOpenConnections: 0, cpuMsPerMsg: null, loadCpuMsPerMsg: null, sinkCpuMsPerMsg: null, machineCores: 0, backgroundCores: 0 });
  let session;
  try {
    session = await ctx.competitors.mailgate!.open({ transport });
  } catch (e) {
    ctx.log(`  ${transport}: could not start: ${(e as Error).message}`);
    return failed(e);
  }
  try {
    const warm = ctx.runId(`graph-${transport}-warm`);
    await session.burst(warm, counts.burstWarmup);
    const w0 = await sink.wait(warm, counts.burstWarmup, 60_000);
    await sink.forget(warm);
    if (w0.received < counts.burstWarmup) throw new Error(`warm-up: ${w0.received}/${counts.burstWarmup} messages arrived at the sink within 60 s`);

    const run = ctx.runId(`graph-${transport}`);
    await sink.reset();
    const meter = new CpuMeter({ ...session.cpuRoots, sink: [sink.pid] });
    meter.start();
    const r = await session.burst(run, N);
    const w = await sink.wait(run, N, N * 25 + 30_000);
    const cpu = meter.stop();
    await sink.forget(run);
    const per = (k: string) => (cpu.cpuMs[k] === undefined ? null : cpu.cpuMs[k] / N);
    const out: GraphRun = {
      transport,
      rep,
      msgsPerS: w.received === N && w.last !== null ? (N / (w.last - r.start)) * 1000 : null,
      received: w.received,
      errors: r.errors,
      firstError: r.firstError,
      peakConcurrent: transport === 'graph' ? w.graph.peakInFlight : w.peakConnections,
      graphRequests: w.graph.requests,
      graphConnectionsOpened: w.graph.connectionsOpened,
      graphPeakOpenConnections: w.graph.peakOpenConnections,
      cpuMsPerMsg: per(session.sut),
      loadCpuMsPerMsg: per('load'),
      sinkCpuMsPerMsg: per('sink'),
      machineCores: cpu.machineCores,
      backgroundCores: cpu.backgroundCores,
    };
    ctx.log(
      `  rep ${rep + 1} mailgate/${transport.padEnd(5)} ${out.msgsPerS === null ? `FAILED (${w.received}/${N}; ${r.errors} errors${r.firstError ? `: ${r.firstError.slice(0, 200)}` : ''})` : `${out.msgsPerS.toFixed(0).padStart(5)} msgs/s`}` +
        `  peak ${transport === 'graph' ? 'requests in flight' : 'connections'} ${out.peakConcurrent}  cpu ${out.cpuMsPerMsg?.toFixed(2) ?? '–'} ms/msg  machine ${(cpu.machineCores * 100).toFixed(0)}%${quiet.quiet ? '' : ' (machine was busy before the run)'}` +
        (transport === 'graph' ? `  ${out.graphRequests} requests, ${out.graphConnectionsOpened} new TLS connections, ${out.graphPeakOpenConnections} open at most` : ''),
    );
    return out;
  } catch (e) {
    ctx.log(`  ${transport}: ${(e as Error).message}`);
    return failed(e);
  } finally {
    await session.close();
  }
}
