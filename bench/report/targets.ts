/**
 * The issue's targets, checked against a results document. Each is met, missed or not
 * measured; a miss carries the measured figures that explain it (CPU per message, cores
 * used, burst allowance, …), computed from the same run.
 */
export type TargetStatus = 'met' | 'missed' | 'not measured';

export interface TargetResult {
  id: string;
  target: string;
  measured: string;
  status: TargetStatus;
  cause?: string;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type R = any;

const f = (v: unknown, d = 1) => (typeof v === 'number' ? v.toFixed(d) : '–');
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function check(id: string, target: string, measured: string, ok: boolean | null, cause?: string): TargetResult {
  return { id, target, measured, status: ok === null ? 'not measured' : ok ? 'met' : 'missed', cause: ok === false ? cause : undefined };
}

/** Why Mailgate's burst throughput is what it is: where its CPU and time go, run by run. */
function throughputCause(r: R): string {
  const b = r.burst;
  const runs = (b.runs ?? []).filter((x: R) => x.competitor === 'mailgate' && x.msgsPerS);
  if (!runs.length) return 'no successful Mailgate burst run';
  const pct = (v: unknown) => f(typeof v === 'number' ? v * 100 : v, 0);
  const perRun = runs
    .map((x: R) => {
      const mt = x.mainThread ? `main thread (HTTP intake, SQLite, worker) ${pct(x.mainThread.running)}% running / ${pct(x.mainThread.waitingForCpu)}% waiting for a CPU / ${pct(x.mainThread.sleepingOrBlocked)}% idle or blocked` : '';
      const dt = x.otherThread && x.otherThread.running > 0.05 ? `; delivery thread (MIME + SMTP) ${pct(x.otherThread.running)}% running / ${pct(x.otherThread.waitingForCpu)}% waiting; V8 background threads ${pct(x.otherThread.restRunning)}%` : '';
      const others = Object.entries(x.cpuMsPerMsg ?? {}).filter(([k]) => k !== 'service').map(([k, v]) => `${k} ${f(((v as number) * x.msgsPerS) / 10, 0)}%`).join(', ');
      return `${f(x.msgsPerS, 0)} msgs/s at ${f(x.sutCores, 2)} cores: ${mt}${dt}; ${others} of a core; machine ${pct(x.machineCores)}% of one core busy (2 cores)`;
    })
    .join('. ');
  const raw = b.cpu_ms_per_msg?.raw;
  const disk = runs.map((x: R) => x.diskKbPerMsg).filter(num);
  const commits = runs.map((x: R) => x.commitsPerMsg).filter(Boolean);
  const diskText = disk.length ? `. It wrote ${f(disk[0], 0)} KB to disk per ~11 KB message (SQLite WAL frames and checkpoints)${commits.length ? `, in ${f(commits[0].durable, 2)} durable + ${f(commits[0].bookkeeping, 2)} bookkeeping commits per message` : ''}` : '';
  const prof = b.mailgate_profile?.components as { name: string; pct: number }[] | undefined;
  const profText = prof?.length ? `. Profile of the service's main thread: ${prof.slice(0, 5).map((c) => `${c.name} ${c.pct}%`).join(', ')}` : '';
  return (
    `the service process needs ${f(b.mailgate_cpu_ms_per_msg, 2)} ms of CPU per message (raw nodemailer's whole process: ${f(raw, 2)} ms; Mailgate adds the HTTP intake, the durable store and a second V8 isolate to the same composition and SMTP work). ` +
    `Per run: ${perRun}. Neither thread is saturated, yet both wait for a CPU a quarter of the time: the service's two threads, its V8 background threads, the load generator and the sink contend for the machine's 2 cores, so the burst is bounded by total CPU per message, not by one event loop` +
    diskText +
    profText
  );
}

/** The profile's share of the service's event-loop time inside SQLite (better-sqlite3), if profiled. */
function sqliteShare(r: R): string {
  const c = (r.burst?.mailgate_profile?.components ?? []).find((x: R) => x.name === 'npm: better-sqlite3');
  return c
    ? `the service's event loop spends ${f(c.pct, 0)}% of its busy time inside synchronous SQLite calls (better-sqlite3: BEGIN/COMMIT with fsync and WAL checkpoints), during which no request or SMTP reply is handled`
    : 'no profile in this run (see --cpu-prof)';
}

function rssCause(r: R): string {
  const c = r.capacity ?? {};
  const curve = (c.rss_curve ?? []).map((p: R) => `${p.queued}→${p.rssMb}`).join(', ');
  const hc = c.rss_heap_capped;
  return (
    `anonymous memory ${f(c.rss_peak_anon_mb, 0)} MB + file-backed ${f(c.rss_peak_file_mb, 0)} MB; RSS while filling (queued→MB): ${curve || '–'}` +
    (hc ? `; with the V8 heap capped at ${hc.capMb} MB the same fill peaks at ${f(hc.peakRssMb, 0)} MB with ${hc.errors} errors, so the excess is V8 heap growth from per-request garbage (11 KB JSON bodies parsed, validated and re-serialised), not retained messages` : '')
  );
}

/** Why Mailgate's WAN figures are what they are: round trips per message, side by side. */
function wanCause(r: R): string {
  const w = r.wan ?? {};
  const fg = w.figures ?? {};
  const rt = (k: string) => f(fg[k]?.roundTripsPerMsg, 2);
  return (
    `round trips per message on a warm connection (turnarounds counted at the path): Mailgate ${rt('mailgate')}, Mailgate with pipelining off ${rt('mailgate_nopipe')}, raw nodemailer ${rt('raw')}, Postfix ${rt('postfix')}; ` +
    `at ${f(w.rtt_ms, 0)} ms each (path: ${w.method ?? '–'}, NOOP → 250 measured ${f(w.measured_rtt_ms, 1)} ms)` +
    (num(fg.mailgate?.acceptP50) ? `; Mailgate's single messages: the 202 (HTTP and the durable store, local) after ${f(fg.mailgate.acceptP50, 1)} ms at p50, 202 → 250 ${f(fg.mailgate.deliveryP50, 1)} ms` : '') +
    (num(fg.raw?.roundTripsPerMsg) && num(fg.mailgate?.roundTripsPerMsg) && fg.mailgate.roundTripsPerMsg > 0
      ? `; with ${f(fg.raw.roundTripsPerMsg, 0)} round trips per message for raw nodemailer (the nodemailer in this run, ${r.versions?.nodemailer ?? '–'}, already pipelines MAIL/RCPT/DATA where the server offers PIPELINING; the issue assumed 4) and ${f(fg.mailgate.roundTripsPerMsg, 0)} for Mailgate, the burst ratio to raw nodemailer cannot exceed ${f(fg.raw.roundTripsPerMsg / fg.mailgate.roundTripsPerMsg, 1)}× on the same 3 connections`
      : '') +
    (num(fg.mailgate?.roundTripsPerMsg) && fg.mailgate.roundTripsPerMsg > 1.5 ? '; Mailgate waits for each command\'s reply: the pipelined send (MAIL, RCPT, BDAT in one write) is not in this build or the sink did not offer PIPELINING and CHUNKING' : '')
  );
}

export function evaluateTargets(r: R): TargetResult[] {
  const b = r.burst ?? {};
  const l = r.latency ?? {};
  const out: TargetResult[] = [];
  const quickNote = r.quick ? ' (quick run: smaller counts)' : '';

  const ratioRaw = b.ratio_mailgate_raw;
  out.push(check('burst-vs-raw', 'Burst throughput ≥ 1.0× raw nodemailer (durable 202 before the API answers)', `${f(b.mailgate_msgs_per_s, 0)} vs ${f(b.raw_msgs_per_s, 0)} msgs/s: ratio ${f(ratioRaw, 2)}${quickNote}`, num(ratioRaw) ? ratioRaw >= 1.0 : null, throughputCause(r)));

  const ratioPf = b.ratio_mailgate_postfix;
  const stalled = r.environment !== 'netns-quickack';
  out.push(check('burst-vs-postfix', 'Burst throughput ≥ 3× Postfix (TLS reuse on), quickack environment', `ratio ${f(ratioPf, 2)} (${f(b.mailgate_msgs_per_s, 0)} vs ${f(b.postfix_msgs_per_s, 0)} msgs/s)${stalled ? '; environment is not netns-quickack: Postfix stalled' : ''}`, num(ratioPf) && !stalled ? ratioPf >= 3 : null, throughputCause(r)));

  const peaks = [b.peak_connections?.mailgate, r.rate?.peak_connections].filter(num);
  out.push(check('connections', 'Never more than 3 connections to the sink (Mailgate)', peaks.length ? `peak ${Math.max(...peaks)} (burst ${f(b.peak_connections?.mailgate, 0)}, rate ${f(r.rate?.peak_connections, 0)})` : '–', peaks.length ? Math.max(...peaks) <= 3 : null, 'the pool opened more sessions than its cap'));

  const rawCpu = b.cpu_ms_per_msg?.raw;
  out.push(check('cpu', "CPU per message of the service process ≤ raw nodemailer's whole process", `${f(b.mailgate_cpu_ms_per_msg, 2)} vs ${f(rawCpu, 2)} ms/msg`, num(b.mailgate_cpu_ms_per_msg) && num(rawCpu) ? b.mailgate_cpu_ms_per_msg <= rawCpu : null, throughputCause(r)));

  const acceptWhile = b.mailgate_accept_per_s;
  out.push(check('enqueue-while-delivering', '≥ 2,000 durable enqueues/s while delivery is running', `${f(acceptWhile, 0)} accepts/s during the burst (16 concurrent POSTs)`, num(acceptWhile) ? acceptWhile >= 2000 : null,
    `${f(acceptWhile, 0)} accepts/s while delivering against ${f(r.capacity?.enqueue_per_s, 0)}/s with the worker off in this run: the main thread shares the 2 cores with the delivery thread and waits for a CPU, and each enqueue batch waits for its fsync; ${throughputCause(r)}`));

  const p99 = l.mailgate_p99_ms;
  out.push(check('latency-vs-raw', 'Latency p99 ≤ raw nodemailer p99 + 3 ms', `${f(p99, 2)} vs ${f(l.raw_p99_ms, 2)} + 3 ms`, num(p99) && num(l.raw_p99_ms) ? p99 <= l.raw_p99_ms + 3 : null, `the 202 alone has p99 ${f(l.mailgate_accept_p99_ms, 2)} ms (p50 ${f(l.mailgate_accept_p50_ms, 2)}); 202 → 250 has p99 ${f(l.mailgate_delivery_p99_ms, 2)} ms (p50 ${f(l.mailgate_delivery_p50_ms, 2)}); raw's own p99 in the same run was ${f(l.raw_p99_ms, 2)} ms; ${sqliteShare(r)}`));
  out.push(check('latency-vs-postfix', "Latency p99 ≤ Postfix's p99", `${f(p99, 2)} vs ${f(l.postfix_p99_ms, 2)} ms`, num(p99) && num(l.postfix_p99_ms) ? p99 <= l.postfix_p99_ms : null, `Mailgate p50 ${f(l.mailgate_p50_ms, 2)} vs Postfix ${f(l.postfix_p50_ms, 2)} ms; Mailgate's 202 alone has p99 ${f(l.mailgate_accept_p99_ms, 2)} ms and 202 → 250 p99 ${f(l.mailgate_delivery_p99_ms, 2)} ms`));
  out.push(check('accept-p99', "The API's 202 (durably stored) at p99 ≤ 5 ms", `${f(l.mailgate_accept_p99_ms, 2)} ms (p50 ${f(l.mailgate_accept_p50_ms, 2)})`, num(l.mailgate_accept_p99_ms) ? l.mailgate_accept_p99_ms <= 5 : null, `p50 ${f(l.mailgate_accept_p50_ms, 2)} ms but p99 ${f(l.mailgate_accept_p99_ms, 2)} ms; ${sqliteShare(r)}; the disk probe gave fdatasync p99 ${f(r.disk_fsync_ms?.start?.appendP99Ms, 2)} ms (appending) at the start of this run`));

  const tb = r.tokens?.burst_token_requests;
  const tc = r.tokens?.cold_concurrent_token_requests;
  out.push(check('tokens-burst', 'Token requests: exactly 1 in scenario 1 (per fresh service run)', `${(r.tokens?.burst_token_requests_per_run ?? []).join(', ') || '–'}`, num(tb) ? tb === 1 : null, 'more than one token request per service lifetime'));
  out.push(check('tokens-cold', `Token requests: exactly 1 for ${r.tokens?.cold_concurrent_messages ?? 50} concurrent messages on a cold cache`, `${f(tc, 0)}`, num(tc) ? tc === 1 : null, 'concurrent cold callers did not share one request'));

  const rss = r.capacity?.peak_rss_mb_100k;
  const q = r.capacity?.rss_queued_messages;
  out.push(check('rss', 'Peak RSS ≤ 200 MB with 100,000 queued messages', `${f(rss, 0)} MB with ${q ?? '–'} queued${num(q) && q < 100000 ? ' (quick run: not the 100,000 of the target; run a full benchmark)' : ''}`, num(rss) && num(q) && q >= 100000 ? rss <= 200 : null, rssCause(r)));
  const rss1m = r.capacity?.peak_rss_mb_1m;
  const q1m = r.capacity?.rss_large_queued_messages;
  out.push(check('rss-1m', 'Peak RSS ≤ 150 MB with 1,000,000 queued messages, and ≤ 1.2 × the figure at 100,000', num(rss1m) ? `${f(rss1m, 0)} MB with ${q1m} queued against ${f(rss, 0)} MB with ${q ?? '–'} (${f(num(rss) ? rss1m / rss : null, 2)}×)` : 'not measured (full runs only)', num(rss1m) && num(rss) && num(q1m) && q1m >= 1_000_000 ? rss1m <= 150 && rss1m <= 1.2 * rss : null, rssCause(r)));
  out.push(check('enqueue', '≥ 2,000 durable enqueues/s (worker paused)', `${f(r.capacity?.enqueue_per_s, 0)}/s`, num(r.capacity?.enqueue_per_s) ? r.capacity.enqueue_per_s >= 2000 : null, `CPU ${f(r.capacity?.cpu_ms_per_enqueue, 2)} ms per enqueue in the service process`));

  const rate = r.rate ?? {};
  const within = num(rate.achieved_per_min) ? Math.abs(rate.achieved_per_min - rate.limit_per_min) / rate.limit_per_min <= 0.03 : null;
  out.push(check('rate', 'Rate limit 600/min: achieved within 3% over the window, zero throttles', `${f(rate.achieved_per_min, 1)}/min over ${rate.window_s} s${r.quick ? ' (quick: shortened window)' : ''}; ${f(rate.throttle_replies, 0)} throttle replies`, within === null ? null : within && rate.throttle_replies === 0,
    `${f(rate.first_10_s_messages, 0)} messages went out in the first 10 s where the limit allows ${f(rate.limit_per_min / 6, 0)}: the worker's limiter (src/service/delivery/rate-limiter.ts) spaces messages 60 s / rate apart, 1 % under the rate, and caps every 60-second window at the limit${r.quick ? `; the quick run's sink counts a ${rate.window_s} s window scaled from the minute` : ''}` +
      `; deliveries per 5 s: ${(rate.per_5_s ?? []).join(' ')} (the limit is ${f(rate.limit_per_min / 12, 0)} per 5 s)` +
      (rate.throttle_replies ? `; the sink (like Exchange) refused ${rate.throttle_replies} of them with a 4xx, and the worker's retry backoff for those lowered the rate in the rest of the window (steady ${f(rate.steady_per_min, 1)}/min over its second half)` : `; steady rate over the second half of the window ${f(rate.steady_per_min, 1)}/min`)));

  const rl = r.relay ?? {};
  const relayRuns = (rl.runs ?? []) as R[];
  const relayCause = (phase: string) => {
    const rows = relayRuns.filter((x: R) => x.phase === phase).map((x: R) => {
      const cores = num(x.msgsPerS) && num(x.sutCpuMsPerMsg) ? (x.msgsPerS * x.sutCpuMsPerMsg) / 1000 : null;
      return `${x.competitor} ${f(x.msgsPerS, 0)} msgs/s at ${f(x.sutCpuMsPerMsg, 2)} ms CPU/msg (${f(cores, 2)} cores)${x.dataP99Ms !== undefined ? `, DATA→250 p50/p99 ${f(x.dataP50Ms, 0)}/${f(x.dataP99Ms, 0)} ms` : ''}, machine ${f(x.machineCores * 100, 0)}% of one core with ${f(x.backgroundCores * 100, 0)}% background (2 cores)`;
    });
    const dk = r.disk_fsync_ms?.start;
    const prof = rl.mailgate_profile;
    const top = (prof?.components ?? []).slice(0, 4).map((c: R) => `${c.name} ${f(c.pct, 0)}%`).join(', ');
    const profText = prof ? `. Profile of an extra Mailgate intake run (${f(prof.msgs_per_s_under_profiler, 0)} msgs/s under the profiler), shares of the main thread's busy time: ${top}` : '';
    return rows.length
      ? `per run: ${rows.join('; ')}. Disk: 8 KB write + fdatasync p50 ${f(dk?.appendP50Ms, 2)} ms appending at the start of the run (calibration: 0.07 ms). Each relayed 250 waits for a durable SQLite commit, which runs synchronously on the service's one event loop (group commit batches only the messages that end in the same turn, and 3 connections have at most 3 in flight); Postfix's 3 smtpd processes each write and fsync their own queue file in parallel. A service using well under one core while slower means it waits (fsync, or a CPU taken by other processes), not that it computes${profText}`
      : 'no relay run';
  };
  const ri = rl.ratio_intake;
  out.push(check('relay-intake', 'Relay intake ≥ 1.5× Postfix smtpd (3 STARTTLS connections, durable 250)', `${f(rl.mailgate_intake_msgs_per_s, 0)} vs ${f(rl.postfix_intake_msgs_per_s, 0)} msgs/s: ratio ${f(ri, 2)}${quickNote}`, num(ri) ? ri >= 1.5 : null, relayCause('intake')));
  const mp = rl.mailgate_data_p99_ms;
  const pp = rl.postfix_data_p99_ms;
  out.push(check('relay-data-p99', "Relay DATA→250 p99 ≤ Postfix's", `${f(mp, 0)} vs ${f(pp, 0)} ms (whole ms)`, num(mp) && num(pp) ? mp <= pp : null, relayCause('intake')));
  const re = rl.ratio_e2e;
  out.push(check('relay-e2e', 'Relay end to end (device → relay → sink) ≥ 1.5× Postfix with TLS reuse', `${f(rl.e2e_mailgate_msgs_per_s, 0)} vs ${f(rl.e2e_postfix_msgs_per_s, 0)} msgs/s: ratio ${f(re, 2)}${quickNote}`, num(re) ? re >= 1.5 : null, relayCause('e2e')));
  const rpc = rl.peak_connections;
  out.push(check('relay-connections', 'Relay end to end: never more than 3 connections to the sink (Mailgate)', `peak ${f(rpc, 0)}`, num(rpc) ? rpc <= 3 : null, 'the delivery pool opened more sessions than its cap'));
  const g = r.graph ?? {};
  const gRatio = g.ratio_graph_smtp;
  const gRuns = (g.runs ?? []).filter((x: R) => x.transport === 'graph' && x.msgsPerS);
  const graphCause = () =>
    `Graph ${f(g.cpu_ms_per_msg, 2)} ms of service CPU per message against SMTP's ${f(g.smtp_cpu_ms_per_msg, 2)} ms; ` +
    gRuns.map((x: R) => `${f(x.msgsPerS, 0)} msgs/s with ${x.peakConcurrent} requests in flight at most, ${x.graphRequests} requests over ${x.graphConnectionsOpened} new TLS connections, machine ${f(x.machineCores * 100, 0)}% of one core busy`).join('; ');
  out.push(check('graph-vs-smtp', 'Graph burst ≥ 0.8× the SMTP path (same run, each at its per-mailbox limit)', `${f(g.mailgate_graph_msgs_per_s, 0)} vs ${f(g.mailgate_smtp_msgs_per_s, 0)} msgs/s: ratio ${f(gRatio, 2)}${quickNote}`, num(gRatio) ? gRatio >= 0.8 : null, graphCause()));
  out.push(check('graph-concurrency', 'Never more than 4 Graph requests in flight per mailbox', `peak ${f(g.peak_concurrent_requests, 0)} at the sink`, num(g.peak_concurrent_requests) && gRuns.length ? g.peak_concurrent_requests <= 4 : null, 'the Graph gate (src/transport/graph/graph-gate.ts) let more requests through than its cap'));
  const w = r.wan ?? {};
  const rtt = w.rtt_ms;
  const wq = r.quick ? ' (quick run: fewer messages)' : '';
  out.push(check('wan-p50', 'WAN, warm connection, one recipient: Mailgate submit → 250 p50 ≤ 1 round trip + 10 ms', `${f(w.mailgate_p50_ms, 1)} ms at ${f(rtt, 0)} ms RTT (≤ ${f(num(rtt) ? rtt + 10 : null, 0)}); pipelining off ${f(w.mailgate_nopipe_p50_ms, 1)}, raw nodemailer ${f(w.raw_p50_ms, 1)}, Postfix ${f(w.postfix_p50_ms, 1)} ms; ${f(w.mailgate_round_trips_per_msg, 2)} round trips per message${wq}`, num(w.mailgate_p50_ms) && num(rtt) ? w.mailgate_p50_ms <= rtt + 10 : null, wanCause(r)));
  const wr = num(w.mailgate_msgs_per_s) && num(w.raw_msgs_per_s) ? w.mailgate_msgs_per_s / w.raw_msgs_per_s : null;
  out.push(check('wan-burst-vs-raw', 'WAN burst over 3 connections ≥ 3× raw nodemailer', `${f(w.mailgate_msgs_per_s, 1)} vs ${f(w.raw_msgs_per_s, 1)} msgs/s: ${f(wr, 2)}×${wq}`, wr === null ? null : wr >= 3, wanCause(r)));
  const wp = num(w.mailgate_msgs_per_s) && num(w.postfix_msgs_per_s) ? w.mailgate_msgs_per_s / w.postfix_msgs_per_s : null;
  out.push(check('wan-burst-vs-postfix', 'WAN burst over 3 connections ≥ 1.5× Postfix (TLS reuse)', `${f(w.mailgate_msgs_per_s, 1)} vs ${f(w.postfix_msgs_per_s, 1)} msgs/s: ${f(wp, 2)}×${wq}`, wp === null ? null : wp >= 1.5, wanCause(r)));
  out.push(check('wan-connections', 'WAN: never more than 3 connections (Mailgate)', `peak ${f(w.peak_connections, 0)}`, num(w.peak_connections) ? w.peak_connections <= 3 : null, 'the pool opened more sessions than its cap'));
  const sd = r.senders ?? {};
  const single = r.burst?.mailgate_msgs_per_s;
  const sq = r.quick ? ` (quick run: ${sd.senders} senders, ${sd.messages} messages)` : '';
  const sRatio = num(sd.msgs_per_s) && num(single) && single > 0 ? sd.msgs_per_s / single : null;
  const sendersCause = () =>
    `${f(sd.msgs_per_s, 0)} msgs/s over ${sd.senders} mailboxes at ${f(sd.cpu_ms_per_msg, 2)} ms of service CPU per message against ${f(r.burst?.mailgate_cpu_ms_per_msg, 2)} ms for the single-sender burst; ${sd.connections_opened === 0 ? `no SMTP session opened during the run (the warm-up's sessions, one per mailbox, were reused)` : `${f(sd.connections_opened, 0)} SMTP sessions opened for ${f(sd.messages, 0)} messages (each: TCP, STARTTLS, XOAUTH2, on the service and the sink alike)`} and ${f(sd.peak_connections, 0)} open at once at the sink in all, against the single sender's pool of 3; machine ${f(num(sd.machine_cores) ? sd.machine_cores * 100 : null, 0)}% of one core busy (2 cores) during the run; slowest sender ${f(sd.slowest_sender_msgs_per_s, 1)} msgs/s, fastest ${f(sd.fastest_sender_msgs_per_s, 1)}`;
  out.push(check('senders-throughput', 'Senders: aggregate ≥ 0.8× the single-sender burst of the same run', num(single) ? `${f(sd.msgs_per_s, 0)} vs ${f(single, 0)} msgs/s: ${f(sRatio, 2)}×${sq}` : `${f(sd.msgs_per_s, 0)} msgs/s; the burst scenario did not run, so there is no single-sender figure to compare with${sq}`, sRatio === null ? null : sRatio >= 0.8, sendersCause()));
  out.push(check('senders-fairness', "Senders: the slowest sender's rate within 10% of the fastest's", `${f(sd.fairness_min_over_max, 2)} (slowest ÷ fastest)${sq}`, num(sd.fairness_min_over_max) ? sd.fairness_min_over_max >= 0.9 : null, sendersCause()));
  out.push(check('senders-connections', 'Senders: never more than 3 connections to any mailbox', `max ${f(sd.max_connections_per_mailbox, 0)} per mailbox (${f(sd.mailboxes_seen, 0)} mailboxes)`, num(sd.max_connections_per_mailbox) && num(sd.msgs_per_s) ? sd.max_connections_per_mailbox <= 3 : null, 'a mailbox had more sessions than its sender\'s maxConnections'));
  out.push(check('senders-tokens', 'Senders: token requests = number of credentials', `${f(sd.token_requests, 0)} for ${sd.credentials} credentials (${Object.entries(sd.token_requests_per_client ?? {}).map(([k, v]) => `${k.slice(0, 8)}…: ${v}`).join(', ') || '–'})`, num(sd.token_requests) && num(sd.msgs_per_s) ? sd.token_requests === sd.credentials : null, 'senders on one credential did not share its token'));
  const pgr = r.postgres ?? {};
  const pq = r.quick ? ` (quick run: ${pgr.messages} messages)` : '';
  const pgRatio = num(pgr.pg_1_msgs_per_s) && num(pgr.sqlite_msgs_per_s) && pgr.sqlite_msgs_per_s > 0 ? pgr.pg_1_msgs_per_s / pgr.sqlite_msgs_per_s : null;
  const acc = pgr.accept_ms ?? {};
  const pgCause = () =>
    `202 p50/p99: SQLite ${f(acc.sqlite?.p50, 1)}/${f(acc.sqlite?.p99, 1)} ms, PostgreSQL 1 instance ${f(acc.pg1?.p50, 1)}/${f(acc.pg1?.p99, 1)} ms, 2 instances ${f(acc.pg2?.p50, 1)}/${f(acc.pg2?.p99, 1)} ms; every enqueue waits for a PostgreSQL commit with synchronous_commit = on (WAL flush with fsync, Debian defaults) over a unix socket; 2 instances share one mailbox, whose owner alone delivers (≤ 3 connections), so the second instance adds intake, not delivery`;
  out.push(check('pg-vs-sqlite', 'PostgreSQL, 1 instance: burst ≥ 0.7× SQLite of the same run', `${f(pgr.pg_1_msgs_per_s, 0)} vs ${f(pgr.sqlite_msgs_per_s, 0)} msgs/s: ${f(pgRatio, 2)}×; 2 instances ${f(pgr.pg_2_msgs_per_s, 0)} msgs/s${pq}`, pgRatio === null ? null : pgRatio >= 0.7, pgCause()));
  out.push(check('pg-enqueue', '≥ 2,000 durable enqueues/s across 2 instances on PostgreSQL (workers off)', `${f(pgr.pg_enqueue_per_s, 0)}/s (${pgr.enqueue_messages} messages, 8 concurrent POSTs per instance)`, num(pgr.pg_enqueue_per_s) ? pgr.pg_enqueue_per_s >= 2000 : null, `the second block of ${pgr.enqueue_messages} through the same two processes (the first, right after start: ${f(pgr.pg_enqueue_cold_per_s, 0)}/s); with the workers off: 202 p50/p99 ${f(pgr.enqueue?.acceptP50Ms, 1)}/${f(pgr.enqueue?.acceptP99Ms, 1)} ms, ${f(pgr.enqueue?.cpuMsPerEnqueue, 2)} ms of the two services' CPU and ${f(pgr.enqueue?.serverCpuMsPerEnqueue, 2)} ms of the PostgreSQL server's per enqueue, machine ${f(num(pgr.enqueue?.machineCores) ? pgr.enqueue.machineCores * 100 : null, 0)}% of one core busy (2 cores); ${pgCause()}`));
  out.push(check('pg-failover', 'PostgreSQL failover (kill -9 of the mailbox owner → the survivor\'s first delivery) ≤ lease + 2 s', `${f(pgr.failover_ms, 0)} ms with a ${f(pgr.lease_seconds, 0)} s lease (≤ ${f(num(pgr.lease_seconds) ? pgr.lease_seconds * 1000 + 2000 : null, 0)} ms)`, num(pgr.failover_ms) && num(pgr.lease_seconds) ? pgr.failover_ms <= pgr.lease_seconds * 1000 + 2000 : null, `${pgr.failover_note ?? '–'}; the survivor takes the expired ownership row at its next renewal round (every lease/3), so the worst case is lease + lease/3 plus its next claim`));
  out.push(check('pg-connections', 'PostgreSQL, 1 and 2 instances and failover: never more than 3 connections to the mailbox', `max ${f(pgr.max_connections_per_mailbox, 0)}`, num(pgr.max_connections_per_mailbox) && (num(pgr.pg_1_msgs_per_s) || num(pgr.pg_2_msgs_per_s)) ? pgr.max_connections_per_mailbox <= 3 : null, 'two instances delivered for one mailbox at once, or an owner\'s pool opened more than 3'));
  return out;
}
