/**
 * The service's own settings (not the Email Settings): where data lives, where HTTP listens,
 * the delivery limits, read from environment variables with every problem reported at once.
 *
 * Why apart from the Email Settings schema (core/settings.ts): these are process settings of
 * `mailgate serve` (data dir, port, lease), not something an administrator edits on the
 * settings page; they are never stored. Same rules though: one table, defaults in it, all
 * problems listed with the variable name before anything starts.
 *
 * Imports: src/core errors (Problem type).
 */
import type { Problem } from '../core/errors.js';

export interface ServiceConfig {
  dataDir: string;
  /** postgres://... : the PostgreSQL store (several instances); absent: SQLite in dataDir. */
  databaseUrl?: string;
  /** Apply pending PostgreSQL migrations at start ('off': only `mailgate migrate` does). */
  databaseMigrate: 'on' | 'off';
  httpHost: string;
  httpPort: number;
  /** Messages per minute per mailbox. */
  ratePerMinute: number;
  /** Messages in flight (SMTP connections) per mailbox, 1..3. */
  maxConnections: number;
  leaseSeconds: number;
  /** Messages not delivered within this age are failed with EXPIRED. */
  maxAgeSeconds: number;
  maxBodyBytes: number;
  metricsToken?: string;
  /** Extra trusted CA (PEM file) for the token endpoint and the SMTP server. */
  caFile?: string;
  pollIntervalMs: number;
  shutdownGraceSeconds: number;
  /** How often stored settings changed by another process are picked up. */
  settingsRefreshMs: number;
  /** Run the delivery worker in this process ('off': API-only node, e.g. when workers run elsewhere). */
  worker: 'on' | 'off';
  /** SMTP PIPELINING and CHUNKING when the server offers them ('off': one command per round trip). */
  smtpPipelining: 'on' | 'off';
  /** Compose and send in a worker thread ('off': on the main event loop, with the HTTP API). */
  deliveryThread: 'on' | 'off';
  /** Reverse-proxy hops in front of the service whose forwarding header is trusted (0: none). */
  trustProxy: number;
  /** Admin sign-in: wrong passwords allowed per client (IPv4 address or IPv6 /64) per window. */
  loginMaxFailures: number;
  loginWindowSeconds: number;
  /** Admin sign-in: wrong passwords allowed per minute from all clients together. */
  loginGlobalFailuresPerMinute: number;
  /** SMTP relay (issue 14): off unless a port is given (0: any free port, for tests). */
  relayPort?: number;
  relayHost: string;
  /** Implicit TLS (465 style) port of the relay, optional. */
  relayTlsPort?: number;
  /** PEM certificate and key files of the relay; without them a self-signed pair in the data dir. */
  relayTlsCert?: string;
  relayTlsKey?: string;
  /** Relay connections at once, in total and from one address. */
  relayMaxConnections: number;
  relayMaxConnectionsPerAddress: number;
  /** Relay AUTH: failures from one address (IPv6 /64) within the window before 454 4.7.0. */
  relayAuthMaxFailures: number;
  relayAuthWindowSeconds: number;
  /** MAILGATE_ALERT_TO: where credential expiry alerts are emailed (through Mailgate's own outbox). */
  alertTo?: string;
}

interface Var {
  key: keyof ServiceConfig;
  env: string;
  /** `hops`: off (0), on (1) or a whole number of hops. */
  kind: 'string' | 'int' | 'number' | 'onoff' | 'hops';
  default?: string | number;
  min?: number;
  max?: number;
  hint?: string;
}

export const SERVICE_VARS: readonly Var[] = [
  { key: 'dataDir', env: 'MAILGATE_DATA_DIR', kind: 'string', default: './data' },
  { key: 'databaseUrl', env: 'MAILGATE_DATABASE_URL', kind: 'string' },
  { key: 'databaseMigrate', env: 'MAILGATE_DATABASE_MIGRATE', kind: 'onoff', default: 'on' },
  { key: 'httpHost', env: 'MAILGATE_HTTP_HOST', kind: 'string', default: '127.0.0.1' },
  { key: 'httpPort', env: 'MAILGATE_HTTP_PORT', kind: 'int', default: 8025, min: 0, max: 65535 },
  { key: 'ratePerMinute', env: 'MAILGATE_RATE_PER_MINUTE', kind: 'number', default: 30, min: 0.001, max: 1e9 },
  { key: 'maxConnections', env: 'MAILGATE_MAX_CONNECTIONS', kind: 'int', default: 3, min: 1, max: 3, hint: 'Exchange Online allows 3 concurrent connections per mailbox and answers 432 4.3.2 beyond that' },
  { key: 'leaseSeconds', env: 'MAILGATE_LEASE_SECONDS', kind: 'number', default: 60, min: 0.05, max: 86_400 },
  { key: 'maxAgeSeconds', env: 'MAILGATE_MAX_AGE_SECONDS', kind: 'number', default: 86_400, min: 1, max: 30 * 86_400 },
  { key: 'maxBodyBytes', env: 'MAILGATE_MAX_BODY_BYTES', kind: 'int', default: 36 * 1024 * 1024, min: 1024, max: 200 * 1024 * 1024 },
  { key: 'metricsToken', env: 'MAILGATE_METRICS_TOKEN', kind: 'string' },
  { key: 'caFile', env: 'MAILGATE_CA_FILE', kind: 'string' },
  { key: 'pollIntervalMs', env: 'MAILGATE_POLL_INTERVAL_MS', kind: 'int', default: 1000, min: 10, max: 600_000 },
  { key: 'shutdownGraceSeconds', env: 'MAILGATE_SHUTDOWN_GRACE_SECONDS', kind: 'number', default: 10, min: 0, max: 3600 },
  // 2 s: a change made by another process (`mailgate credentials promote`, `mailgate config
  // import`) reaches delivery within 2 s; the poll is one version read (issue 17 item 3).
  { key: 'settingsRefreshMs', env: 'MAILGATE_SETTINGS_REFRESH_MS', kind: 'int', default: 2000, min: 100, max: 3_600_000 },
  { key: 'worker', env: 'MAILGATE_WORKER', kind: 'onoff', default: 'on' },
  { key: 'deliveryThread', env: 'MAILGATE_DELIVERY_THREAD', kind: 'onoff', default: 'on' },
  // On by default: Exchange Online offers both; off is for a server that misbehaves with them.
  { key: 'smtpPipelining', env: 'MAILGATE_SMTP_PIPELINING', kind: 'onoff', default: 'on' },
  // Off by default: a forwarding header is only trustworthy when our own proxy wrote it.
  { key: 'trustProxy', env: 'MAILGATE_TRUST_PROXY', kind: 'hops', default: 0, min: 0, max: 10 },
  { key: 'loginMaxFailures', env: 'MAILGATE_LOGIN_MAX_FAILURES', kind: 'int', default: 5, min: 1, max: 1000 },
  { key: 'loginWindowSeconds', env: 'MAILGATE_LOGIN_WINDOW_SECONDS', kind: 'int', default: 900, min: 1, max: 86_400 },
  { key: 'loginGlobalFailuresPerMinute', env: 'MAILGATE_LOGIN_GLOBAL_FAILURES_PER_MINUTE', kind: 'int', default: 100, min: 1, max: 100_000 },
  { key: 'relayPort', env: 'MAILGATE_RELAY_PORT', kind: 'int', min: 0, max: 65535 },
  // Loopback by default, like the HTTP API: exposing a relay to the network is a decision.
  { key: 'relayHost', env: 'MAILGATE_RELAY_HOST', kind: 'string', default: '127.0.0.1' },
  { key: 'relayTlsPort', env: 'MAILGATE_RELAY_TLS_PORT', kind: 'int', min: 0, max: 65535 },
  { key: 'relayTlsCert', env: 'MAILGATE_RELAY_TLS_CERT', kind: 'string' },
  { key: 'relayTlsKey', env: 'MAILGATE_RELAY_TLS_KEY', kind: 'string' },
  { key: 'relayMaxConnections', env: 'MAILGATE_RELAY_MAX_CONNECTIONS', kind: 'int', default: 100, min: 1, max: 10_000 },
  { key: 'relayMaxConnectionsPerAddress', env: 'MAILGATE_RELAY_MAX_CONNECTIONS_PER_ADDRESS', kind: 'int', default: 20, min: 1, max: 10_000 },
  { key: 'relayAuthMaxFailures', env: 'MAILGATE_RELAY_AUTH_MAX_FAILURES', kind: 'int', default: 10, min: 1, max: 1000 },
  { key: 'relayAuthWindowSeconds', env: 'MAILGATE_RELAY_AUTH_WINDOW_SECONDS', kind: 'int', default: 300, min: 1, max: 86_400 },
  { key: 'alertTo', env: 'MAILGATE_ALERT_TO', kind: 'string' },
];

/**
 * MAILGATE_SMTP_PIPELINING for the commands that talk SMTP outside the service (`mailgate send`,
 * `mailgate doctor`), so they behave as the service does: off only when it says off (the
 * service itself refuses a value that is neither on nor off).
 */
export function smtpPipeliningFromEnv(env: Record<string, string | undefined>): boolean {
  return !['off', 'false', '0', 'no'].includes((env.MAILGATE_SMTP_PIPELINING ?? '').trim().toLowerCase());
}

export type ConfigResult = { ok: true; config: ServiceConfig } | { ok: false; problems: Problem[] };

/** Read the service settings from `env` (plus explicit overrides, which win). */
export function parseServiceConfig(env: Record<string, string | undefined>, overrides: Partial<ServiceConfig> = {}): ConfigResult {
  const problems: Problem[] = [];
  const out: Record<string, unknown> = {};
  for (const v of SERVICE_VARS) {
    const given = overrides[v.key];
    const raw = given !== undefined ? String(given) : env[v.env];
    if (raw === undefined || raw.trim() === '') {
      if (v.default !== undefined) out[v.key] = v.default;
      continue;
    }
    if (v.kind === 'string') {
      out[v.key] = raw.trim();
      continue;
    }
    if (v.kind === 'onoff') {
      const t = raw.trim().toLowerCase();
      if (['on', 'true', '1', 'yes'].includes(t)) out[v.key] = 'on';
      else if (['off', 'false', '0', 'no'].includes(t)) out[v.key] = 'off';
      else problems.push({ key: v.key, env: v.env, message: `${v.env} must be on or off, got "${raw.slice(0, 40)}"` });
      continue;
    }
    if (v.kind === 'hops') {
      const t = raw.trim().toLowerCase();
      if (['off', 'false', '0', 'no'].includes(t)) out[v.key] = 0;
      else if (['on', 'true', 'yes'].includes(t)) out[v.key] = 1;
      else if (/^\d+$/.test(t) && Number(t) <= (v.max ?? 10)) out[v.key] = Number(t);
      else problems.push({ key: v.key, env: v.env, message: `${v.env} must be off, on, or the number of proxies in front of Mailgate (1 to ${v.max}), got "${raw.slice(0, 40)}"` });
      continue;
    }
    const n = Number(raw.trim());
    const bad = (why: string) => problems.push({ key: v.key, env: v.env, message: `${v.env} ${why}${v.hint ? ` (${v.hint})` : ''}` });
    if (!Number.isFinite(n) || (v.kind === 'int' && !Number.isInteger(n))) bad(`must be ${v.kind === 'int' ? 'a whole number' : 'a number'}, got "${raw.slice(0, 40)}"`);
    else if ((v.min !== undefined && n < v.min) || (v.max !== undefined && n > v.max)) bad(`must be between ${v.min} and ${v.max}, got ${n}`);
    else out[v.key] = n;
  }
  // One address, no line breaks: it becomes the To of the alert emails (checked again when sent).
  if (typeof out.alertTo === 'string' && !/^[^\s@<>,;"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$/.test(out.alertTo)) {
    problems.push({ key: 'alertTo', env: 'MAILGATE_ALERT_TO', message: `MAILGATE_ALERT_TO must be one email address, got "${out.alertTo.slice(0, 60)}"` });
  }
  // Never echo the URL: it may carry the database password.
  if (typeof out.databaseUrl === 'string' && !/^postgres(ql)?:\/\//i.test(out.databaseUrl)) {
    problems.push({ key: 'databaseUrl', env: 'MAILGATE_DATABASE_URL', message: 'MAILGATE_DATABASE_URL must be a postgres:// or postgresql:// URL (unset it to use SQLite in MAILGATE_DATA_DIR)' });
  }
  return problems.length ? { ok: false, problems } : { ok: true, config: out as unknown as ServiceConfig };
}
