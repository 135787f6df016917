/**
 * Senders scenario (issue 16): one service with many senders on few credentials, configured
 * through MAILGATE_CONFIG (a JSON file written here; YAML and JSON are both accepted), every
 * credential's endpoints pointing at the sink (its token endpoint accepts any client ID and
 * counts requests per client ID). Each sender signs in as its own mailbox, limited to
 * `ratePerMinute` and 3 connections — Exchange's 30/min scaled up by the same factor for every
 * sender, so the run is short and the limits still apply to each mailbox alike.
 *
 * N messages are queued at once (round-robin over the senders, the API's `from`), and measured:
 * aggregate messages/s from the first submission to the last 250; fairness (each sender's
 * messages ÷ the time from the first submission to its last 250, slowest ÷ fastest); the most
 * authenticated connections any one mailbox had at the sink at once; token requests (one per
 * credential expected). The single-sender burst of the same run is the `burst` scenario.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RpcChild } from '../lib/children.js';
import { distModule, SCRATCH } from '../lib/paths.js';
import { CpuMeter, waitForQuiet } from '../lib/procfs.js';
import type { Context } from './context.js';

export interface SendersOutput {
  senders: number;
  credentials: number;
  messages: number;
  /** The sender limits used: Exchange's 30/min × this factor, 3 connections. */
  rateFactor: number;
  ratePerMinute: number;
  msgsPerS: number | null;
  /** The slowest sender's rate ÷ the fastest's (1.0 = perfectly fair). */
  fairnessMinOverMax: number | null;
  slowestPerS: number | null;
  fastestPerS: number | null;
  maxConnectionsPerMailbox: number;
  peakConnections: number;
  /** SMTP sessions opened during the measured run (each: TCP, STARTTLS, XOAUTH2). */
  connectionsOpened: number;
  mailboxesSeen: number;
  tokenRequests: number;
  tokenRequestsPerClient: Record<string, number>;
  received: number;
  errors: number;
  firstError?: string;
  cpuMsPerMsg: number | null;
  machineCores: number;
  backgroundCores: number;
}

const secretEnv = (i: number) => `MAILGATE_BENCH_SECRET_${i}`;
const clientId = (i: number) => `${String(i + 1).repeat(8)}-aaaa-4bbb-8ccc-${String(i + 1).repeat(12)}`;
export const senderAddress = (i: number) => `sender${String(i).padStart(3, '0')}@bench.mailgate.test`;

/** The MAILGATE_CONFIG document: `credentials` credentials, `senders` senders round-robin over them. */
export function sendersConfig(o: { senders: number; credentials: number; tokenPort: number; smtpPort: number; ratePerMinute: number }): object {
  return {
    credentials: Array.from({ length: o.credentials }, (_, i) => ({
      name: `bench-${i}`,
      tenantId: '66666666-7777-8888-9999-000000000000',
      clientId: clientId(i),
      clientSecret: `env:${secretEnv(i)}`,
      authorityHost: `https://127.0.0.1:${o.tokenPort}`,
      smtpHost: '127.0.0.1',
      smtpPort: o.smtpPort,
    })),
    senders: Array.from({ length: o.senders }, (_, i) => ({
      address: senderAddress(i),
      credential: `bench-${i % o.credentials}`,
      transport: 'smtp',
      ratePerMinute: o.ratePerMinute,
      maxConnections: 3,
    })),
  };
}

export async function runSenders(ctx: Context): Promise<SendersOutput> {
  if (!ctx.mailgate) throw new Error('the senders scenario needs the mailgate competitor');
  const { counts, sink } = ctx;
  const S = counts.sendersCount;
  const C = counts.sendersCredentials;
  const N = counts.sendersMessages;
  const ratePerMinute = 30 * counts.sendersRateFactor;
  const dir = join(SCRATCH, 'senders');
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'mailgate-senders.json');
  writeFileSync(configPath, JSON.stringify(sendersConfig({ senders: S, credentials: C, tokenPort: sink.tokenPort, smtpPort: sink.smtpPort, ratePerMinute }), null, 2));
  const env: Record<string, string> = { MAILGATE_CONFIG: configPath };
  for (let i = 0; i < C; i++) env[secretEnv(i)] = `bench-secret-${i}`;
  // MAILGATE_CONFIG and the single-sender variables are exclusive: blank the launcher's ones.
  for (const k of ['MAILGATE_CLIENT_ID', 'MAILGATE_TENANT_ID', 'MAILGATE_CLIENT_SECRET', 'MAILGATE_AUTHORIZED_FROM', 'MAILGATE_TRANSPORT']) env[k] = '';

  await sink.waitClosed(15_000);
  const quiet = await waitForQuiet(counts.quietMaxMs);
  // MAILGATE_BENCH_SENDERS_CPU_PROF=DIR: the service runs under node --cpu-prof (for finding where the time goes; not for the figures).
  const cpuProf = process.env.MAILGATE_BENCH_SENDERS_CPU_PROF ? { cpuProf: process.env.MAILGATE_BENCH_SENDERS_CPU_PROF } : {};
  const svc = await ctx.mailgate.start({ env, ...cpuProf });
  const driver = new RpcChild(distModule('drivers/http-driver.js'));
  try {
    await driver.call('init', { baseUrl: svc.baseUrl, apiKey: svc.apiKey, concurrency: counts.httpConcurrency });
    const froms = Array.from({ length: S }, (_, i) => senderAddress(i));
    // Warm-up: one message per sender (every mailbox's first session and both tokens), uncounted.
    const warm = ctx.runId('senders-warm');
    await sink.resetTokens();
    await sink.reset();
    const wr = await driver.call<{ errors: number; firstError?: string }>('burst', { run: warm, count: S, froms }, 600_000);
    const w0 = await sink.wait(warm, S, 120_000);
    await sink.forget(warm);
    if (w0.received < S) throw new Error(`warm-up: ${w0.received}/${S} messages arrived at the sink within 120 s${wr.firstError ? ` (${wr.firstError.slice(0, 300)})` : ''}`);

    const run = ctx.runId('senders');
    await sink.reset();
    const meter = new CpuMeter({ service: [svc.pid], load: [driver.pid], sink: [sink.pid] });
    meter.start();
    const r = await driver.call<{ start: number; end: number; errors: number; firstError?: string }>('burst', { run, count: N, froms }, 600_000);
    const w = await sink.wait(run, N, N * 50 + 60_000, true);
    const cpu = meter.stop();
    await sink.forget(run);
    const tokens = await sink.tokens();

    // Per sender: its messages ÷ (its last 250 − the first submission).
    const last = new Array<number>(S).fill(0);
    const count = new Array<number>(S).fill(0);
    for (const [seq, t] of w.times ?? []) {
      const i = seq % S;
      count[i]++;
      if (t > last[i]) last[i] = t;
    }
    const rates = last.map((t, i) => (count[i] && t > r.start ? (count[i] / (t - r.start)) * 1000 : 0));
    const complete = w.received === N;
    const slowest = Math.min(...rates);
    const fastest = Math.max(...rates);
    const out: SendersOutput = {
      senders: S,
      credentials: C,
      messages: N,
      rateFactor: counts.sendersRateFactor,
      ratePerMinute,
      msgsPerS: complete && w.last !== null ? (N / (w.last - r.start)) * 1000 : null,
      fairnessMinOverMax: complete && fastest > 0 ? slowest / fastest : null,
      slowestPerS: complete ? slowest : null,
      fastestPerS: complete ? fastest : null,
      maxConnectionsPerMailbox: Math.max(w.peakConnectionsPerUser, w0.peakConnectionsPerUser),
      peakConnections: w.peakConnections,
      connectionsOpened: w.connectionsOpened,
      mailboxesSeen: w.usersSeen,
      tokenRequests: tokens.requests,
      tokenRequestsPerClient: tokens.clients,
      received: w.received,
      errors: r.errors,
      firstError: r.firstError,
      cpuMsPerMsg: cpu.cpuMs.service === undefined ? null : cpu.cpuMs.service / N,
      machineCores: cpu.machineCores,
      backgroundCores: cpu.backgroundCores,
    };
    ctx.log(
      `  ${S} senders on ${C} credentials, ${N} messages, ${ratePerMinute}/min and 3 connections each: ` +
        `${out.msgsPerS === null ? `FAILED (${w.received}/${N}; ${r.errors} errors${r.firstError ? `: ${r.firstError.slice(0, 200)}` : ''})` : `${out.msgsPerS.toFixed(0)} msgs/s`}` +
        `  fairness ${out.fairnessMinOverMax?.toFixed(2) ?? '–'} (slowest ${out.slowestPerS?.toFixed(1) ?? '–'}, fastest ${out.fastestPerS?.toFixed(1) ?? '–'} msgs/s)` +
        `  max ${out.maxConnectionsPerMailbox} connections per mailbox (${out.mailboxesSeen} mailboxes, ${out.peakConnections} at once in all)  ${out.tokenRequests} token requests` +
        `  cpu ${out.cpuMsPerMsg?.toFixed(2) ?? '–'} ms/msg  machine ${(cpu.machineCores * 100).toFixed(0)}%${quiet.quiet ? '' : ' (machine was busy before the run)'}`,
    );
    return out;
  } finally {
    await driver.call('close', {}, 10_000).catch(() => undefined);
    await driver.close();
    await svc.stop();
  }
}
