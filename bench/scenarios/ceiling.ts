/**
 * The sink's own ceiling: pre-built messages over STARTTLS + XOAUTH2 from several client
 * processes and many connections, to show the sink is never the bottleneck. The sink's CPU per
 * message gives what it alone could take per core (the clients are the limit on 2 cores).
 */
import { RpcChild } from '../lib/children.js';
import { CpuMeter, waitForQuiet } from '../lib/procfs.js';
import { distModule } from '../lib/paths.js';
import { spread, type Spread } from '../lib/stats.js';
import type { Context } from './context.js';

export interface CeilingOutput {
  messages: number;
  processes: number;
  connectionsPerProcess: number;
  msgsPerS: Spread;
  sinkCpuMsPerMsg: Spread;
  /** 1000 / sink CPU per message: what the sink alone could take on one core. */
  sinkAlonePerCorePerS: number | null;
  peakConnections: number;
}

export async function runCeiling(ctx: Context): Promise<CeilingOutput> {
  const { counts, sink } = ctx;
  const P = counts.ceilingProcesses;
  const per = Math.floor(counts.ceilingMessages / P);
  const N = per * P;
  const rates: number[] = [];
  const cpus: number[] = [];
  let peak = 0;
  for (let rep = 0; rep < counts.ceilingReps; rep++) {
    await sink.waitClosed(15_000);
    await waitForQuiet(counts.quietMaxMs);
    const drivers = Array.from({ length: P }, () => new RpcChild(distModule('drivers/smtp-driver.js')));
    try {
      await Promise.all(
        drivers.map((d) => d.call('init', { host: '127.0.0.1', port: sink.smtpPort, tls: true, ca: ctx.ca, token: sink.token, maxConnections: counts.ceilingConnectionsPerProcess, prebuilt: true })),
      );
      const warm = ctx.runId('ceiling-warm');
      await Promise.all(drivers.map((d, i) => d.call('burst', { run: warm, count: 50, startSeq: i * 50 })));
      await sink.forget(warm);
      const run = ctx.runId('ceiling');
      await sink.reset();
      const meter = new CpuMeter({ sink: [sink.pid], clients: drivers.map((d) => d.pid) });
      meter.start();
      const results = await Promise.all(drivers.map((d, i) => d.call<{ start: number }>('burst', { run, count: per, startSeq: i * per }, 600_000)));
      const w = await sink.wait(run, N, 120_000);
      const cpu = meter.stop();
      await sink.forget(run);
      const start = Math.min(...results.map((r) => r.start));
      if (w.received === N && w.last !== null) rates.push((N / (w.last - start)) * 1000);
      cpus.push(cpu.cpuMs.sink / N);
      peak = Math.max(peak, w.peakConnections);
      ctx.log(`  ceiling rep ${rep + 1}: ${rates.at(-1)?.toFixed(0) ?? 'FAILED'} msgs/s over ${P}×${counts.ceilingConnectionsPerProcess} connections; sink ${(cpu.cpuMs.sink / N).toFixed(3)} ms CPU/msg; clients ${(cpu.cpuMs.clients / N).toFixed(3)} ms CPU/msg; machine ${(cpu.machineCores * 100).toFixed(0)}%`);
    } finally {
      await Promise.all(drivers.map(async (d) => {
        await d.call('close', {}, 5000).catch(() => undefined);
        await d.close();
      }));
    }
  }
  const cpu = spread(cpus);
  return {
    messages: N,
    processes: P,
    connectionsPerProcess: counts.ceilingConnectionsPerProcess,
    msgsPerS: spread(rates),
    sinkCpuMsPerMsg: cpu,
    sinkAlonePerCorePerS: cpu.median ? 1000 / cpu.median : null,
    peakConnections: peak,
  };
}
