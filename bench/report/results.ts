/**
 * The results document: bench/results/latest.json. The keys of the shape stay stable so
 * runs can be compared over time; everything else (spreads, ratios, CPU per process, counts
 * used, background load) is added beside them.
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BurstOutput } from '../scenarios/burst.js';
import type { CeilingOutput } from '../scenarios/ceiling.js';
import type { ColdOutput, TokensColdOutput } from '../scenarios/cold.js';
import type { CapacityOutput } from '../scenarios/capacity.js';
import type { LatencyOutput } from '../scenarios/latency.js';
import type { RateOutput } from '../scenarios/rate.js';
import type { RelayOutput } from '../scenarios/relay.js';
import type { GraphOutput } from '../scenarios/graph.js';
import type { WanOutput } from '../scenarios/wan.js';
import type { SendersOutput } from '../scenarios/senders.js';
import type { PostgresOutput } from '../scenarios/postgres.js';
import type { Counts } from '../lib/options.js';
import type { Environment } from '../lib/netns.js';
import { REPO_ROOT } from '../lib/paths.js';
import { round } from '../lib/stats.js';
import type { FsyncProbe } from '../lib/fsync-probe.js';
import { postfixVersion } from '../postfix/postfix.js';

export interface ScenarioOutputs {
  ceiling?: CeilingOutput;
  burst?: BurstOutput;
  latency?: LatencyOutput;
  cold?: ColdOutput;
  tokensCold?: TokensColdOutput;
  capacity?: CapacityOutput;
  rate?: RateOutput;
  relay?: RelayOutput;
  graph?: GraphOutput;
  wan?: WanOutput;
  senders?: SendersOutput;
  postgres?: PostgresOutput;
}

function pkgVersion(name: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

export function machineDescription(): string {
  const cpus = os.cpus();
  return `${cpus.length} vCPU (${cpus[0]?.model ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, Linux ${os.release()}, Node ${process.version}`;
}

const r1 = (v: number | null | undefined) => round(v, 1);
const r2 = (v: number | null | undefined) => round(v, 2);

export function buildResults(o: {
  quick: boolean;
  environment: Environment;
  counts: Counts;
  outputs: ScenarioOutputs;
  notes: string[];
  startedAt: Date;
  durationS: number;
  disk?: { start: FsyncProbe; end: FsyncProbe };
  tlsContext?: { allRootsPlusExtraMs: number | null; defaultMs: number | null };
  background: { quietRuns: number; totalRuns: number; maxBackgroundCores: number; medianBackgroundCores: number | null };
}): Record<string, unknown> {
  const { burst, latency, cold, tokensCold, capacity, rate, ceiling, relay, graph, wan, senders, postgres } = o.outputs;
  const wf = wan?.figures;
  const med = (k: keyof NonNullable<BurstOutput>['msgsPerS']) => r1(burst?.msgsPerS[k]?.median);
  const lat = latency?.figures;
  const tokenRuns = burst?.tokenRequests.filter((t) => t >= 0) ?? [];
  return {
    machine: machineDescription(),
    date: o.startedAt.toISOString(),
    quick: o.quick,
    environment: o.environment,
    burst: {
      messages: burst?.messages ?? o.counts.burstMessages,
      mailgate_msgs_per_s: med('mailgate'),
      raw_msgs_per_s: med('raw'),
      postfix_msgs_per_s: med('postfix'),
      postfix_default_msgs_per_s: med('postfix_default'),
      sink_ceiling_msgs_per_s: r1(ceiling?.msgsPerS.median),
      peak_connections: {
        mailgate: burst?.peakConnections.mailgate ?? null,
        raw: burst?.peakConnections.raw ?? null,
        postfix: burst?.peakConnections.postfix ?? null,
        postfix_default: burst?.peakConnections.postfix_default ?? null,
      },
      mailgate_cpu_ms_per_msg: r2(burst?.sutCpuMsPerMsg.mailgate?.median),
      repetitions: burst?.reps ?? null,
      ratio_mailgate_raw: r2(burst?.ratios.mailgate_raw.median),
      ratio_mailgate_postfix: r2(burst?.ratios.mailgate_postfix.median),
      ratio_mailgate_postfix_default: r2(burst?.ratios.mailgate_postfix_default.median),
      mailgate_accept_per_s: r1(burst?.mailgateAcceptPerS.median),
      cpu_ms_per_msg: burst ? Object.fromEntries(Object.entries(burst.sutCpuMsPerMsg).map(([k, s]) => [k, r2(s?.median)])) : null,
      spread: burst ? { msgs_per_s: burst.msgsPerS, ratios: burst.ratios } : null,
      mailgate_profile: burst?.profile
        ? {
            msgs_per_s_under_profiler: r1(burst.profile.msgsPerS),
            busy_ms: burst.profile.summaries.reduce((a, x) => a + x.busyMs, 0),
            components: burst.profile.components,
            functions: burst.profile.summaries[0]?.functions ?? [],
            dir: burst.profile.dir,
          }
        : null,
      runs: burst?.runs ?? [],
    },
    latency: {
      mailgate_accept_p99_ms: r2(lat?.mailgate?.acceptP99),
      mailgate_p50_ms: r2(lat?.mailgate?.p50),
      mailgate_p99_ms: r2(lat?.mailgate?.p99),
      raw_p50_ms: r2(lat?.raw?.p50),
      raw_p99_ms: r2(lat?.raw?.p99),
      postfix_p50_ms: r2(lat?.postfix?.p50),
      postfix_p99_ms: r2(lat?.postfix?.p99),
      mailgate_accept_p50_ms: r2(lat?.mailgate?.acceptP50),
      mailgate_max_ms: r2(lat?.mailgate?.max),
      mailgate_delivery_p50_ms: r2(lat?.mailgate?.deliveryP50),
      mailgate_delivery_p99_ms: r2(lat?.mailgate?.deliveryP99),
      raw_max_ms: r2(lat?.raw?.max),
      postfix_max_ms: r2(lat?.postfix?.max),
      messages_per_competitor: latency?.perCompetitor ?? null,
      interval_ms: latency?.intervalMs ?? null,
      blocks: latency?.blocks ?? null,
      figures: lat ?? null,
    },
    cold_start_ms: r1(cold?.mailgateFirstMessageMs.median),
    cold_start: cold
      ? {
          mailgate_first_message_ms: cold.mailgateFirstMessageMs,
          mailgate_spawn_to_ready_ms: cold.mailgateReadyMs,
          mailgate_spawn_to_first_250_ms: cold.mailgateSpawnToFirst250Ms,
          mailgate_token_requests: cold.mailgateTokenRequests,
          raw_first_message_ms: cold.rawFirstMessageMs,
          postfix_first_after_idle_ms: cold.postfixFirstAfterIdleMs,
        }
      : null,
    tokens: {
      burst_token_requests: tokenRuns.length ? Math.max(...tokenRuns) : null,
      cold_concurrent_token_requests: tokensCold?.tokenRequests ?? null,
      burst_token_requests_per_run: tokenRuns,
      cold_concurrent_messages: tokensCold?.concurrent ?? null,
      cold_concurrent_token_endpoint_delay_ms: tokensCold?.tokenDelayMs ?? null,
    },
    capacity: {
      enqueue_per_s: r1(capacity?.enqueuePerS.median),
      peak_rss_mb_100k: r1(capacity?.peakRssMb),
      peak_rss_mb_1m: r1(capacity?.large?.peakRssMb),
      rss_large_queued_messages: capacity?.large?.queued ?? null,
      rss_large_prefilled_messages: capacity?.large?.prefilled ?? null,
      rss_large_peak_anon_mb: r1(capacity?.large?.peakAnonMb),
      rss_large_curve: capacity?.large?.curve ?? [],
      rss_queued_messages: capacity?.rssQueued ?? null,
      rss_peak_anon_mb: r1(capacity?.peakAnonMb),
      rss_peak_file_mb: r1(capacity?.peakFileMb),
      rss_after_fill_mb: r1(capacity?.rssAfterMb),
      rss_curve: capacity?.curve ?? [],
      rss_heap_capped: capacity?.heapCapped ?? null,
      rss_fill_enqueue_per_s: r1(capacity?.rssEnqueuePerS),
      enqueue_messages: capacity?.enqueueMessages ?? null,
      enqueue_concurrency: capacity?.concurrency ?? null,
      enqueue_spread: capacity?.enqueuePerS ?? null,
      accept_p50_ms: r2(capacity?.acceptP50Ms),
      accept_p99_ms: r2(capacity?.acceptP99Ms),
      cpu_ms_per_enqueue: r2(capacity?.cpuMsPerEnqueue.median),
      worker_paused_by: capacity?.pausedBy ?? null,
      enqueue_per_s_while_delivering: r1(burst?.mailgateAcceptPerS.median),
    },
    rate: {
      limit_per_min: rate?.limitPerMin ?? o.counts.rateLimitPerMin,
      achieved_per_min: rate?.achievedPerMin ?? null,
      throttle_replies: rate?.throttleReplies ?? null,
      window_s: rate?.windowS ?? o.counts.rateWindowS,
      steady_per_min: rate?.steadyPerMin ?? null,
      first_10_s_messages: rate?.firstTenSeconds ?? null,
      per_5_s: rate?.per5s ?? [],
      error_pct: rate?.errorPct ?? null,
      peak_connections: rate?.peakConnections ?? null,
      sink_rule: rate?.sinkRule ?? null,
      throttle_samples: rate?.throttleSamples ?? [],
    },
    relay: {
      mailgate_intake_msgs_per_s: r1(relay?.intake.mailgate?.median),
      postfix_intake_msgs_per_s: r1(relay?.intake.postfix?.median),
      mailgate_data_p99_ms: r2(relay?.dataP99.mailgate?.median),
      postfix_data_p99_ms: r2(relay?.dataP99.postfix?.median),
      e2e_mailgate_msgs_per_s: r1(relay?.e2e.mailgate?.median),
      e2e_postfix_msgs_per_s: r1(relay?.e2e.postfix?.median),
      peak_connections: relay?.peakConnections ?? null,
      messages: relay?.messages ?? o.counts.relayMessages,
      e2e_messages: relay?.e2eMessages ?? o.counts.relayE2eMessages,
      repetitions: relay?.reps ?? null,
      ratio_intake: r2(relay?.ratios.intake.median),
      ratio_e2e: r2(relay?.ratios.e2e.median),
      mailgate_data_p50_ms: r2(relay?.dataP50.mailgate?.median),
      postfix_data_p50_ms: r2(relay?.dataP50.postfix?.median),
      postfix_peak_connections: relay?.postfixPeakConnections ?? null,
      cpu_ms_per_msg: relay ? Object.fromEntries(Object.entries(relay.cpu).map(([k, s]) => [k, r2(s?.median)])) : null,
      spread: relay ? { intake: relay.intake, e2e: relay.e2e, data_p99_ms: relay.dataP99, ratios: relay.ratios } : null,
      postfix_set_up: relay?.postfixSetUp ?? null,
      mailgate_profile: relay?.profile
        ? { msgs_per_s_under_profiler: r1(relay.profile.msgsPerS), busy_ms: relay.profile.busyMs, components: relay.profile.components, functions: relay.profile.functions, dir: relay.profile.dir }
        : null,
      runs: relay?.runs ?? [],
    },
    graph: {
      mailgate_graph_msgs_per_s: r1(graph?.msgsPerS.graph.median),
      mailgate_smtp_msgs_per_s: r1(graph?.msgsPerS.smtp.median),
      peak_concurrent_requests: graph ? graph.peakConcurrentRequests : null,
      cpu_ms_per_msg: r2(graph?.cpuMsPerMsg.graph.median),
      smtp_cpu_ms_per_msg: r2(graph?.cpuMsPerMsg.smtp.median),
      ratio_graph_smtp: r2(graph?.ratio.median),
      smtp_peak_connections: graph ? graph.peakSmtpConnections : null,
      messages: graph?.messages ?? o.counts.graphMessages,
      repetitions: graph?.reps ?? null,
      spread: graph ? { msgs_per_s: graph.msgsPerS, ratio: graph.ratio, cpu_ms_per_msg: graph.cpuMsPerMsg } : null,
      runs: graph?.runs ?? [],
    },
    wan: {
      rtt_ms: wan?.rttMs ?? o.counts.wanRttMs,
      mailgate_p50_ms: r1(wf?.mailgate?.p50),
      mailgate_nopipe_p50_ms: r1(wf?.mailgate_nopipe?.p50),
      raw_p50_ms: r1(wf?.raw?.p50),
      postfix_p50_ms: r1(wf?.postfix?.p50),
      mailgate_msgs_per_s: r1(wf?.mailgate?.msgsPerS),
      raw_msgs_per_s: r1(wf?.raw?.msgsPerS),
      postfix_msgs_per_s: r1(wf?.postfix?.msgsPerS),
      mailgate_round_trips_per_msg: r2(wf?.mailgate?.roundTripsPerMsg),
      peak_connections: wf?.mailgate?.peakConnections ?? null,
      // extra
      method: wan?.method ?? null,
      netem_unavailable: wan?.netemError ?? null,
      measured_rtt_ms: r1(wan?.measuredRttMs),
      mailgate_p99_ms: r1(wf?.mailgate?.p99),
      mailgate_nopipe_p99_ms: r1(wf?.mailgate_nopipe?.p99),
      raw_p99_ms: r1(wf?.raw?.p99),
      postfix_p99_ms: r1(wf?.postfix?.p99),
      mailgate_nopipe_msgs_per_s: r1(wf?.mailgate_nopipe?.msgsPerS),
      latency_messages: wan?.latencyMessages ?? null,
      latency_interval_ms: wan?.intervalMs ?? null,
      burst_messages: wan?.burstMessages ?? null,
      figures: wf ?? null,
    },
    senders: {
      senders: senders?.senders ?? o.counts.sendersCount,
      credentials: senders?.credentials ?? o.counts.sendersCredentials,
      msgs_per_s: r1(senders?.msgsPerS),
      fairness_min_over_max: r2(senders?.fairnessMinOverMax),
      max_connections_per_mailbox: senders ? senders.maxConnectionsPerMailbox : null,
      token_requests: senders ? senders.tokenRequests : null,
      // extra
      messages: senders?.messages ?? o.counts.sendersMessages,
      rate_per_minute_per_sender: senders?.ratePerMinute ?? 30 * o.counts.sendersRateFactor,
      rate_factor: senders?.rateFactor ?? o.counts.sendersRateFactor,
      slowest_sender_msgs_per_s: r2(senders?.slowestPerS),
      fastest_sender_msgs_per_s: r2(senders?.fastestPerS),
      peak_connections: senders?.peakConnections ?? null,
      connections_opened: senders?.connectionsOpened ?? null,
      machine_cores: r2(senders?.machineCores),
      mailboxes_seen: senders?.mailboxesSeen ?? null,
      token_requests_per_client: senders?.tokenRequestsPerClient ?? null,
      cpu_ms_per_msg: r2(senders?.cpuMsPerMsg),
      errors: senders?.errors ?? null,
      first_error: senders?.firstError ?? null,
      single_sender_burst_msgs_per_s: med('mailgate'),
    },
    postgres: {
      sqlite_msgs_per_s: r1(postgres?.sqlite?.msgsPerS),
      pg_1_msgs_per_s: r1(postgres?.pg1?.msgsPerS),
      pg_2_msgs_per_s: r1(postgres?.pg2?.msgsPerS),
      pg_enqueue_per_s: r1(postgres?.enqueuePerS),
      pg_enqueue_cold_per_s: r1(postgres?.enqueue?.coldPerS),
      failover_ms: r1(postgres?.failoverMs),
      max_connections_per_mailbox: postgres ? postgres.maxConnectionsPerMailbox : null,
      // extra
      messages: postgres?.messages ?? o.counts.pgMessages,
      enqueue_messages: postgres?.enqueueMessages ?? o.counts.pgEnqueueMessages,
      lease_seconds: postgres?.leaseSeconds ?? o.counts.pgLeaseSeconds,
      accept_ms: postgres
        ? Object.fromEntries((['sqlite', 'pg1', 'pg2'] as const).map((k) => [k, { p50: r2(postgres[k]?.acceptP50Ms), p99: r2(postgres[k]?.acceptP99Ms) }]))
        : null,
      runs: postgres ? [postgres.sqlite, postgres.pg1, postgres.pg2].filter(Boolean) : [],
      enqueue: postgres?.enqueue ?? null,
      failover_note: postgres?.failoverNote ?? null,
      postgres_version: postgres?.postgresVersion ?? null,
    },
    sink: ceiling
      ? {
          ceiling_msgs_per_s: ceiling.msgsPerS,
          clients: `${ceiling.processes} processes × ${ceiling.connectionsPerProcess} connections`,
          messages: ceiling.messages,
          cpu_ms_per_msg: r2(ceiling.sinkCpuMsPerMsg.median),
          alone_per_core_per_s: r1(ceiling.sinkAlonePerCorePerS),
        }
      : null,
    background: o.background,
    disk_fsync_ms: o.disk ?? null,
    tls_context_ms: o.tlsContext ?? null,
    counts: o.counts,
    duration_s: r1(o.durationS),
    versions: {
      node: process.version,
      nodemailer: pkgVersion('nodemailer'),
      'smtp-server': pkgVersion('smtp-server'),
      'better-sqlite3': pkgVersion('better-sqlite3'),
      postfix: postfixVersion() ?? null,
    },
    notes: o.notes,
  };
}
