/**
 * The SMTP relay's Prometheus metrics (issue 14):
 * - `mailgate_relay_connections` (gauge): relay connections open now;
 * - `mailgate_relay_auth_failures_total` (counter): AUTH attempts refused (wrong credentials,
 *   lockout) since start;
 * - `mailgate_relay_messages_total{client,outcome}` (counter): per relay client, `accepted`
 *   (answered 250 after the durable commit) and `rejected` (refused in the dialogue: sender not
 *   allowed, too large, storage failure…) since start, and `sent` / `failed` (delivered / failed
 *   for good after the 250) read from the store's per-client counters at scrape time, so they
 *   survive restarts and agree with the admin tab and `mailgate relay-client list`.
 *
 * Why its own module: the relay listener reports into it (`RelayMetricsSink`) without knowing
 * Prometheus; ./metrics.ts renders it with the rest. The `client` label is a relay client's
 * name: chosen by an administrator, [A-Za-z0-9._-]{1,64} (service/access/relay-clients.ts), so
 * safe as a label value and bounded by the number of clients; anything else is counted under
 * `client=""` (e.g. a refusal before authentication).
 *
 * `observeRelayEvent` maps the listener's events (intake/relay/relay-server.ts `onEvent`) onto
 * the sink: a connection over the caps (421) is never counted as open; a message answered
 * 250 is `accepted`; one refused after DATA (sender, storage) is `rejected`.
 *
 * Imports: ./outbox/store and ./intake/relay/relay-server types.
 */
import type { RelayEvent } from './intake/relay/relay-server.js';
import type { RelayClientRecord } from './outbox/store.js';

/** What the relay listener calls. */
export interface RelayMetricsSink {
  connectionOpened(): void;
  connectionClosed(): void;
  authFailure(): void;
  /** A message answered 250 (`accepted`) or refused in the dialogue (`rejected`); client '' when unknown. */
  message(client: string, outcome: 'accepted' | 'rejected'): void;
}

const LABEL = /^[A-Za-z0-9._-]{1,64}$/;

export class RelayMetrics implements RelayMetricsSink {
  #connections = 0;
  #authFailures = 0;
  readonly #messages = new Map<string, { accepted: number; rejected: number }>();

  connectionOpened(): void {
    this.#connections++;
  }

  connectionClosed(): void {
    this.#connections = Math.max(0, this.#connections - 1);
  }

  authFailure(): void {
    this.#authFailures++;
  }

  message(client: string, outcome: 'accepted' | 'rejected'): void {
    const key = LABEL.test(client) ? client : '';
    const m = this.#messages.get(key) ?? { accepted: 0, rejected: 0 };
    m[outcome]++;
    this.#messages.set(key, m);
  }

  get connections(): number {
    return this.#connections;
  }

  /** The three metrics in the text format; `clients` gives the stored sent/failed counters. */
  render(clients: readonly Pick<RelayClientRecord, 'name' | 'messagesSent' | 'messagesFailed'>[]): string[] {
    const rows = new Map<string, { accepted: number; rejected: number; sent: number; failed: number }>();
    const row = (name: string) => {
      let r = rows.get(name);
      if (!r) rows.set(name, (r = { accepted: 0, rejected: 0, sent: 0, failed: 0 }));
      return r;
    };
    for (const c of clients) {
      // A name reused after a revocation: one series, the sum (still only ever grows).
      const r = row(LABEL.test(c.name) ? c.name : '');
      r.sent += c.messagesSent;
      r.failed += c.messagesFailed;
    }
    for (const [name, m] of this.#messages) {
      const r = row(name);
      r.accepted += m.accepted;
      r.rejected += m.rejected;
    }
    const lines = [
      '# HELP mailgate_relay_connections SMTP relay connections open now.',
      '# TYPE mailgate_relay_connections gauge',
      `mailgate_relay_connections ${this.#connections}`,
      '# HELP mailgate_relay_auth_failures_total SMTP relay AUTH attempts refused (wrong credentials or lockout) since start.',
      '# TYPE mailgate_relay_auth_failures_total counter',
      `mailgate_relay_auth_failures_total ${this.#authFailures}`,
      '# HELP mailgate_relay_messages_total Relay messages per client: accepted (250) and rejected in the SMTP dialogue since start; sent and failed (after the 250) as stored.',
      '# TYPE mailgate_relay_messages_total counter',
    ];
    for (const [name, r] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
      for (const outcome of ['accepted', 'rejected', 'sent', 'failed'] as const) lines.push(`mailgate_relay_messages_total{client="${name}",outcome="${outcome}"} ${r[outcome]}`);
    }
    return lines;
  }
}

/** Feed one relay event into the metrics. */
export function observeRelayEvent(sink: RelayMetricsSink, e: RelayEvent): void {
  switch (e.type) {
    case 'connection-open':
      sink.connectionOpened();
      break;
    case 'connection-close':
      sink.connectionClosed();
      break;
    case 'auth-failure':
      sink.authFailure();
      break;
    case 'message':
      sink.message(e.client, e.outcome === 'queued' ? 'accepted' : 'rejected');
      break;
    default:
      break;
  }
}
