/**
 * Scenario 5, enqueue capacity and memory: durable enqueues per second through the API with the
 * delivery worker paused (every 202 means the message is committed), and the service's peak
 * RSS (VmHWM) once the queue holds the configured number of messages (100,000 in a full run).
 * A full run also measures it with 1,000,000 queued: the first 900,000 written straight into the
 * database before the service starts (bench/lib/prefill.ts), the last 100,000 through the API,
 * so the figure is comparable with the 100,000 one and shows whether anything grows with the queue.
 */
import { RpcChild } from '../lib/children.js';
import { nowMs, sleep } from '../lib/clock.js';
import { distModule } from '../lib/paths.js';
import { CpuMeter, rssMb } from '../lib/procfs.js';
import { prefillQueued } from '../lib/prefill.js';
import { percentile, spread, type Spread } from '../lib/stats.js';
import type { Context } from './context.js';

export interface CapacityOutput {
  enqueueMessages: number;
  concurrency: number;
  enqueuePerS: Spread;
  acceptP50Ms: number | null;
  acceptP99Ms: number | null;
  cpuMsPerEnqueue: Spread;
  rssQueued: number;
  peakRssMb: number | null;
  rssAfterMb: number | null;
  /** Largest anonymous (heap, buffers) and file-backed parts of the RSS seen while filling. */
  peakAnonMb: number | null;
  peakFileMb: number | null;
  /** RSS after each chunk of the fill: does memory grow with the queue? */
  curve: { queued: number; rssMb: number; anonMb: number; fileMb: number }[];
  heapCapped?: { capMb: number; peakRssMb: number | null; peakAnonMb: number | null; enqueuePerS: number | null; errors: number };
  rssEnqueuePerS: number | null;
  /** Full run: the same fill on top of a queue prefilled to `large.queued` in total. */
  large?: { queued: number; prefilled: number; peakRssMb: number | null; peakAnonMb: number | null; peakFileMb: number | null; curve: CapacityOutput['curve']; errors: number };
  pausedBy?: string;
  errors: number;
  note?: string;
}

export async function runCapacity(ctx: Context): Promise<CapacityOutput> {
  const { counts } = ctx;
  const out: CapacityOutput = {
    enqueueMessages: counts.enqueueMessages,
    concurrency: counts.enqueueConcurrency,
    enqueuePerS: spread([]),
    acceptP50Ms: null,
    acceptP99Ms: null,
    cpuMsPerEnqueue: spread([]),
    rssQueued: counts.rssQueued,
    peakRssMb: null,
    rssAfterMb: null,
    peakAnonMb: null,
    peakFileMb: null,
    curve: [],
    rssEnqueuePerS: null,
    errors: 0,
  };
  if (!ctx.mailgate) return { ...out, note: 'Mailgate could not run' };
  const rates: number[] = [];
  const cpu: number[] = [];
  const acc: number[] = [];
  for (let rep = 0; rep < counts.enqueueReps; rep++) {
    const svc = await ctx.mailgate.start({ paused: true });
    out.pausedBy = svc.pausedBy;
    const d = new RpcChild(distModule('drivers/http-driver.js'));
    try {
      await d.call('init', { baseUrl: svc.baseUrl, apiKey: svc.apiKey, concurrency: counts.enqueueConcurrency });
      await d.call('burst', { run: ctx.runId('enq-warm'), count: 200 });
      const meter = new CpuMeter({ service: [svc.pid] });
      meter.start();
      const r = await d.call<{ start: number; end: number; errors: number; firstError?: string; acceptLatencies: number[] }>(
        'burst', { run: ctx.runId('enq'), count: counts.enqueueMessages, acceptTimes: true }, 600_000);
      const c = meter.stop();
      out.errors += r.errors;
      const ok = counts.enqueueMessages - r.errors;
      rates.push((ok / (r.end - r.start)) * 1000);
      cpu.push(c.cpuMs.service / ok);
      acc.push(...r.acceptLatencies);
      ctx.log(`  enqueue rep ${rep + 1}: ${rates.at(-1)!.toFixed(0)} durable enqueues/s (worker paused by ${svc.pausedBy}), ${cpu.at(-1)!.toFixed(2)} ms CPU each${r.errors ? `, ${r.errors} errors: ${r.firstError}` : ''}`);
    } finally {
      await d.close();
      await svc.stop();
    }
  }
  out.enqueuePerS = spread(rates);
  out.cpuMsPerEnqueue = spread(cpu);
  out.acceptP50Ms = percentile(acc, 50);
  out.acceptP99Ms = percentile(acc, 99);

  // Peak RSS with the queue filled.
  const full = await fillAndMeasure(ctx, {}, out);
  Object.assign(out, { peakRssMb: full.peak, rssAfterMb: full.rss, peakAnonMb: full.anon, peakFileMb: full.file, curve: full.curve, rssEnqueuePerS: full.perS });
  ctx.log(`  ${counts.rssQueued} queued: peak RSS ${f0(full.peak)} MB (now ${f0(full.rss)} MB; largest anonymous ${f0(full.anon)} MB, file-backed ${f0(full.file)} MB), filled at ${f0(full.perS)}/s`);
  if (counts.rssQueuedLarge && counts.rssQueuedLarge > counts.rssQueued) {
    const prefilled = counts.rssQueuedLarge - counts.rssQueued;
    const big = await fillAndMeasure(ctx, { prepare: (dir) => prefillQueued(dir, prefilled) }, out, prefilled);
    out.large = { queued: counts.rssQueuedLarge, prefilled, peakRssMb: big.peak, peakAnonMb: big.anon, peakFileMb: big.file, curve: big.curve, errors: big.errors };
    ctx.log(`  ${counts.rssQueuedLarge} queued (${prefilled} prefilled in the database, ${counts.rssQueued} through the API): peak RSS ${f0(big.peak)} MB (largest anonymous ${f0(big.anon)} MB, file-backed ${f0(big.file)} MB)`);
  }
  if (counts.rssHeapCapMb) {
    // The same fill with V8's old space capped: if it still works, the memory above is heap
    // growth under allocation pressure (garbage not yet collected), not retained messages.
    const capped = await fillAndMeasure(ctx, { nodeOptions: `--max-old-space-size=${counts.rssHeapCapMb}` }, out);
    out.heapCapped = { capMb: counts.rssHeapCapMb, peakRssMb: capped.peak, peakAnonMb: capped.anon, enqueuePerS: capped.perS, errors: capped.errors };
    ctx.log(`  same fill with --max-old-space-size=${counts.rssHeapCapMb}: peak RSS ${f0(capped.peak)} MB (anonymous ${f0(capped.anon)} MB), ${f0(capped.perS)}/s, ${capped.errors} errors`);
  }
  return out;
}

const f0 = (v: number | null) => (v === null ? '–' : v.toFixed(0));

interface Fill {
  peak: number | null;
  rss: number | null;
  anon: number | null;
  file: number | null;
  perS: number | null;
  errors: number;
  curve: CapacityOutput['curve'];
}

async function fillAndMeasure(ctx: Context, start: { nodeOptions?: string; prepare?: (dataDir: string) => void }, out: CapacityOutput, alreadyQueued = 0): Promise<Fill> {
  const { counts } = ctx;
  const svc = await ctx.mailgate!.start({ paused: true, ...start });
  const d = new RpcChild(distModule('drivers/http-driver.js'));
  const fill: Fill = { peak: null, rss: null, anon: null, file: null, perS: null, errors: 0, curve: [] };
  let anon = 0;
  let file = 0;
  const sampler = setInterval(() => {
    const m = rssMb(svc.pid);
    if (m) {
      anon = Math.max(anon, m.anon);
      file = Math.max(file, m.file);
    }
  }, 200);
  try {
    await d.call('init', { baseUrl: svc.baseUrl, apiKey: svc.apiKey, concurrency: counts.enqueueConcurrency });
    const run = ctx.runId('rss');
    const chunk = Math.min(10_000, Math.ceil(counts.rssQueued / 4));
    const t0 = nowMs();
    for (let done = 0; done < counts.rssQueued; done += chunk) {
      const r = await d.call<{ errors: number; firstError?: string }>('burst', { run, count: Math.min(chunk, counts.rssQueued - done), startSeq: done }, 600_000);
      fill.errors += r.errors;
      out.errors += r.errors;
      const now = rssMb(svc.pid);
      if (now) fill.curve.push({ queued: alreadyQueued + Math.min(done + chunk, counts.rssQueued), rssMb: Math.round(now.rss), anonMb: Math.round(now.anon), fileMb: Math.round(now.file) });
      if (r.errors) ctx.log(`  rss fill: ${r.errors} errors: ${r.firstError}`);
    }
    fill.perS = (counts.rssQueued / (nowMs() - t0)) * 1000;
    await sleep(1000);
    const m = rssMb(svc.pid);
    fill.peak = m?.peak ?? null;
    fill.rss = m?.rss ?? null;
    fill.anon = Math.max(anon, m?.anon ?? 0);
    fill.file = Math.max(file, m?.file ?? 0);
  } finally {
    clearInterval(sampler);
    await d.close();
    await svc.stop();
  }
  return fill;
}
