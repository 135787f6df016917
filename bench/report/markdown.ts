/** bench/results/latest.md and the summary table printed at the end of a run. */
import { evaluateTargets } from './targets.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type R = any;

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const f = (v: unknown, d = 0) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '–');
const sp = (s: R, d = 0) => {
  if (!s || s.median === null || s.median === undefined) return '–';
  return s.runs?.length > 1 ? `${f(s.median, d)} (${f(s.min, d)}–${f(s.max, d)})` : f(s.median, d);
};

export function summaryTable(r: R): string {
  const b = r.burst ?? {};
  const l = r.latency ?? {};
  const s = b.spread?.msgs_per_s ?? {};
  const cpu = b.cpu_ms_per_msg ?? {};
  const pc = b.peak_connections ?? {};
  const stalled = r.environment !== 'netns-quickack' ? ' ⚠ stalled' : '';
  const rows = [
    ['| Figure | Mailgate | raw nodemailer | Postfix (TLS reuse) | Postfix (default) |', '|---|---|---|---|---|'],
    [`| Burst msgs/s, median (min–max) | **${sp(s.mailgate)}** | ${sp(s.raw)} | ${sp(s.postfix)}${stalled} | ${sp(s.postfix_default)}${stalled} |`],
    [`| Ratio Mailgate / competitor (paired) | – | ${f(b.ratio_mailgate_raw, 2)} | ${f(b.ratio_mailgate_postfix, 2)} | ${f(b.ratio_mailgate_postfix_default, 2)} |`],
    [`| Peak connections to the sink | ${f(pc.mailgate)} | ${f(pc.raw)} | ${f(pc.postfix)} | ${f(pc.postfix_default)} |`],
    [`| CPU ms/msg of the system under test | ${f(cpu.mailgate, 2)} (service) | ${f(cpu.raw, 2)} (driver) | ${f(cpu.postfix, 2)} (all Postfix) | ${f(cpu.postfix_default, 2)} (all Postfix) |`],
    [`| Latency to the sink's 250 p50 / p99 / max (ms) | ${f(l.mailgate_p50_ms, 1)} / ${f(l.mailgate_p99_ms, 1)} / ${f(l.mailgate_max_ms, 1)} | ${f(l.raw_p50_ms, 1)} / ${f(l.raw_p99_ms, 1)} / ${f(l.raw_max_ms, 1)} | ${f(l.postfix_p50_ms, 1)} / ${f(l.postfix_p99_ms, 1)} / ${f(l.postfix_max_ms, 1)}${stalled} | – |`],
    [`| Accept (202 / queued) p50 / p99 (ms) | ${f(l.mailgate_accept_p50_ms, 1)} / ${f(l.mailgate_accept_p99_ms, 1)} | – | – | – |`],
    [`| Relay intake msgs/s / DATA→250 p99 ms (vs Postfix smtpd) | ${f(r.relay?.mailgate_intake_msgs_per_s)} / ${f(r.relay?.mailgate_data_p99_ms)} | – | ${f(r.relay?.postfix_intake_msgs_per_s)} / ${f(r.relay?.postfix_data_p99_ms)} | – |`],
    [`| Relay end to end msgs/s (peak conns) | ${f(r.relay?.e2e_mailgate_msgs_per_s)} (${f(r.relay?.peak_connections)}) | – | ${f(r.relay?.e2e_postfix_msgs_per_s)} (${f(r.relay?.postfix_peak_connections)}) | – |`],
    [`| Cold start, first message (ms) | ${f(r.cold_start_ms, 1)} (after ready) | ${sp(r.cold_start?.raw_first_message_ms, 1)} (new transport) | ${sp(r.cold_start?.postfix_first_after_idle_ms, 1)} (after idle) | – |`],
  ];
  return rows.flat().join('\n');
}

export function renderMarkdown(r: R): string {
  const targets = evaluateTargets(r);
  const b = r.burst ?? {};
  const c = r.counts ?? {};
  const out: string[] = [];
  const met = targets.filter((t) => t.status === 'met').length;
  const missed = targets.filter((t) => t.status === 'missed');
  out.push(`# Mailgate benchmark results${r.quick ? ' (--quick)' : ''}`, '');
  out.push(`- **Date:** ${r.date} · **duration:** ${f(r.duration_s)} s`);
  out.push(`- **Machine:** ${r.machine}`);
  out.push(`- **Environment:** \`${r.environment}\`${r.environment === 'netns-quickack' ? ' — every competitor and the sink in one private network namespace whose loopback routes have `quickack 1`; sink sets TCP_NODELAY; smtp-server greeting delay removed' : ' — plain loopback: Postfix figures are stalled by Nagle/delayed ACK (≈40 ms per message) and not comparable'}`);
  out.push(`- **Versions:** ${Object.entries(r.versions ?? {}).map(([k, v]) => `${k} ${v ?? '–'}`).join(' · ')}`);
  out.push(`- **Counts${r.quick ? ' (quick: smaller than a full run)' : ''}:** burst ${c.burstMessages} msgs × ${c.burstReps} reps (warm-up ${c.burstWarmup}); latency ${c.latencyPerCompetitor} msgs per competitor every ${c.latencyIntervalMs} ms in ${c.latencyBlocks} alternating blocks; cold start × ${c.coldReps}; ${c.coldConcurrent} concurrent cold messages; enqueue ${c.enqueueMessages} × ${c.enqueueReps}; RSS with ${c.rssQueued} queued; rate window ${c.rateWindowS} s at ${c.rateLimitPerMin}/min; sink ceiling ${c.ceilingMessages} msgs × ${c.ceilingReps}; relay ${c.relayMessages} intake + ${c.relayE2eMessages} end-to-end msgs × ${c.relayReps}`);
  const bg = r.background ?? {};
  out.push(`- **Noise:** background load (machine busy minus the accounted processes) median ${f((bg.medianBackgroundCores ?? 0) * 100)}%, max ${f((bg.maxBackgroundCores ?? 0) * 100)}% of one core over the burst runs; ${bg.quietRuns ?? '–'}/${bg.totalRuns ?? '–'} runs started after ≥1 s below 0.15 core. Other engineers' test suites share this machine: compare only figures from the same run.`);
  const dk = r.disk_fsync_ms;
  if (dk) out.push(`- **Disk:** 8 KB write + fdatasync p50/p99 at start ${f(dk.start.overwriteP50Ms, 2)}/${f(dk.start.overwriteP99Ms, 2)} ms in place, ${f(dk.start.appendP50Ms, 2)}/${f(dk.start.appendP99Ms, 2)} ms appending; at the end ${f(dk.end.overwriteP50Ms, 2)}/${f(dk.end.overwriteP99Ms, 2)} and ${f(dk.end.appendP50Ms, 2)}/${f(dk.end.appendP99Ms, 2)} ms (calibration: 0.07 ms).`);
  out.push('', `**Targets: ${met} met, ${missed.length} missed, ${targets.length - met - missed.length} not measured.**`, '');

  out.push('## Summary', '', summaryTable(r), '');

  out.push('## Targets', '', '| Target | Measured | Status |', '|---|---|---|');
  for (const t of targets) out.push(`| ${t.target} | ${t.measured} | ${t.status === 'met' ? '✅ met' : t.status === 'missed' ? '❌ missed' : '— not measured'} |`);
  if (missed.length) {
    out.push('', '### Measured causes of the misses', '');
    for (const t of missed) out.push(`- **${t.target}** — ${t.cause}`);
  }
  out.push('');

  out.push('## 1. Burst throughput', '');
  out.push(`${b.messages} messages of ~11 KB queued at once; messages/s from the first submission to the last 250 at the sink. Each run is preceded by an uncounted warm-up through the same path; each Mailgate run is a fresh process and database; the order of competitors rotates between repetitions. Mailgate's durable intake during the burst: **${f(b.mailgate_accept_per_s)} accepts/s**. Sink ceiling: **${f(b.sink_ceiling_msgs_per_s)} msgs/s** (see below).`, '');
  out.push('| Rep | Competitor | msgs/s | peak conns | conns opened | CPU ms/msg (system under test) | its cores | main thread: running / waiting for CPU / idle or blocked | disk KB/msg | other CPU ms/msg | machine busy | background | errors |', '|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const x of b.runs ?? []) {
    const others = Object.entries(x.cpuMsPerMsg ?? {}).filter(([k]) => !['service', 'driver', 'postfix'].includes(k)).map(([k, v]) => `${k} ${f(v, 2)}`).join(', ');
    out.push(`| ${x.rep + 1} | ${x.competitor} | ${f(x.msgsPerS)} | ${x.peakConnections} | ${x.connectionsOpened} | ${f(x.sutCpuMsPerMsg, 2)} | ${f(x.sutCores, 2)} | ${x.mainThread ? `${f(x.mainThread.running * 100)}% / ${f(x.mainThread.waitingForCpu * 100)}% / ${f(x.mainThread.sleepingOrBlocked * 100)}%` : '–'} | ${f(x.diskKbPerMsg, 1)} | ${others} | ${f(x.machineCores * 100)}% | ${f(x.backgroundCores * 100)}% | ${x.errors}${x.firstError ? ` (${String(x.firstError).slice(0, 80)})` : ''} |`);
  }
  out.push('');

  const prof = b.mailgate_profile;
  if (prof) {
    out.push(`**Where the service's time goes** (an extra, uncounted Mailgate burst under \`node --cpu-prof\`, ${f(prof.msgs_per_s_under_profiler)} msgs/s; shares of the sampled busy time of the service's main thread, which includes time blocked in synchronous calls such as SQLite's COMMIT/fsync):`, '');
    out.push('| Component | share |', '|---|---|');
    for (const c2 of prof.components.slice(0, 10)) out.push(`| ${c2.name} | ${f(c2.pct, 1)}% |`);
    out.push('', '| Hottest functions (self) | share |', '|---|---|');
    for (const fn of prof.functions.slice(0, 8)) out.push(`| \`${fn.name}\` | ${f(fn.pct, 1)}% |`);
    out.push('');
  }

  const l = r.latency ?? {};
  out.push('## 2. Single-message latency', '');
  out.push(`One message every ${l.interval_ms ?? '–'} ms, ${l.messages_per_competitor ?? '–'} per competitor in ${l.blocks ?? '–'} alternating blocks, each block after a short warm-up. Mailgate: API call → sink's 250; raw: \`sendMail()\` → 250; Postfix: injection → 250.`, '');
  out.push('| Competitor | p50 ms | p99 ms | max ms | p99 per block (spread) | errors |', '|---|---|---|---|---|---|');
  for (const [k, v] of Object.entries<R>(l.figures ?? {})) out.push(`| ${k} | ${f(v.p50, 2)} | ${f(v.p99, 2)} | ${f(v.max, 2)} | ${sp(v.blockP99, 1)} | ${v.errors} |`);
  out.push('', `Mailgate's 202 (durably stored): p50 ${f(l.mailgate_accept_p50_ms, 2)} ms, p99 ${f(l.mailgate_accept_p99_ms, 2)} ms; from the 202 to the sink's 250 (worker pick-up + SMTP): p50 ${f(l.mailgate_delivery_p50_ms, 2)} ms, p99 ${f(l.mailgate_delivery_p99_ms, 2)} ms.`, '');

  const cs = r.cold_start ?? {};
  out.push('## 3. Cold start', '');
  out.push(`- Mailgate, first message after start-up (API call → 250, token request and TLS included): **${sp(cs.mailgate_first_message_ms, 1)} ms**; process spawn → ready ${sp(cs.mailgate_spawn_to_ready_ms)} ms; spawn → first 250 ${sp(cs.mailgate_spawn_to_first_250_ms)} ms; token requests ${(cs.mailgate_token_requests ?? []).join(', ') || '–'}.`);
  out.push(`- raw nodemailer, fresh transport (TCP + TLS + AUTH, static token, no token request): ${sp(cs.raw_first_message_ms, 1)} ms.`);
  out.push(`- Postfix, first message after idle (running; new connection, TLS, AUTH): ${sp(cs.postfix_first_after_idle_ms, 1)} ms.`);
  out.push('- The local token endpoint answers at once; against Entra ID add its latency (typically 100–300 ms).', '');

  const t = r.tokens ?? {};
  out.push('## 4. Token economy', '');
  out.push(`- Token requests per fresh service during scenario 1 (warm-up + ${b.messages} messages): **${(t.burst_token_requests_per_run ?? []).join(', ') || '–'}**.`);
  out.push(`- ${t.cold_concurrent_messages ?? '–'} concurrent messages on a cold cache, token endpoint taking ${t.cold_concurrent_token_endpoint_delay_ms ?? '–'} ms: **${f(t.cold_concurrent_token_requests)}** token request(s).`, '');

  const cap = r.capacity ?? {};
  out.push('## 5. Enqueue capacity and memory', '');
  out.push(`- Durable enqueues (202 after commit), worker paused (${cap.worker_paused_by ?? '–'}), ${cap.enqueue_concurrency ?? '–'} concurrent POSTs, ${cap.enqueue_messages ?? '–'} messages: **${sp(cap.enqueue_spread)} /s**; 202 p50 ${f(cap.accept_p50_ms, 2)} ms, p99 ${f(cap.accept_p99_ms, 2)} ms; ${f(cap.cpu_ms_per_enqueue, 2)} ms CPU per enqueue.`);
  out.push(`- While delivering (burst): ${f(cap.enqueue_per_s_while_delivering)} accepts/s.`);
  out.push(`- Peak RSS (VmHWM) of the service with **${cap.rss_queued_messages ?? '–'}** queued messages: **${f(cap.peak_rss_mb_100k)} MB**${cap.rss_queued_messages !== 100000 ? ' (quick run: fewer than the 100,000 of a full run)' : ''}; largest anonymous part ${f(cap.rss_peak_anon_mb)} MB, file-backed (binary, libraries, database pages) ${f(cap.rss_peak_file_mb)} MB; filled at ${f(cap.rss_fill_enqueue_per_s)}/s.`);
  if ((cap.rss_curve ?? []).length) out.push(`- RSS while filling (queued → MB): ${cap.rss_curve.map((p: R) => `${p.queued} → ${p.rssMb}`).join(', ')}.`);
  if (typeof cap.peak_rss_mb_1m === 'number') out.push(`- With **${cap.rss_large_queued_messages}** queued (${cap.rss_large_prefilled_messages} written straight into the database before the service started, the rest through the API): peak RSS **${f(cap.peak_rss_mb_1m)} MB** (largest anonymous ${f(cap.rss_large_peak_anon_mb)} MB); ${f(typeof cap.peak_rss_mb_100k === 'number' ? cap.peak_rss_mb_1m / cap.peak_rss_mb_100k : null, 2)}× the figure above. While filling (queued → MB): ${(cap.rss_large_curve ?? []).map((p: R) => `${p.queued} → ${p.rssMb}`).join(', ')}.`);
  else out.push(`- With 1,000,000 queued: not measured${r.quick ? ' (full runs only)' : ''}.`);
  const hc = cap.rss_heap_capped;
  if (hc) out.push(`- The same fill with the service's V8 heap capped (\`--max-old-space-size=${hc.capMb}\`): peak RSS **${f(hc.peakRssMb)} MB** (anonymous ${f(hc.peakAnonMb)} MB), ${f(hc.enqueuePerS)}/s, ${hc.errors} errors — the difference is V8 heap growth under allocation pressure (garbage not yet collected), not messages held in memory.`);
  out.push('');

  const rt = r.rate ?? {};
  out.push('## 6. Rate-limit accuracy', '');
  out.push(`Limit ${rt.limit_per_min}/min; window ${rt.window_s} s from the first delivery${r.quick ? ' (quick: shortened from 60 s)' : ''}; sink rule: ${rt.sink_rule ?? '–'}.`, '');
  out.push(`- Achieved: **${f(rt.achieved_per_min, 1)}/min** (${f(rt.error_pct, 1)}% off the limit); steady (second half of the window): ${f(rt.steady_per_min, 1)}/min; messages in the first 10 s: ${f(rt.first_10_s_messages)}; deliveries per 5 s: ${(rt.per_5_s ?? []).join(' ') || '–'} (a steady ${f(rt.limit_per_min / 12)} per 5 s is the limit).`);
  out.push(`- Throttle replies from the sink: **${f(rt.throttle_replies)}**${(rt.throttle_samples ?? []).length ? ` (e.g. \`${rt.throttle_samples[0]}\`)` : ''}; peak connections ${f(rt.peak_connections)}.`, '');

  const rl = r.relay ?? {};
  out.push('## 7. SMTP relay (printers, scanners, legacy apps)', '');
  out.push(`A device submits ~11 KB messages over 3 STARTTLS connections (nodemailer pool, username and password) to Mailgate's relay or to Postfix as a submission relay (${rl.postfix_set_up ?? '–'}). **Intake** (${rl.messages ?? '–'} messages): messages/s until the last 250, Mailgate with its worker off and Postfix holding every message, so both only accept durably; DATA→250 is the time from the 354 to the final reply (whole milliseconds). **End to end** (${rl.e2e_messages ?? '–'} messages): device → relay → sink, messages/s until the last 250 at the sink, and the peak number of connections at the sink. ${rl.repetitions ?? '–'} repetition(s), order alternating, each run after an uncounted warm-up; each Mailgate run is a fresh process and database.`, '');
  const rs = rl.spread ?? {};
  const rc = rl.cpu_ms_per_msg ?? {};
  out.push('| Figure | Mailgate relay | Postfix | Ratio (paired) |', '|---|---|---|---|');
  out.push(`| Intake msgs/s | **${sp(rs.intake?.mailgate)}** | ${sp(rs.intake?.postfix)} | ${f(rl.ratio_intake, 2)} |`);
  out.push(`| DATA→250 p50 / p99 (ms) | ${f(rl.mailgate_data_p50_ms)} / **${f(rl.mailgate_data_p99_ms)}** | ${f(rl.postfix_data_p50_ms)} / ${f(rl.postfix_data_p99_ms)} | – |`);
  out.push(`| Intake CPU ms/msg (service / all Postfix) | ${f(rc.intake_mailgate, 2)} | ${f(rc.intake_postfix, 2)} | – |`);
  out.push(`| End to end msgs/s | **${sp(rs.e2e?.mailgate)}** | ${sp(rs.e2e?.postfix)} | ${f(rl.ratio_e2e, 2)} |`);
  out.push(`| End to end CPU ms/msg | ${f(rc.e2e_mailgate, 2)} | ${f(rc.e2e_postfix, 2)} | – |`);
  out.push(`| Peak connections to the sink | **${f(rl.peak_connections)}** | ${f(rl.postfix_peak_connections)} | – |`, '');
  const rp = rl.mailgate_profile;
  if (rp) {
    out.push(`**Where the relay's time goes** (an extra, uncounted Mailgate intake run under \`node --cpu-prof\`, ${f(rp.msgs_per_s_under_profiler)} msgs/s; shares of the sampled busy time of the service's main thread, which includes time blocked in SQLite's COMMIT/fsync): ${rp.components.slice(0, 6).map((c: R) => `${c.name} ${f(c.pct, 1)}%`).join(', ')}; hottest functions: ${rp.functions.slice(0, 4).map((x: R) => `\`${x.name}\` ${f(x.pct, 1)}%`).join(', ')}.`, '');
  }
  if ((rl.runs ?? []).length) {
    out.push('| Rep | Phase | Competitor | msgs/s | DATA→250 p50 / p99 ms | peak conns | CPU ms/msg | machine busy | background | errors |', '|---|---|---|---|---|---|---|---|---|---|');
    for (const x of rl.runs) out.push(`| ${x.rep + 1} | ${x.phase} | ${x.competitor} | ${f(x.msgsPerS)} | ${x.phase === 'intake' ? `${f(x.dataP50Ms)} / ${f(x.dataP99Ms)}` : '–'} | ${x.peakConnections ?? '–'} | ${f(x.sutCpuMsPerMsg, 2)} | ${f(x.machineCores * 100)}% | ${f(x.backgroundCores * 100)}% | ${x.errors}${x.firstError ? ` (${String(x.firstError).slice(0, 80)})` : ''}${x.held !== undefined ? `; ${x.held} held` : ''} |`);
    out.push('');
  }
  const g = r.graph ?? {};
  out.push('## 8. Microsoft Graph transport', '');
  if ((g.runs ?? []).length) {
    out.push(`${g.messages} messages of ~11 KB per run through the service with Transport \`graph\` (MIME base64 → HTTPS \`sendMail\` to the sink's Graph endpoint, keep-alive, at most 4 requests in flight per app and mailbox) and, in the same repetition, with Transport \`smtp\` (pool of 3 connections): each at its per-mailbox limit (Graph 4 requests, Exchange SMTP 3 connections). Fresh service and database per run, uncounted warm-up first.`, '');
    out.push(`- Graph: **${sp(g.spread?.msgs_per_s?.graph)} msgs/s**, ${f(g.cpu_ms_per_msg, 2)} ms service CPU per message, peak **${f(g.peak_concurrent_requests)}** requests in flight at the sink.`);
    out.push(`- SMTP: **${sp(g.spread?.msgs_per_s?.smtp)} msgs/s**, ${f(g.smtp_cpu_ms_per_msg, 2)} ms service CPU per message, peak ${f(g.smtp_peak_connections)} connections.`);
    out.push(`- Ratio Graph / SMTP (paired per repetition): **${f(g.ratio_graph_smtp, 2)}** (target ≥ 0.8).`, '');
    out.push('| Rep | Transport | msgs/s | peak in flight (Graph requests / SMTP connections) | Graph requests / new TLS connections / most open | service CPU ms/msg | load CPU ms/msg | sink CPU ms/msg | machine busy | errors |', '|---|---|---|---|---|---|---|---|---|---|');
    for (const x of g.runs) out.push(`| ${x.rep + 1} | ${x.transport} | ${f(x.msgsPerS)} | ${x.peakConcurrent} | ${x.transport === 'graph' ? `${x.graphRequests} / ${x.graphConnectionsOpened} / ${x.graphPeakOpenConnections}` : '–'} | ${f(x.cpuMsPerMsg, 2)} | ${f(x.loadCpuMsPerMsg, 2)} | ${f(x.sinkCpuMsPerMsg, 2)} | ${f(x.machineCores * 100)}% | ${x.errors}${x.firstError ? ` (${String(x.firstError).slice(0, 80)})` : ''} |`);
  } else out.push('not measured');
  out.push('');
  const w = r.wan ?? {};
  out.push(`## 9. WAN: the sink ${f(w.rtt_ms)} ms away`, '');
  if (!w.figures) out.push('not measured', '');
  else {
    out.push(
      `Every SMTP session crosses a ${f(w.rtt_ms)} ms round trip to the sink (${w.method === 'netem' ? '`tc netem` on the namespace\'s loopback' : `a userspace delay proxy, ${f(w.rtt_ms / 2)} ms each way${w.netem_unavailable ? ` — netem unavailable here: \`${w.netem_unavailable}\`` : ''}`}; NOOP → 250 measured ${f(w.measured_rtt_ms, 1)} ms). The sink advertises PIPELINING and CHUNKING like Exchange Online. Single messages: ${f(w.latency_messages)} per competitor, one every ${f(w.latency_interval_ms)} ms on a warm connection; burst: ${f(w.burst_messages)} messages over the pool's 3 connections${r.quick ? ' (quick: fewer than the 1,000 of a full run)' : ''}. Round trips per message are turnarounds (server bytes after client bytes) counted on the path. Postfix is injected locally; its relay client crosses the path.`,
      '',
      '| Competitor | submit → 250 p50 / p99 (ms) | round trips / msg (single) | burst msgs/s | round trips / msg (burst) | peak connections |',
      '|---|---|---|---|---|---|',
    );
    for (const k of ['mailgate', 'mailgate_nopipe', 'raw', 'postfix']) {
      const x = w.figures[k];
      if (!x) {
        out.push(`| ${k} | not run | | | | |`);
        continue;
      }
      out.push(`| ${x.label} | ${k === 'mailgate' ? '**' : ''}${f(x.p50, 1)}${k === 'mailgate' ? '**' : ''} / ${f(x.p99, 1)}${typeof x.acceptP50 === 'number' ? ` (202 after ${f(x.acceptP50, 1)}, 202 → 250 ${f(x.deliveryP50, 1)})` : ''} | ${f(x.roundTripsPerMsg, 2)} | ${f(x.msgsPerS, 1)} | ${f(x.burstRoundTripsPerMsg, 2)} | ${f(x.peakConnections)} |${x.latencyErrors + x.burstErrors ? ` errors ${x.latencyErrors + x.burstErrors}` : ''}`);
    }
    out.push('');
  }

  const sd = r.senders ?? {};
  out.push('## 10. Several senders (issue 16)', '');
  if (!num(sd.token_requests)) out.push('not measured', '');
  else {
    out.push(
      `${sd.senders} senders on ${sd.credentials} credentials from \`MAILGATE_CONFIG\` (each sender signs in as its own mailbox; every credential's endpoints point at the sink), each limited to ${f(sd.rate_per_minute_per_sender)}/min (Exchange's 30/min × ${f(sd.rate_factor)}, the same for every sender, so the run is short) and 3 connections; ${f(sd.messages)} messages queued at once, round-robin over the senders${r.quick ? ' (quick: fewer senders and messages than the 100 and 3,000 of a full run)' : ''}, after one uncounted warm-up message per sender.`,
      '',
      `- Aggregate: **${f(sd.msgs_per_s)} msgs/s** (single-sender burst of this run: ${num(sd.single_sender_burst_msgs_per_s) ? `${f(sd.single_sender_burst_msgs_per_s)} msgs/s` : 'not run'}); service CPU ${f(sd.cpu_ms_per_msg, 2)} ms/msg.`,
      `- Fairness (slowest sender's rate ÷ fastest's, each: its messages ÷ time from the first submission to its last 250): **${f(sd.fairness_min_over_max, 2)}** (${f(sd.slowest_sender_msgs_per_s, 1)} / ${f(sd.fastest_sender_msgs_per_s, 1)} msgs/s).`,
      `- Most authenticated connections to any one mailbox at the sink: **${f(sd.max_connections_per_mailbox)}** (${f(sd.mailboxes_seen)} mailboxes; ${f(sd.peak_connections)} connections at once in all, ${f(sd.connections_opened)} sessions opened).`,
      `- Token requests: **${f(sd.token_requests)}** for ${sd.credentials} credentials (${Object.entries(sd.token_requests_per_client ?? {}).map(([k, v]) => `\`${k}\` ${v}`).join(', ')}).${sd.errors ? ` Errors: ${sd.errors} (${String(sd.first_error ?? '').slice(0, 120)}).` : ''}`,
      '',
    );
  }

  const pgr = r.postgres ?? {};
  out.push('## 11. PostgreSQL store (issue 18)', '');
  if (!(pgr.runs ?? []).length && !num(pgr.pg_enqueue_per_s)) out.push('not measured', '');
  else {
    const acc = pgr.accept_ms ?? {};
    out.push(
      `A throwaway PostgreSQL ${pgr.postgres_version ?? ''} cluster started by the benchmark (initdb, unix socket in a temp dir, Debian defaults with fsync on), a fresh database per configuration; ${f(pgr.messages)} messages of ~11 KB queued at once per burst${r.quick ? ' (quick: fewer than the 3,000 of a full run)' : ''}, after an uncounted warm-up. With 2 instances half the messages are posted to each, concurrently; both run their worker and the one owning the mailbox delivers. MAILGATE_LEASE_SECONDS=${f(pgr.lease_seconds)}.`,
      '',
      '| Store | Burst msgs/s | 202 p50 / p99 (ms) | max connections per mailbox |',
      '|---|---|---|---|',
    );
    for (const [k, label] of [['sqlite', 'SQLite, 1 instance'], ['pg1', 'PostgreSQL, 1 instance'], ['pg2', 'PostgreSQL, 2 instances']] as const) {
      const x = (pgr.runs ?? []).find((y: R) => y.label === (k === 'sqlite' ? 'sqlite' : k === 'pg1' ? 'pg-1' : 'pg-2'));
      out.push(`| ${label} | ${x ? `**${f(x.msgsPerS)}**${x.errors ? ` (${x.errors} POSTs failed: ${String(x.firstError ?? '').slice(0, 60)})` : ''}` : 'not run'} | ${f(acc[k]?.p50, 1)} / ${f(acc[k]?.p99, 1)} | ${x ? f(x.maxConnectionsPerMailbox) : '–'} |`);
    }
    out.push('', `- Durable enqueues/s across 2 instances, workers off: **${f(pgr.pg_enqueue_per_s)}/s** (${f(pgr.enqueue_messages)} messages, after a first block of as many through the same two processes: ${f(pgr.pg_enqueue_cold_per_s)}/s right after start).`);
    out.push(`- Failover (\`kill -9\` of the instance owning the mailbox once a third of a burst arrived → the survivor's first delivery): **${f(pgr.failover_ms)} ms** with a ${f(pgr.lease_seconds)} s lease; ${pgr.failover_note ?? '–'}.`, '');
  }

  const s = r.sink;
  out.push('## Sink ceiling', '');
  out.push(s ? `Pre-built messages over STARTTLS + XOAUTH2, ${s.clients}, ${s.messages} messages: **${sp(s.ceiling_msgs_per_s)} msgs/s**; the sink itself used ${f(s.cpu_ms_per_msg, 3)} ms CPU per message (≈${f(s.alone_per_core_per_s)} msgs/s per core alone), so on 2 cores the clients are the limit. No competitor comes near it.` : 'not measured', '');

  out.push('## Reading the figures', '');
  out.push('Medians over repetitions, with (min–max) across repetitions: a wide range means the machine was noisy during that run (see background load). Ratios are paired within one repetition, so they hold better than absolute figures across noisy runs and machines. The sink is local: these figures measure local CPU, durable intake and protocol cost, not Microsoft 365 (which allows ~30 msgs/min per mailbox). See bench/README.md.', '');

  if ((r.notes ?? []).length) {
    out.push('## Notes', '');
    for (const n of r.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}
