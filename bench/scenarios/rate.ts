/**
 * Scenario 6, rate-limit accuracy: the per-mailbox limit set to 600/min, a backlog larger than
 * the window can drain, and the sink acting like Exchange Online (at most the limit's share of
 * messages in any sliding window as long as the measured one, and 3 authenticated connections
 * per mailbox, else a 4xx, counted).
 * Achieved rate = messages accepted by the sink in the window that starts at the first
 * delivery, per minute. A --quick run shortens the window (and says so).
 */
import { RpcChild } from '../lib/children.js';
import { sleep } from '../lib/clock.js';
import { distModule } from '../lib/paths.js';
import { round } from '../lib/stats.js';
import type { Context } from './context.js';

export interface RateOutput {
  limitPerMin: number;
  windowS: number;
  enqueued: number;
  achievedPerMin: number | null;
  /** Rate over the second half of the window (after any initial burst allowance). */
  steadyPerMin: number | null;
  /** Messages in the first 10 s after the first delivery (shows a burst allowance). */
  firstTenSeconds: number | null;
  /** Deliveries per 5 s from the first delivery (shows bursts and stalls). */
  per5s: number[];
  throttleReplies: number;
  throttleSamples: string[];
  peakConnections: number;
  errorPct: number | null;
  sinkRule: string;
  note?: string;
}

export async function runRate(ctx: Context): Promise<RateOutput> {
  const { counts, sink } = ctx;
  const limit = counts.rateLimitPerMin;
  const W = counts.rateWindowS;
  const M = Math.ceil((limit * W) / 60 * 1.3) + 50;
  const out: RateOutput = {
    limitPerMin: limit,
    windowS: W,
    enqueued: M,
    achievedPerMin: null,
    steadyPerMin: null,
    firstTenSeconds: null,
    per5s: [],
    throttleReplies: 0,
    throttleSamples: [],
    peakConnections: 0,
    errorPct: null,
    sinkRule: `at most ${Math.round((limit * W) / 60)} messages in any sliding ${W} s window (the limit scaled to the window) and 3 authenticated connections per mailbox, else a 4xx reply`,
  };
  if (!ctx.mailgate) return { ...out, note: 'Mailgate could not run' };
  await sink.waitClosed(15_000);
  await sink.reset({ throttle: { windowMs: W * 1000, maxMessages: Math.round((limit * W) / 60), maxConnectionsPerUser: 3 } });
  const svc = await ctx.mailgate.start({ ratePerMinute: limit });
  const d = new RpcChild(distModule('drivers/http-driver.js'));
  try {
    await d.call('init', { baseUrl: svc.baseUrl, apiKey: svc.apiKey, concurrency: 16 });
    const run = ctx.runId('rate');
    const r = await d.call<{ errors: number; firstError?: string }>('burst', { run, count: M }, 300_000);
    if (r.errors) out.note = `${r.errors} API errors: ${r.firstError}`;
    // Wait for the first delivery, then for the window to pass.
    const first = await sink.wait(run, 1, 30_000);
    if (first.first === null) throw new Error('no message delivered in the rate scenario');
    await sleep(W * 1000 + 1500);
    const w = await sink.wait(run, M, 0, true);
    const t0 = w.first!;
    const times = (w.times ?? []).map(([, t]) => t - t0).sort((a, b) => a - b);
    const inWindow = times.filter((t) => t < W * 1000).length;
    const secondHalf = times.filter((t) => t >= (W * 1000) / 2 && t < W * 1000).length;
    out.achievedPerMin = round((inWindow * 60) / W, 1);
    out.steadyPerMin = round((secondHalf * 60) / (W / 2), 1);
    out.firstTenSeconds = times.filter((t) => t < 10_000).length;
    out.per5s = Array.from({ length: Math.ceil(W / 5) }, (_, i) => times.filter((t) => t >= i * 5000 && t < (i + 1) * 5000).length);
    out.throttleReplies = w.throttles;
    out.throttleSamples = w.throttleReplies;
    out.peakConnections = w.peakConnections;
    out.errorPct = round(((out.achievedPerMin! - limit) / limit) * 100, 2);
    ctx.log(`  rate: ${out.achievedPerMin}/min over ${W} s (limit ${limit}); steady ${out.steadyPerMin}/min; first 10 s ${out.firstTenSeconds}; per 5 s ${out.per5s.join(' ')}; throttle replies ${w.throttles}; peak connections ${w.peakConnections}`);
  } finally {
    await d.close();
    await svc.stop();
    await sink.reset();
  }
  return out;
}
