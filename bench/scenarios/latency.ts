/**
 * Scenario 2, single-message latency (the one-time-password case): one message every 100 ms,
 * warm. Time from the submission (API call, sendMail(), injection) to the sink's 250.
 * Competitors stay open for the whole scenario and take turns in blocks (the order rotates),
 * each block preceded by a short uncounted warm-up through the same path.
 */
import type { CompetitorKey, Session } from '../competitors.js';
import { waitForQuiet } from '../lib/procfs.js';
import { percentile, spread, type Spread } from '../lib/stats.js';
import { rotation, type Context } from './context.js';

export interface LatencyFigures {
  messages: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
  blockP99: Spread;
  errors: number;
  /** Mailgate: submit → 202 (durably stored). */
  acceptP50?: number | null;
  acceptP99?: number | null;
  acceptMax?: number | null;
  /** Mailgate: 202 → sink's 250 (the worker's pick-up and the SMTP transaction). */
  deliveryP50?: number | null;
  deliveryP99?: number | null;
}

export interface LatencyOutput {
  perCompetitor: number;
  blocks: number;
  intervalMs: number;
  figures: Partial<Record<CompetitorKey, LatencyFigures>>;
}

export async function runLatency(ctx: Context): Promise<LatencyOutput> {
  const { counts, sink } = ctx;
  const keys = (['raw', 'postfix', 'mailgate'] as const).filter((k) => ctx.competitors[k]);
  const blockSize = Math.floor(counts.latencyPerCompetitor / counts.latencyBlocks);
  const interval = counts.latencyIntervalMs;
  const sessions = new Map<CompetitorKey, Session>();
  const lat = new Map<CompetitorKey, number[]>();
  const acc = new Map<CompetitorKey, number[]>();
  const delivery: number[] = [];
  const blockP99 = new Map<CompetitorKey, number[]>();
  const errors = new Map<CompetitorKey, number>();
  try {
    for (const k of keys) {
      try {
        sessions.set(k, await ctx.competitors[k]!.open());
      } catch (e) {
        ctx.log(`  ${k}: could not start: ${(e as Error).message}`);
      }
    }
    for (let b = 0; b < counts.latencyBlocks; b++) {
      for (const k of rotation(keys, b)) {
        const s = sessions.get(k);
        if (!s) continue;
        await waitForQuiet(counts.quietMaxMs);
        const warm = ctx.runId(`${k}-lwarm`);
        await s.paced(warm, counts.latencyWarmup, interval);
        await sink.wait(warm, counts.latencyWarmup, 30_000);
        await sink.forget(warm);
        const run = ctx.runId(`${k}-lat`);
        const r = await s.paced(run, blockSize, interval);
        const w = await sink.wait(run, blockSize, 60_000, true);
        await sink.forget(run);
        const at = new Map(w.times ?? []);
        const block: number[] = [];
        r.submits.forEach((t, i) => {
          const t250 = at.get(i);
          if (t250 !== undefined) block.push(t250 - t);
        });
        errors.set(k, (errors.get(k) ?? 0) + r.errors + (blockSize - block.length));
        lat.set(k, [...(lat.get(k) ?? []), ...block]);
        if (k === 'mailgate') {
          acc.set(k, [...(acc.get(k) ?? []), ...r.callbacks.map((t, i) => t - r.submits[i]).filter(Number.isFinite)]);
          r.callbacks.forEach((t, i) => {
            const t250 = at.get(i);
            if (t250 !== undefined && Number.isFinite(t)) delivery.push(t250 - t);
          });
        }
        blockP99.set(k, [...(blockP99.get(k) ?? []), percentile(block, 99) ?? NaN]);
        ctx.log(`  block ${b + 1} ${k.padEnd(9)} p50 ${percentile(block, 50)?.toFixed(2)} ms  p99 ${percentile(block, 99)?.toFixed(2)} ms  max ${Math.max(...block).toFixed(2)} ms${r.errors ? `  errors ${r.errors}: ${r.firstError}` : ''}`);
      }
    }
  } finally {
    for (const s of sessions.values()) await s.close();
  }
  const figures: LatencyOutput['figures'] = {};
  for (const k of keys) {
    const v = lat.get(k) ?? [];
    if (!sessions.has(k) && !v.length) continue;
    figures[k] = {
      messages: v.length,
      p50: percentile(v, 50),
      p99: percentile(v, 99),
      max: v.length ? Math.max(...v) : null,
      blockP99: spread(blockP99.get(k) ?? []),
      errors: errors.get(k) ?? 0,
    };
    if (k === 'mailgate') {
      const a = acc.get(k) ?? [];
      Object.assign(figures[k]!, {
        acceptP50: percentile(a, 50),
        acceptP99: percentile(a, 99),
        acceptMax: a.length ? Math.max(...a) : null,
        deliveryP50: percentile(delivery, 50),
        deliveryP99: percentile(delivery, 99),
      });
    }
  }
  return { perCompetitor: blockSize * counts.latencyBlocks, blocks: counts.latencyBlocks, intervalMs: interval, figures };
}
