/**
 * Scenario 3, cold start: the first message after start-up, token and TLS included.
 * Scenario 4 (second half), token economy on a cold cache: N concurrent messages to a fresh
 * service while the token endpoint takes as long as Entra typically does; the target is one
 * token request. (The first half, token requests during the burst, is counted in burst.ts.)
 */
import { RpcChild } from '../lib/children.js';
import { nowMs } from '../lib/clock.js';
import { distModule } from '../lib/paths.js';
import { spread, type Spread } from '../lib/stats.js';
import type { Context } from './context.js';

export interface ColdOutput {
  /** API call → sink's 250 for the first message of a freshly started, ready service. */
  mailgateFirstMessageMs: Spread;
  /** Process spawn → ready (health answered). */
  mailgateReadyMs: Spread;
  /** Process spawn → the first message's 250 (ready + first message). */
  mailgateSpawnToFirst250Ms: Spread;
  mailgateTokenRequests: number[];
  /** A fresh raw nodemailer transport: sendMail() → 250 (TCP, TLS, AUTH with a static token). */
  rawFirstMessageMs: Spread;
  /** Postfix (running, idle): injection → 250 of a first message after idle. */
  postfixFirstAfterIdleMs: Spread;
}

export interface TokensColdOutput {
  concurrent: number;
  tokenDelayMs: number;
  tokenRequests: number | null;
  delivered: number;
  note?: string;
}

async function firstMessage(ctx: Context, send: (run: string) => Promise<{ submits: number[]; errors: number; firstError?: string }>): Promise<number | null> {
  const run = ctx.runId('cold');
  const r = await send(run);
  const w = await ctx.sink.wait(run, 1, 30_000, true);
  await ctx.sink.forget(run);
  const t = w.times?.[0]?.[1];
  if (t === undefined) {
    ctx.log(`  cold: message not delivered${r.firstError ? `: ${r.firstError}` : ''}`);
    return null;
  }
  return t - r.submits[0];
}

export async function runCold(ctx: Context): Promise<ColdOutput> {
  const { counts, sink } = ctx;
  const mg: number[] = [];
  const ready: number[] = [];
  const spawnTo250: number[] = [];
  const tokens: number[] = [];
  const raw: number[] = [];
  const pf: number[] = [];
  for (let rep = 0; rep < counts.coldReps; rep++) {
    if (ctx.mailgate) {
      await sink.waitClosed(15_000);
      await sink.resetTokens();
      const t0 = nowMs();
      let svc;
      try {
        svc = await ctx.mailgate.start({});
      } catch (e) {
        ctx.log(`  cold: mailgate could not start: ${(e as Error).message}`);
      }
      if (svc) {
        const d = new RpcChild(distModule('drivers/http-driver.js'));
        try {
          await d.call('init', { baseUrl: svc.baseUrl, apiKey: svc.apiKey, concurrency: 1 });
          const ms = await firstMessage(ctx, (run) => d.call('paced', { run, count: 1, intervalMs: 0 }));
          if (ms !== null) {
            mg.push(ms);
            ready.push(svc.readyAt - t0);
            spawnTo250.push(svc.readyAt - t0 + ms);
          }
          tokens.push((await sink.tokens()).requests);
          ctx.log(`  cold rep ${rep + 1} mailgate: first message ${ms?.toFixed(1)} ms after ready; spawn→ready ${(svc.readyAt - t0).toFixed(0)} ms; token requests ${tokens.at(-1)}`);
        } finally {
          await d.close();
          await svc.stop();
        }
      }
    }
    if (ctx.competitors.raw) {
      const d = new RpcChild(distModule('drivers/smtp-driver.js'));
      try {
        await d.call('init', { host: '127.0.0.1', port: sink.smtpPort, tls: true, ca: ctx.ca, token: sink.token, maxConnections: 3 });
        const ms = await firstMessage(ctx, (run) => d.call('paced', { run, count: 1, intervalMs: 0 }));
        if (ms !== null) raw.push(ms);
        ctx.log(`  cold rep ${rep + 1} raw: first message ${ms?.toFixed(1)} ms`);
      } finally {
        await d.call('close').catch(() => undefined);
        await d.close();
      }
    }
    if (ctx.competitors.postfix) {
      await sink.waitClosed(15_000);
      const s = await ctx.competitors.postfix.open();
      try {
        const ms = await firstMessage(ctx, (run) => s.paced(run, 1, 0));
        if (ms !== null) pf.push(ms);
        ctx.log(`  cold rep ${rep + 1} postfix: first message after idle ${ms?.toFixed(1)} ms`);
      } finally {
        await s.close();
      }
    }
  }
  return {
    mailgateFirstMessageMs: spread(mg),
    mailgateReadyMs: spread(ready),
    mailgateSpawnToFirst250Ms: spread(spawnTo250),
    mailgateTokenRequests: tokens,
    rawFirstMessageMs: spread(raw),
    postfixFirstAfterIdleMs: spread(pf),
  };
}

export async function runTokensCold(ctx: Context): Promise<TokensColdOutput> {
  const { counts, sink } = ctx;
  const N = counts.coldConcurrent;
  const out: TokensColdOutput = { concurrent: N, tokenDelayMs: counts.coldConcurrentTokenDelayMs, tokenRequests: null, delivered: 0 };
  if (!ctx.mailgate) return { ...out, note: 'Mailgate could not run' };
  await sink.waitClosed(15_000);
  await sink.reset({ tokenDelayMs: counts.coldConcurrentTokenDelayMs });
  await sink.resetTokens();
  const svc = await ctx.mailgate.start({});
  const d = new RpcChild(distModule('drivers/http-driver.js'));
  try {
    await d.call('init', { baseUrl: svc.baseUrl, apiKey: svc.apiKey, concurrency: N });
    const run = ctx.runId('tokens-cold');
    const r = await d.call<{ errors: number; firstError?: string }>('burst', { run, count: N, concurrency: N });
    const w = await sink.wait(run, N, 60_000);
    await sink.forget(run);
    out.delivered = w.received;
    out.tokenRequests = (await sink.tokens()).requests;
    if (r.errors) out.note = `${r.errors} API errors: ${r.firstError}`;
    ctx.log(`  ${N} concurrent messages on a cold cache (token endpoint ${counts.coldConcurrentTokenDelayMs} ms): ${out.tokenRequests} token request(s), ${w.received}/${N} delivered`);
  } finally {
    await d.close();
    await svc.stop();
    await sink.reset({ tokenDelayMs: 0 });
  }
  return out;
}
