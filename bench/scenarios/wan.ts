/**
 * Scenario 7, WAN: the sink at a distance (40 ms round trip), the clients on this side.
 *
 * On loopback a round trip costs nothing, so the other scenarios measure CPU. A real tenant is
 * 10–100 ms away, and then what counts is how many times a client waits for the server per
 * message. Every competitor's SMTP sessions cross the same emulated path (bench/lib/wan-link.ts:
 * netem where the kernel has it, else a userspace delay proxy; the results say which) to the
 * same sink, which advertises PIPELINING and CHUNKING like Exchange Online:
 * - Mailgate (its default: the pipelined send where the server allows it);
 * - Mailgate with MAILGATE_SMTP_PIPELINING=off (one command, one wait);
 * - raw nodemailer, pool of 3 (no pipelining);
 * - Postfix with TLS connection reuse (pipelines MAIL/RCPT/DATA), injected locally: the
 *   application's own MTA is on its side of the path, its relay client crosses it.
 *
 * For each, one at a time: single messages on warm connections (submit → the sink's 250, p50
 * and p99, spaced so that they never overlap), then an uncounted warm-up burst that opens the
 * three connections, then a burst of N messages over them (messages/s from the first submission
 * to the last 250). Round trips per message are the forwarder's turnarounds (server bytes after
 * client bytes) during each measured run divided by its messages; peak connections come from
 * the sink.
 */
import net from 'node:net';
import type { Competitor, Session } from '../competitors.js';
import { mailgateCompetitor, postfixCompetitor, rawCompetitor } from '../competitors.js';
import { onCleanup } from '../lib/children.js';
import { nowMs } from '../lib/clock.js';
import { SCRATCH } from '../lib/paths.js';
import { percentile } from '../lib/stats.js';
import { startWanLink, type WanLink, type WanMethod } from '../lib/wan-link.js';
import { createLauncher } from '../mailgate/service.js';
import { startPostfix, stopPostfix } from '../postfix/postfix.js';
import type { Context } from './context.js';

export type WanKey = 'mailgate' | 'mailgate_nopipe' | 'raw' | 'postfix';

export interface WanFigures {
  label: string;
  latencyMessages: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
  latencyErrors: number;
  /** Mailgate: submit → 202 (local: HTTP and the durable store) and 202 → 250 (worker, path), p50. */
  acceptP50?: number | null;
  deliveryP50?: number | null;
  /** Turnarounds at the forwarder per single message (warm connection). */
  roundTripsPerMsg: number | null;
  burstMessages: number;
  msgsPerS: number | null;
  burstErrors: number;
  firstError?: string;
  burstRoundTripsPerMsg: number | null;
  peakConnections: number;
  connectionsOpened: number;
}

export interface WanOutput {
  rttMs: number;
  method: WanMethod;
  netemError?: string;
  /** NOOP → 250 through the path, median of a few: checks the emulated round trip. */
  measuredRttMs: number | null;
  latencyMessages: number;
  intervalMs: number;
  burstMessages: number;
  figures: Partial<Record<WanKey, WanFigures>>;
}

const POSTFIX_WAN_PORT = 10027;

export async function runWan(ctx: Context): Promise<WanOutput> {
  const { counts, sink } = ctx;
  const link = await startWanLink({ sinkPort: sink.smtpPort, rttMs: counts.wanRttMs, inNamespace: ctx.environment !== 'loopback' });
  onCleanup(() => link.stop());
  ctx.log(`  path: ${counts.wanRttMs} ms round trip by ${link.method}${link.netemError ? ` (netem unavailable: ${link.netemError})` : ''}, forwarder on 127.0.0.1:${link.port}`);
  const out: WanOutput = {
    rttMs: counts.wanRttMs,
    method: link.method,
    netemError: link.netemError,
    measuredRttMs: null,
    latencyMessages: counts.wanLatencyMessages,
    intervalMs: counts.wanLatencyIntervalMs,
    burstMessages: counts.wanBurstMessages,
    figures: {},
  };
  let postfix: Awaited<ReturnType<typeof startPostfix>> | undefined;
  try {
    out.measuredRttMs = await probeRtt(link.port);
    ctx.log(`  measured NOOP → 250 through the path: ${out.measuredRttMs?.toFixed(1)} ms`);
    const competitors: [WanKey, Competitor][] = [];
    if (ctx.mailgate && ctx.caPath) {
      const launcher = createLauncher({ smtpPort: link.port, tokenPort: sink.tokenPort, graphPort: sink.graphPort, caPath: ctx.caPath, ratePerMinute: 1_000_000, name: 'mailgate-wan' });
      competitors.push(['mailgate', mailgateCompetitor(launcher, counts.httpConcurrency)]);
      competitors.push(['mailgate_nopipe', mailgateCompetitor(launcher, counts.httpConcurrency, { MAILGATE_SMTP_PIPELINING: 'off' })]);
    }
    if (ctx.competitors.raw) competitors.push(['raw', rawCompetitor({ smtpPort: link.port, token: sink.token }, ctx.ca)]);
    if (ctx.competitors.postfix && ctx.caPath) {
      try {
        postfix = await startPostfix({ name: 'postfix_wan', reuse: true, scratch: SCRATCH, sinkPort: link.port, smtpdPort: POSTFIX_WAN_PORT, caFile: ctx.caPath, cacheRelay: true });
        competitors.push(['postfix', postfixCompetitor(postfix)]);
      } catch (e) {
        ctx.notes.push(`wan: Postfix could not start: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    for (const [key, competitor] of competitors) {
      try {
        out.figures[key] = await measure(ctx, link, key, competitor);
      } catch (e) {
        ctx.notes.push(`wan: ${key} failed: ${(e as Error).message.split('\n')[0]}`);
        ctx.log(`  ${key}: failed: ${(e as Error).stack}`);
      }
    }
  } finally {
    if (postfix) stopPostfix(postfix);
    await link.stop();
  }
  return out;
}

const LABELS: Record<WanKey, string> = {
  mailgate: 'Mailgate (default: pipelined where offered)',
  mailgate_nopipe: 'Mailgate, MAILGATE_SMTP_PIPELINING=off',
  raw: 'raw nodemailer (pool of 3)',
  postfix: 'Postfix (TLS connection reuse on)',
};

async function measure(ctx: Context, link: WanLink, key: WanKey, competitor: Competitor): Promise<WanFigures> {
  const { counts, sink } = ctx;
  const M = counts.wanLatencyMessages;
  const N = counts.wanBurstMessages;
  const interval = counts.wanLatencyIntervalMs;
  await sink.waitClosed(15_000);
  const session: Session = await competitor.open();
  try {
    // Warm: the first connection (TCP, STARTTLS, AUTH, and Mailgate's token) is not counted.
    const warm = ctx.runId(`${key}-wwarm`);
    await session.paced(warm, counts.wanWarmup, interval);
    await sink.wait(warm, counts.wanWarmup, 60_000);
    await sink.forget(warm);

    // Single messages, warm connection, spaced so that they never overlap.
    const lrun = ctx.runId(`${key}-wlat`);
    await link.reset();
    const r = await session.paced(lrun, M, interval);
    const w = await sink.wait(lrun, M, 120_000, true);
    const lstats = await link.stats();
    await sink.forget(lrun);
    const at = new Map(w.times ?? []);
    const lat: number[] = [];
    const accept: number[] = [];
    const delivery: number[] = [];
    r.submits.forEach((t, i) => {
      const t250 = at.get(i);
      if (t250 !== undefined) lat.push(t250 - t);
      const cb = r.callbacks[i];
      if (key.startsWith('mailgate') && Number.isFinite(cb)) {
        accept.push(cb - t);
        if (t250 !== undefined) delivery.push(t250 - cb);
      }
    });

    // Burst over the pool's three connections, opened by an uncounted warm-up burst.
    const bwarm = ctx.runId(`${key}-wbwarm`);
    await session.burst(bwarm, 30);
    await sink.wait(bwarm, 30, 120_000);
    await sink.forget(bwarm);
    const brun = ctx.runId(`${key}-wburst`);
    await sink.reset();
    await link.reset();
    const b = await session.burst(brun, N);
    const bw = await sink.wait(brun, N, N * 1000 + 60_000);
    const bstats = await link.stats();
    await sink.forget(brun);
    const msgsPerS = bw.received === N && bw.last !== null ? (N / (bw.last - b.start)) * 1000 : null;

    const fig: WanFigures = {
      label: LABELS[key],
      latencyMessages: lat.length,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      max: lat.length ? Math.max(...lat) : null,
      latencyErrors: r.errors + (M - lat.length),
      roundTripsPerMsg: lat.length === M ? lstats.turnarounds / M : null,
      ...(accept.length ? { acceptP50: percentile(accept, 50), deliveryP50: percentile(delivery, 50) } : {}),
      burstMessages: N,
      msgsPerS,
      burstErrors: b.errors + (N - bw.received),
      firstError: r.firstError ?? b.firstError,
      burstRoundTripsPerMsg: bw.received === N ? bstats.turnarounds / N : null,
      peakConnections: bw.peakConnections,
      connectionsOpened: bw.connectionsOpened,
    };
    const f = (v: number | null, d = 1) => (v === null ? '–' : v.toFixed(d));
    ctx.log(`  ${key.padEnd(15)} single: p50 ${f(fig.p50)} ms p99 ${f(fig.p99)} ms${fig.acceptP50 != null ? ` (202 after ${f(fig.acceptP50)}, 202 → 250 ${f(fig.deliveryP50 ?? null)})` : ''}, ${f(fig.roundTripsPerMsg, 2)} round trips/msg; burst ${N}: ${f(msgsPerS)} msgs/s, ${f(fig.burstRoundTripsPerMsg, 2)} round trips/msg, peak ${fig.peakConnections} connections${fig.latencyErrors + fig.burstErrors ? `; errors ${fig.latencyErrors + fig.burstErrors}: ${fig.firstError ?? ''}` : ''}`);
    return fig;
  } finally {
    await session.close();
  }
}

/** NOOP → 250 through the path (after the greeting), median of five: one round trip. */
async function probeRtt(port: number): Promise<number | null> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  let buf = '';
  const waitLine = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply within 10 s')), 10_000);
      const check = () => {
        if (re.test(buf)) {
          clearTimeout(timer);
          socket.off('data', onData);
          buf = '';
          resolve();
        }
      };
      const onData = (d: Buffer) => {
        buf += d.toString('latin1');
        check();
      };
      socket.on('data', onData);
      check();
    });
  try {
    await waitLine(/^220 .*\r\n/m);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = nowMs();
      socket.write('NOOP\r\n');
      await waitLine(/^250 .*\r\n/m);
      times.push(nowMs() - t);
    }
    socket.write('QUIT\r\n');
    return percentile(times, 50);
  } catch {
    return null;
  } finally {
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}
