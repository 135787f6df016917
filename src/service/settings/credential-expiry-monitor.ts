/**
 * The service's watch over credential expiry (issue 17): which credentials are in use and when
 * each expires, computed again when the settings change and at least once a day; a structured
 * log line per credential once a day; and an alert email to MAILGATE_ALERT_TO through Mailgate's
 * own outbox when a credential crosses a threshold (30, 14, 7, 1 days, expired), once per
 * threshold: remembered in the store's meta table, so a restart never sends it again (the
 * message's idempotency key makes a crash between enqueue and remember harmless too).
 *
 * Why it exists: an expired secret is an outage an administrator must hear about weeks before.
 * The statuses it holds feed the admin banner, /readyz (admins), the metric and the doctor-like
 * texts; all of them come from core/credential-expiry.ts, so they say the same thing.
 *
 * The list: `describeSettingsCredentials` for every named credential (issue 16: the Email
 * Settings' credential "default" and each credential of the SendersService, its name as the
 * metric label and in the alert key) plus the relay's TLS certificate. Graph is read once per
 * app registration (keyed by client ID), however many credentials or senders use it.
 *
 * The clock is injected (`now`), so tests move time to each threshold without waiting.
 *
 * Imports: src/core (credential-expiry, settings types), src/auth (credential inventory, the
 * Graph read), ../outbox (types), ../intake/message-request, ../../log types,
 * ./credential-slots (the secondary credential's settings).
 */
import { DAY_MS, describeCredential, EXPIRY_THRESHOLDS, expiryStatuses, formatExpiry, renewalSteps, thresholdRank, type CredentialExpiryInput, type CredentialExpiryStatus, type ThresholdId } from '../../core/credential-expiry.js';
import type { EmailSettings } from '../../core/settings.js';
import type { AppCredentialFacts, AppCredentialsRead } from '../../auth/app-credentials-graph.js';
import { describeSettingsCredentials } from '../../auth/credential-inventory.js';
import { secondarySettings } from './credential-slots.js';
import type { Logger } from '../../log/logger.js';
import { parseMessageRequest } from '../intake/message-request.js';
import type { Outbox } from '../outbox/outbox.js';
import type { ConfigStore } from '../outbox/store.js';

/** How often Graph is asked again (it changes only when an administrator adds a credential). */
const GRAPH_REFRESH_MS = DAY_MS;
/**
 * The first Graph read waits this long after the start: a start (and a short-lived test run)
 * then costs no extra token request; the statuses use the certificate or the typed date until.
 */
export const FIRST_GRAPH_READ_DELAY_MS = 10 * 60_000;
/** How often the service ticks (cheap: the settings, a certificate, the meta rows). */
export const TICK_INTERVAL_MS = 10 * 60_000;
const ALERT_META_PREFIX = 'credentialExpiry.alert.';

export interface RelayCertificateFacts {
  expiresAt: number;
  certFile: string;
  source: 'files' | 'generated';
}

export interface CredentialExpiryMonitorDeps {
  /** The valid settings in effect and their version (the default credential, when `credentials` is absent). */
  settings: () => { version: number; settings?: EmailSettings };
  /** Every named credential with Email Settings carrying it (SendersService.credentialSettings); replaces `settings` for the list. */
  credentials?: () => { version: number; list: readonly { name: string; settings?: EmailSettings }[] };
  /** The relay's TLS certificate, when the relay is on. */
  relayCertificate?: () => RelayCertificateFacts | undefined;
  /** Reads the app's own credentials from Graph (absent: never). */
  readGraph?: (settings: EmailSettings) => Promise<AppCredentialsRead>;
  store: Pick<ConfigStore, 'getMeta' | 'setMeta'>;
  outbox: Pick<Outbox, 'submit'>;
  /** MAILGATE_ALERT_TO: where alert emails go (none: no email, the other warnings stay). */
  alertTo?: string;
  logger: Logger;
  now: () => number;
}

interface Remembered {
  expiresAt: number;
  threshold: ThresholdId;
}

export class CredentialExpiryMonitor {
  readonly #d: CredentialExpiryMonitorDeps;
  #inputs: CredentialExpiryInput[] = [];
  #settingsVersion = -1;
  /** What Graph said, per app registration (client ID, lower case). */
  readonly #graph = new Map<string, { facts?: AppCredentialFacts; note?: string; readAt: number }>();
  #forceGraph = false;
  #lastLogDay = -1;
  #running?: Promise<void>;

  constructor(d: CredentialExpiryMonitorDeps) {
    this.#d = d;
  }

  /** The statuses now, most urgent first (cheap: the inputs are cached). */
  statuses(): CredentialExpiryStatus[] {
    return expiryStatuses(this.#inputs, this.#d.now());
  }

  /** Why Graph could not be used for the real expiry, if it was tried (admins' /readyz). */
  graphNote(): string | undefined {
    const notes = [...this.#graph.values()].map((g) => g.note).filter((n): n is string => n !== undefined);
    return notes.length ? [...new Set(notes)].join('; ') : undefined;
  }

  /**
   * Recompute, log once a day, alert once per threshold. One at a time; never throws.
   * `readGraph`: read Graph now even when it is not due (tests, a settings change by an admin).
   */
  tick(o: { readGraph?: boolean } = {}): Promise<void> {
    if (o.readGraph) this.#forceGraph = true;
    this.#running ??= this.#tick().catch((error: unknown) => {
      this.#d.logger.error({ err: error }, 'credential expiry check failed');
    }).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #tick(): Promise<void> {
    await this.#refresh();
    const statuses = this.statuses();
    this.#logDaily(statuses);
    await this.#alert(statuses);
  }

  async #refresh(): Promise<void> {
    const { version, list } = this.#credentialList();
    const now = this.#d.now();
    const firstRead = now - GRAPH_REFRESH_MS + FIRST_GRAPH_READ_DELAY_MS;
    // A change of settings forgets what Graph said about the old credentials.
    // Graph is then read again at the latest FIRST_GRAPH_READ_DELAY_MS later (the next tick).
    if (version !== this.#settingsVersion && this.#settingsVersion !== -1) {
      for (const g of this.#graph.values()) {
        g.facts = undefined;
        g.readAt = Math.min(g.readAt, firstRead);
      }
    }
    const force = this.#forceGraph;
    this.#forceGraph = false;
    const inputs: CredentialExpiryInput[] = [];
    const readNow = new Set<string>();
    for (const { name, settings } of list) {
      if (!settings) continue;
      const app = settings.clientId?.trim().toLowerCase();
      let g = app ? this.#graph.get(app) : undefined;
      if (app && !g) this.#graph.set(app, g = { readAt: firstRead });
      // One Graph read per app registration per refresh period (several credentials may name
      // the same app: the first with a secret reads it, the others use its answer).
      if (g && this.#d.readGraph && settings.useModernAuth && settings.clientSecret && !settings.clientCertificatePath && !settings.clientCertificatePem
        && !readNow.has(app!) && (force || now - g.readAt >= GRAPH_REFRESH_MS)) {
        readNow.add(app!);
        g.readAt = now;
        const read = await this.#d.readGraph(settings);
        if (read.ok) {
          g.facts = read.facts;
          g.note = undefined;
        } else {
          g.facts = undefined;
          g.note = read.message;
        }
      }
      inputs.push(...await describeSettingsCredentials(settings, { credential: name, ...(g?.facts ? { graph: g.facts } : {}) }));
      // The secondary credential (rotation, issue 17) expires too: watched as `<name>.secondary`.
      const secondary = secondarySettings(settings);
      if (secondary) inputs.push(...await describeSettingsCredentials(secondary, { credential: `${name}.secondary`, ...(g?.facts ? { graph: g.facts } : {}) }));
    }
    this.#settingsVersion = version;
    const relay = this.#d.relayCertificate?.();
    if (relay) inputs.push({ credential: 'relay', kind: 'relay-tls', expiresAt: relay.expiresAt, source: 'certificate', certFile: relay.certFile, generated: relay.source === 'generated' });
    this.#inputs = inputs;
  }

  /** The credentials to watch: every named one, or the Email Settings' as "default". */
  #credentialList(): { version: number; list: readonly { name: string; settings?: EmailSettings }[] } {
    if (this.#d.credentials) return this.#d.credentials();
    const { version, settings } = this.#d.settings();
    return { version, list: [{ name: 'default', ...(settings ? { settings } : {}) }] };
  }

  #logDaily(statuses: CredentialExpiryStatus[]): void {
    const day = Math.floor(this.#d.now() / DAY_MS);
    if (day === this.#lastLogDay) return;
    this.#lastLogDay = day;
    for (const s of statuses) {
      const fields = {
        event: 'credential-expiry',
        credential: s.input.credential,
        kind: s.input.kind,
        expiresAt: s.input.expiresAt === undefined ? null : new Date(s.input.expiresAt).toISOString(),
        daysLeft: s.daysLeft ?? null,
        severity: s.severity,
        threshold: s.threshold ?? null,
        source: s.input.source ?? null,
      };
      if (s.severity === 'critical' || s.severity === 'warning') this.#d.logger.warn(fields, s.message);
      else this.#d.logger.info(fields, s.message);
    }
  }

  async #alert(statuses: CredentialExpiryStatus[]): Promise<void> {
    const to = this.#d.alertTo;
    if (!to) return;
    for (const s of statuses) {
      if (!s.threshold || s.input.expiresAt === undefined) continue;
      const key = `${ALERT_META_PREFIX}${s.input.credential}.${s.input.kind}`;
      const before = parseRemembered(await this.#d.store.getMeta(key));
      // A renewed credential (another expiry) starts over; a threshold already told is not told again.
      if (before && before.expiresAt === s.input.expiresAt && thresholdRank(before.threshold) >= thresholdRank(s.threshold)) continue;
      const email = alertEmail(s, to);
      const parsed = parseMessageRequest(email);
      if (!parsed.ok) {
        this.#d.logger.error({ problems: parsed.problems.map((p) => p.message) }, 'MAILGATE_ALERT_TO cannot receive the credential expiry alert');
        return;
      }
      const result = await this.#d.outbox.submit(parsed.request);
      this.#d.logger.warn({ event: 'credential-expiry-alert', credential: s.input.credential, kind: s.input.kind, threshold: s.threshold, outcome: result.outcome }, `credential expiry alert queued for ${to}`);
      await this.#d.store.setMeta(key, JSON.stringify({ expiresAt: s.input.expiresAt, threshold: s.threshold } satisfies Remembered));
    }
  }
}

function parseRemembered(text: string | undefined): Remembered | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<Remembered>;
    if (typeof v.expiresAt === 'number' && EXPIRY_THRESHOLDS.some((t) => t.id === v.threshold)) return v as Remembered;
  } catch { /* a damaged value counts as none: the alert is sent again, never lost */ }
  return undefined;
}

/** The alert email of a status (plain text; the renewal steps with the real IDs). */
export function alertEmail(s: CredentialExpiryStatus, to: string): { to: string[]; subject: string; text: string; idempotencyKey: string } {
  const steps = renewalSteps(s.input);
  const when = s.input.expiresAt === undefined ? 'unknown' : formatExpiry(s.input.expiresAt);
  const what = describeCredential(s.input);
  const subject = s.threshold === 'expired' ? `[Mailgate] ${what} has expired` : `[Mailgate] ${what} expires ${when.slice(0, 10)}`;
  const text = [
    s.message,
    '',
    `Credential: ${s.input.credential} (${s.input.kind})`,
    `Expires: ${when}${s.input.source ? ` (from ${s.input.source === 'graph' ? 'Microsoft Graph' : s.input.source === 'setting' ? 'the "Client Secret expires" setting' : 'the certificate'})` : ''}`,
    '',
    'How to renew it without a gap:',
    ...steps.steps.map((x, i) => `${i + 1}. ${x}`),
    ...(steps.commands.length ? ['', 'Commands:', ...steps.commands.map((c) => `  ${c}`)] : []),
    '',
    'Mailgate sends this once per threshold (30, 14, 7 and 1 days before, and after the expiry).',
  ].join('\n');
  return {
    to: [to],
    subject: subject.replace(/[\r\n]+/g, ' ').slice(0, 900),
    text,
    idempotencyKey: `credential-expiry:${s.input.credential}:${s.input.kind}:${s.input.expiresAt ?? 'unknown'}:${s.threshold ?? 'none'}`,
  };
}
