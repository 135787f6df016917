/**
 * Prometheus metrics in the text exposition format, without a metrics library.
 *
 * Why hand-written: a handful of counters, one histogram and gauges read from the store at
 * scrape time. Labels are fixed, low-cardinality values only (status, attempt outcome, error
 * code): never an address, a subject or any message content.
 *
 * Imports: ./outbox/store types, ./delivery/attempt types.
 */
import type { AttemptOutcome, MessageStatus } from './outbox/store.js';
import type { WorkerMetrics } from './delivery/attempt.js';
import type { RelayClientRecord } from './outbox/store.js';
import { RelayMetrics } from './relay-metrics.js';

const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const CODE = /^[A-Z][A-Z0-9_]{0,40}$/;
const LABEL = /^[A-Za-z0-9._-]{1,64}$/;

export interface ScrapeInput {
  counts: Record<MessageStatus, number>;
  tokenRequests: number;
  /** Store commits since start: with an fsync (durable writes) and without (bookkeeping only). */
  storeCommits?: { durable: number; bookkeeping: number };
  /** The store's disk-full state and the writes it refused. */
  storage?: { full: boolean; fullWrites: number };
  /** Transport auto: moves between SMTP and Graph, keyed `from→to reason`. */
  transportSwitches?: Record<string, number>;
  /** The relay clients with their stored sent/failed counters (the relay metrics, ./relay-metrics.ts). */
  relayClients?: readonly RelayClientRecord[];
  /** Each credential with a known expiry (issue 17): `credential` name, kind, epoch ms. */
  credentialExpiries?: readonly { credential: string; kind: string; expiresAt?: number }[];
  /** Switches to the secondary credential so far, per credential name (issue 17 item 3). */
  credentialFailovers?: Record<string, number>;
}

export class ServiceMetrics implements WorkerMetrics {
  #accepted = 0;
  #sent = 0;
  #failed = 0;
  readonly #attempts = new Map<string, number>();
  readonly #latencyBuckets = new Array<number>(LATENCY_BUCKETS.length).fill(0);
  #latencyCount = 0;
  #latencySum = 0;
  /** The SMTP relay's connections, AUTH failures and messages per client (issue 14). */
  readonly relay = new RelayMetrics();

  accepted(): void {
    this.#accepted++;
  }

  /** An attempt's outcome, or 'requeued' / 'held' for a message returned to the queue without an attempt. */
  attempt(outcome: AttemptOutcome | 'requeued' | 'held', code: string | undefined): void {
    const c = code && CODE.test(code) ? code : outcome === 'sent' ? 'OK' : 'OTHER';
    const key = `${outcome}\u0000${c}`;
    this.#attempts.set(key, (this.#attempts.get(key) ?? 0) + 1);
    if (outcome === 'failed' || outcome === 'expired') this.#failed++;
  }

  sent(latencyMs: number): void {
    this.#sent++;
    const s = Math.max(0, latencyMs) / 1000;
    this.#latencyCount++;
    this.#latencySum += s;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (s <= LATENCY_BUCKETS[i]) this.#latencyBuckets[i]++;
  }

  render(input: ScrapeInput): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    metric('mailgate_messages', 'gauge', 'Messages in the outbox by status.',
      Object.entries(input.counts).map(([s, n]) => `mailgate_messages{status="${s}"} ${n}`));
    metric('mailgate_messages_accepted_total', 'counter', 'Messages accepted by the API since start.', [`mailgate_messages_accepted_total ${this.#accepted}`]);
    metric('mailgate_messages_sent_total', 'counter', 'Messages delivered since start.', [`mailgate_messages_sent_total ${this.#sent}`]);
    metric('mailgate_messages_failed_total', 'counter', 'Messages failed (permanent error or expired) since start.', [`mailgate_messages_failed_total ${this.#failed}`]);
    metric('mailgate_delivery_attempts_total', 'counter', 'Delivery attempts by outcome and error code.',
      [...this.#attempts.entries()].map(([k, n]) => {
        const [outcome, code] = k.split('\u0000');
        return `mailgate_delivery_attempts_total{outcome="${outcome}",code="${code}"} ${n}`;
      }));
    if (input.transportSwitches) {
      const lines = Object.entries(input.transportSwitches).flatMap(([k, n]) => {
        const m = /^(smtp|graph)→(smtp|graph) ([a-z0-9-]{1,60})$/.exec(k);
        return m ? [`mailgate_transport_switches_total{from="${m[1]}",to="${m[2]}",reason="${m[3]}"} ${n}`] : [];
      });
      metric('mailgate_transport_switches_total', 'counter', 'Automatic routing: moves of the sender between SMTP and Microsoft Graph, by reason.', lines);
    }
    metric('mailgate_token_requests_total', 'counter', 'Requests to the Microsoft Entra token endpoint since start.', [`mailgate_token_requests_total ${input.tokenRequests}`]);
    if (input.storeCommits) {
      metric('mailgate_store_commits_total', 'counter', 'Store transactions committed since start: durable (fsync, e.g. enqueues) or bookkeeping (claims, results; synced by the next durable commit or within 200 ms).', [
        `mailgate_store_commits_total{kind="durable"} ${input.storeCommits.durable}`,
        `mailgate_store_commits_total{kind="bookkeeping"} ${input.storeCommits.bookkeeping}`,
      ]);
    }
    if (input.storage) {
      metric('mailgate_storage_full_total', 'counter', 'Store writes refused because the data directory is full, since start.', [`mailgate_storage_full_total ${input.storage.fullWrites}`]);
      metric('mailgate_storage_full', 'gauge', '1 while the data directory is known to be full (until a write probe finds room).', [`mailgate_storage_full ${input.storage.full ? 1 : 0}`]);
    }
    const hist = LATENCY_BUCKETS.map((b, i) => `mailgate_delivery_latency_seconds_bucket{le="${b}"} ${this.#latencyBuckets[i]}`);
    hist.push(`mailgate_delivery_latency_seconds_bucket{le="+Inf"} ${this.#latencyCount}`);
    hist.push(`mailgate_delivery_latency_seconds_sum ${this.#latencySum}`, `mailgate_delivery_latency_seconds_count ${this.#latencyCount}`);
    metric('mailgate_delivery_latency_seconds', 'histogram', 'Time from acceptance to delivery.', hist);
    if (input.credentialExpiries) {
      // A name that is not a plain token never becomes a label (names are chosen by admins).
      const lines = input.credentialExpiries.flatMap((c) => (c.expiresAt !== undefined && LABEL.test(c.credential) && LABEL.test(c.kind)
        ? [`mailgate_credential_expiry_timestamp_seconds{credential="${c.credential}",kind="${c.kind}"} ${Math.floor(c.expiresAt / 1000)}`] : []));
      metric('mailgate_credential_expiry_timestamp_seconds', 'gauge', 'When each credential expires (Unix seconds): client secret, client certificate, relay TLS certificate. Alert when it is less than 14 days away.', lines);
    }
    if (input.credentialFailovers) {
      const lines = Object.entries(input.credentialFailovers).filter(([name]) => LABEL.test(name)).map(([name, n]) => `mailgate_credential_failover_total{credential="${name}"} ${n}`);
      metric('mailgate_credential_failover_total', 'counter', 'Switches to the secondary credential after Entra refused the primary (AADSTS7000215, 7000222, 700027), per credential.', lines);
    }
    if (input.relayClients) out.push(...this.relay.render(input.relayClients));
    const mem = process.memoryUsage();
    metric('process_resident_memory_bytes', 'gauge', 'Resident memory of the service process.', [`process_resident_memory_bytes ${mem.rss}`]);
    metric('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use.', [`nodejs_heap_used_bytes ${mem.heapUsed}`]);
    return `${out.join('\n')}\n`;
  }
}
