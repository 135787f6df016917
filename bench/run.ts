/**
 * `npm run bench [-- --quick]`: Mailgate side by side with raw nodemailer and Postfix.
 *
 * Outside the namespace it makes sure Postfix is installed (apt-get, as root) and re-runs itself
 * in a private network namespace (`unshare -n`); inside, it sets `quickack 1` on the loopback
 * routes, starts the sink, the Postfix instances and the scenarios, writes
 * bench/results/latest.json and latest.md, and prints the summary table. Every process it
 * starts is ended on exit, Ctrl-C included. See bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mailgateCompetitor, postfixCompetitor, rawCompetitor, type Competitor, type CompetitorKey } from './competitors.js';
import { ensureCertificate } from './lib/certs.js';
import { cleanupAll, isStopping, onCleanup } from './lib/children.js';
import { nowMs } from './lib/clock.js';
import { canUnshare, INNER_ENV, runInNamespace, setUpNamespaceLoopback, type Environment } from './lib/netns.js';
import { parseOptions, type Options } from './lib/options.js';
import { RESULTS, SCRATCH } from './lib/paths.js';
import { median } from './lib/stats.js';
import { fsyncProbe } from './lib/fsync-probe.js';
import { tlsContextProbe } from './lib/tls-probe.js';
import { createLauncher, mailgateAvailability } from './mailgate/service.js';
import { ensurePostfixInstalled, startPostfix, stopPostfix } from './postfix/postfix.js';
import { renderMarkdown, summaryTable } from './report/markdown.js';
import { buildResults, type ScenarioOutputs } from './report/results.js';
import { evaluateTargets } from './report/targets.js';
import { runBurst } from './scenarios/burst.js';
import { runCapacity } from './scenarios/capacity.js';
import { runCeiling } from './scenarios/ceiling.js';
import { runCold, runTokensCold } from './scenarios/cold.js';
import type { Context } from './scenarios/context.js';
import { runLatency } from './scenarios/latency.js';
import { runGraph } from './scenarios/graph.js';
import { runRate } from './scenarios/rate.js';
import { runRelay } from './scenarios/relay.js';
import { runWan } from './scenarios/wan.js';
import { runSenders } from './scenarios/senders.js';
import { runPostgres } from './scenarios/postgres.js';
import { Sink } from './sink/sink-control.js';

const POSTFIX_NOTE_ENV = 'MAILGATE_BENCH_POSTFIX_NOTE';
const ENV_NOTE_ENV = 'MAILGATE_BENCH_ENV_NOTE';
const t0 = nowMs();
const log = (s: string) => process.stdout.write(`[${((nowMs() - t0) / 1000).toFixed(1).padStart(6)} s] ${s}\n`);

const wants = (o: Options, k: string) => !o.only || o.only.has(k);
const scenario = (o: Options, k: string) => !o.scenarios || o.scenarios.has(k);

async function outer(options: Options, argv: string[]): Promise<number> {
  if (wants(options, 'postfix') || wants(options, 'postfix_default')) {
    const p = ensurePostfixInstalled(log);
    if (!p.ok) process.env[POSTFIX_NOTE_ENV] = p.note;
  }
  if (!options.noNetns) {
    if (canUnshare()) {
      log('entering a private network namespace (unshare -n)');
      return runInNamespace(fileURLToPath(import.meta.url), argv);
    }
    process.env[ENV_NOTE_ENV] = 'unshare -n failed here (needs root or CAP_SYS_ADMIN): ran on plain loopback, Postfix figures are stalled by Nagle/delayed ACK.';
  } else {
    process.env[ENV_NOTE_ENV] = '--no-netns: ran on plain loopback, Postfix figures are stalled by Nagle/delayed ACK.';
  }
  return inner(options, 'loopback');
}

async function inner(options: Options, environment: Environment): Promise<number> {
  const notes: string[] = [];
  const startedAt = new Date();
  if (process.env[ENV_NOTE_ENV]) notes.push(process.env[ENV_NOTE_ENV]!);
  if (process.env[INNER_ENV]) {
    const ns = setUpNamespaceLoopback();
    environment = ns.environment;
    if (ns.environment !== 'netns-quickack') notes.push(`quickack routes could not be set in the namespace (${ns.error ?? 'unknown'}): Postfix figures are stalled.`);
  }
  log(`environment: ${environment}; ${options.quick ? 'quick' : 'full'} run`);
  const c = options.counts;
  log(`counts: burst ${c.burstMessages} × ${c.burstReps} reps; latency ${c.latencyPerCompetitor} per competitor; RSS with ${c.rssQueued} queued; rate window ${c.rateWindowS} s${options.quick ? ' (quick: smaller than a full run)' : ''}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping every process started by the benchmark…`);
    void cleanupAll().then(() => process.exit(130));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));

  mkdirSync(SCRATCH, { recursive: true });
  const cert = ensureCertificate(join(SCRATCH, 'certs'));
  const diskStart = fsyncProbe(SCRATCH);
  log(`disk: 8 KB write + fdatasync p50 ${diskStart.overwriteP50Ms} ms in place, ${diskStart.appendP50Ms} ms appending`);
  const sink = await Sink.start(cert);
  onCleanup(() => sink.stop());
  log(`sink: SMTP 127.0.0.1:${sink.smtpPort} (STARTTLS, XOAUTH2/PLAIN/LOGIN), token endpoint https://127.0.0.1:${sink.tokenPort}, Graph sendMail https://127.0.0.1:${sink.graphPort}`);

  const competitors: Partial<Record<CompetitorKey, Competitor>> = {};
  for (const k of ['raw', 'postfix', 'postfix_default', 'mailgate']) if (!wants(options, k)) notes.push(`${k}: not run (--only); its figures are null.`);
  if (wants(options, 'raw')) competitors.raw = rawCompetitor(sink, cert.cert);

  const postfixNote = process.env[POSTFIX_NOTE_ENV];
  if (postfixNote) notes.push(`Postfix columns skipped: ${postfixNote}`);
  else {
    const wanted = ([['postfix', true, 10025], ['postfix_default', false, 10026]] as const).filter(([key]) => wants(options, key));
    const started = await Promise.allSettled(
      wanted.map(([key, reuse, port]) => startPostfix({ name: key, reuse, scratch: SCRATCH, sinkPort: sink.smtpPort, smtpdPort: port, caFile: cert.certPath })),
    );
    started.forEach((r, i) => {
      const [key, reuse, port] = wanted[i];
      if (r.status === 'fulfilled') {
        onCleanup(() => stopPostfix(r.value));
        competitors[key] = postfixCompetitor(r.value);
        log(`${key}: Postfix started (smtp_tls_connection_reuse = ${reuse ? 'yes' : 'no'}), injection on 127.0.0.1:${port}`);
      } else {
        const msg = (r.reason as Error).message;
        notes.push(`${key} could not start: ${msg}`);
        log(`${key} could not start: ${msg}`);
      }
    });
  }

  let launcher;
  if (wants(options, 'mailgate')) {
    const a = mailgateAvailability();
    if (a.ok) {
      launcher = createLauncher({ smtpPort: sink.smtpPort, tokenPort: sink.tokenPort, graphPort: sink.graphPort, caPath: cert.certPath, ratePerMinute: 1_000_000 });
      competitors.mailgate = mailgateCompetitor(launcher, options.counts.httpConcurrency);
    } else {
      notes.push(`Mailgate figures are null: ${a.note}`);
      log(`mailgate: not available: ${a.note}`);
    }
  }

  let seq = 0;
  const ctx: Context = {
    options,
    counts: options.counts,
    environment,
    sink,
    ca: cert.cert,
    certFiles: cert,
    postfixUnavailable: postfixNote ?? (wants(options, 'postfix') ? undefined : 'not run (--only)'),
    caPath: cert.certPath,
    competitors,
    mailgate: launcher,
    notes,
    log,
    runId: (prefix) => `${prefix}-${++seq}`,
  };

  const outputs: ScenarioOutputs = {};
  const step = async <K extends keyof ScenarioOutputs>(name: string, key: K, fn: () => Promise<ScenarioOutputs[K]>) => {
    if (!scenario(options, name) || isStopping()) return;
    log(`— ${name} —`);
    try {
      outputs[key] = await fn();
    } catch (e) {
      if (isStopping()) return;
      notes.push(`scenario ${name} failed: ${(e as Error).message.split('\n')[0]}`);
      log(`scenario ${name} failed: ${(e as Error).stack}`);
    }
  };
  await step('ceiling', 'ceiling', () => runCeiling(ctx));
  await step('burst', 'burst', () => runBurst(ctx));
  await step('latency', 'latency', () => runLatency(ctx));
  await step('cold', 'cold', () => runCold(ctx));
  if (launcher) {
    await step('tokens', 'tokensCold', () => runTokensCold(ctx));
    await step('capacity', 'capacity', () => runCapacity(ctx));
    await step('rate', 'rate', () => runRate(ctx));
    await step('graph', 'graph', () => runGraph(ctx));
    await step('senders', 'senders', () => runSenders(ctx));
    await step('postgres', 'postgres', () => runPostgres(ctx));
  }
  await step('relay', 'relay', () => runRelay(ctx));
  await step('wan', 'wan', () => runWan(ctx));

  if (isStopping()) {
    await cleanupAll();
    return 130;
  }
  if (environment !== 'netns-quickack' && (competitors.postfix || competitors.postfix_default)) {
    notes.push('Postfix figures are STALLED (plain loopback: Nagle on Postfix meets the receiver\'s delayed ACK, ≈40 ms per message); they are not a fair comparison.');
  }
  if (options.quick) {
    notes.push(`Quick run: ${options.counts.burstMessages} burst messages × ${options.counts.burstReps} reps (full: 5,000 × 5), ${options.counts.latencyPerCompetitor} latency messages per competitor (full: 500), RSS with ${options.counts.rssQueued} queued (full: 100,000), rate window ${options.counts.rateWindowS} s (full: 60 s), relay ${options.counts.relayMessages} intake + ${options.counts.relayE2eMessages} end-to-end messages × ${options.counts.relayReps} (full: 5,000 + 5,000 × 3), Graph ${options.counts.graphMessages} messages × ${options.counts.graphReps} rep per transport (full: 2,000 × 3), WAN ${options.counts.wanLatencyMessages} single messages and a burst of ${options.counts.wanBurstMessages} per competitor (full: 100 and 1,000), senders ${options.counts.sendersCount} senders and ${options.counts.sendersMessages} messages (full: 100 and 3,000), PostgreSQL ${options.counts.pgMessages} burst and ${options.counts.pgEnqueueMessages} enqueue messages (full: 3,000 and 10,000), no 1,000,000-queued memory figure (full runs only).`);
  }
  const disk = { start: diskStart, end: fsyncProbe(SCRATCH) };
  const tlsCtx = tlsContextProbe(cert.cert);
  if (launcher) {
    notes.push(`The service trusts the sink through NODE_EXTRA_CA_CERTS, not MAILGATE_CA_FILE: with MAILGATE_CA_FILE every new TLS connection (SMTP session, token request) builds a context from all root certificates plus the extra CA, measured here at ${tlsCtx.allRootsPlusExtraMs} ms of CPU against ${tlsCtx.defaultMs} ms for the default context.`);
  }
  const bgRuns = outputs.burst?.runs ?? [];
  const results = buildResults({
    quick: options.quick,
    environment,
    counts: options.counts,
    outputs,
    notes,
    startedAt,
    durationS: (nowMs() - t0) / 1000,
    disk,
    tlsContext: tlsCtx,
    background: {
      quietRuns: bgRuns.filter((r) => r.quietBefore).length,
      totalRuns: bgRuns.length,
      maxBackgroundCores: Math.max(0, ...bgRuns.map((r) => r.backgroundCores)),
      medianBackgroundCores: median(bgRuns.map((r) => r.backgroundCores)),
    },
  });
  (results as Record<string, unknown>).targets = evaluateTargets(results);
  mkdirSync(RESULTS, { recursive: true });
  const base = options.out?.includes('/') ? resolve(options.out) : join(RESULTS, options.out ?? 'latest');
  writeFileSync(`${base}.json`, JSON.stringify(results, null, 2) + '\n');
  writeFileSync(`${base}.md`, renderMarkdown(results));
  await cleanupAll();
  process.stdout.write(`\n${summaryTable(results)}\n\n`);
  for (const t of evaluateTargets(results)) process.stdout.write(`${t.status === 'met' ? 'met     ' : t.status === 'missed' ? 'MISSED  ' : 'n/a     '} ${t.target}: ${t.measured}\n`);
  process.stdout.write(`\nwrote ${base}.json and ${base}.md (${((nowMs() - t0) / 1000).toFixed(0)} s)\n`);
  return 0;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options = parseOptions(argv);
  let code: number;
  try {
    code = process.env[INNER_ENV] ? await inner(options, 'netns') : await outer(options, argv);
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).stack}\n`);
    await cleanupAll();
    code = 1;
  }
  process.exit(code);
}

void main();
