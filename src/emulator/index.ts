/**
 * `mailgate/emulator`: a faithful local stand-in for Microsoft 365 (Entra ID's token endpoint,
 * Exchange Online's SMTP AUTH submission and Microsoft Graph's sendMail with drafts and upload
 * sessions), started in-process with `startEmulator()`.
 *
 * Why it exists: nobody can test mail through Microsoft 365 without a tenant, and generic dev
 * inboxes accept any token. This module wires the pieces (PKI, signing key, HTTPS endpoints,
 * SMTP server, state, faults, limits, log, stats, message store) and exposes the endpoints plus
 * in-process helpers so tests need no HTTP for control.
 *
 * Imports: the other modules of src/emulator only (never the product's code).
 *
 * @example
 * const emulator = await startEmulator();            // demo tenant, ports chosen by the OS
 * const { tenantId, clientId, clientSecret, authorizedFrom } = emulator.demo!;
 * // ... POST `${emulator.authorityHost}/${tenantId}/oauth2/v2.0/token`, then SMTP XOAUTH2 on emulator.smtp
 * console.log(emulator.messages());
 * await emulator.stop();
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createSigningKey } from './access-token.js';
import { ActivityLog, type LogEntry } from './activity-log.js';
import { demoState } from './demo-state.js';
import { FaultController, parseFaults, type Faults } from './faults.js';
import { createHttpsApp, listenHttps } from './https-server.js';
import type { HttpRuntime } from './http-runtime.js';
import { newFrontEndName, newMailboxServerName } from './ids.js';
import { DraftStore } from './graph-drafts.js';
import { ConnectionCounter, MessageRateWindow, resolveLimits, type Limits, type LimitsOption } from './limits.js';
import { MessageStore, type StoredMessageSummary } from './message-store.js';
import { mailboxServerFqdn } from './smtp-replies.js';
import { createEmulatorPki } from './pki.js';
import { ExchangeSmtpServer } from './smtp-server.js';
import type { SmtpRuntime } from './smtp-runtime.js';
import { parseState, type EmulatorState, type EmulatorStateInput } from './state.js';
import { applyScenario, HEALTHY, type AppliedScenario } from './scenarios.js';
import { emptyStats, type EmulatorStats } from './stats.js';

export { buildTenantState, demoState, mergeStates, type BuiltTenant, type TenantStateOptions, type CertificateCredentialInput } from './demo-state.js';
export { createClientCertificate, certificateThumbprints, type ClientCertificate, type ClientCertificateOptions } from './pki.js';
export { parseState, emulatorStateSchema, findTenant, findMailbox, type EmulatorState, type EmulatorStateInput, type TenantState, type AppState, type MailboxState } from './state.js';
export { parseFaults, faultsSchema, type Faults } from './faults.js';
export { listScenarios, scenarioInfo, applyScenario, clientValuesOf, ScenarioError, HEALTHY, type ScenarioInfo, type ClientValues, type AppliedScenario, type ScenarioCheck } from './scenarios.js';
export { DEFAULT_LIMITS, NO_LIMITS, type Limits, type LimitsOption } from './limits.js';
export { EXCHANGE_APP_ID, GRAPH_APP_ID, EXCHANGE_AUDIENCES, GRAPH_AUDIENCES } from './access-token.js';
export { GRAPH_ERRORS, type GraphErrorSpec, type GraphErrorBody } from './graph-errors.js';
export { GRAPH_ENDPOINTS, type GraphEndpoint } from './faults.js';
export type { EmulatorStats } from './stats.js';
export type { LogEntry, TokenLogEntry, GraphLogEntry, SmtpSessionLogEntry, SmtpAuthRecord, SmtpCommandRecord } from './activity-log.js';
export type { StoredMessageSummary } from './message-store.js';

/** Fixed ports of the `mailgate emulator` command (the library defaults to 0 = any free port). */
export const DEFAULT_CLI_SMTP_PORT = 2587;
export const DEFAULT_CLI_HTTPS_PORT = 8443;

export interface EmulatorOptions {
  /** Address both listeners bind to (default 127.0.0.1). */
  host?: string;
  /** SMTP port (default 0 = a free port). */
  smtpPort?: number;
  /** HTTPS port for Entra endpoints and the admin API (default 0 = a free port). */
  httpsPort?: number;
  /**
   * Where `ca.pem` is written and, when given, where accepted messages are stored
   * (`messages/<id>.eml` + `.json`). Default: a new temporary directory (removed by `stop()`),
   * and messages are kept in memory only.
   */
  dataDir?: string;
  /** `expires_in` of issued tokens (default 3599). */
  tokenLifetimeSeconds?: number;
  /** Exchange's limits; `false` lifts them all (fast sink). See limits.ts for defaults. */
  limits?: LimitsOption;
  /** Milliseconds before the SMTP greeting (smtp-server's stock early-talker delay is 100 ms; default 0). */
  greetingDelayMs?: number;
  /** A named scenario (scenarios.ts) applied to the state at start (default `healthy`). */
  scenario?: string;
  /** Messages kept in memory (default 1000; oldest dropped; 0 keeps none). */
  maxStoredMessages?: number;
  /** Receives one line per notable event (the CLI passes stderr); never given secrets. */
  onLog?: (line: string) => void;
  /**
   * Receives every access token issued (tests use it to prove a token never leaks into logs,
   * files or responses of the system under test, wherever in that system the token lives).
   */
  onTokenIssued?: (accessToken: string) => void;
}

/** The demo tenant's values (present when the emulator started without a state). */
export interface DemoInfo {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorizedFrom: string;
  servicePrincipalObjectId: string;
  applicationObjectId: string;
  /** A shared mailbox the demo's mailbox (authorizedFrom) has Send As on: sign in as authorizedFrom, send with this From. */
  sharedMailbox: string;
}

/** The JSON object of the ready line (`mailgate emulator` prints it on one line). */
export interface ReadyInfo {
  smtp: { host: string; port: number };
  authorityHost: string;
  /**
   * Microsoft Graph's root, like `https://graph.microsoft.com` (the same listener as Entra):
   * `POST {graph}/v1.0/users/{Authorized from Address}/sendMail`.
   */
  graph: string;
  caFile: string;
  admin: string;
  demo?: DemoInfo;
}

export interface Emulator extends ReadyInfo {
  /** The CA certificate (PEM) clients must trust (also in `caFile`). */
  caPem: string;
  /** The ready line: `JSON.stringify` of the endpoints (and `demo`). */
  readyLine(): string;
  /** `{authorityHost}/{tenant}/oauth2/v2.0/token`. */
  tokenEndpoint(tenant: string): string;
  /** The static `authorityMetadata` JSON string MSAL needs for `{authorityHost}/{tenantId}` (no discovery requests). */
  msalAuthorityMetadata(tenantId: string): string;
  /** A copy of the current tenant state (edit it and pass it to `setState`). */
  getState(): EmulatorState;
  /** Replaces the tenant state (validated; throws an Error listing the problems). Applies to the next request/command. It becomes the baseline scenarios apply to. */
  setState(state: EmulatorStateInput): void;
  /** Applies a named scenario to the baseline state (`healthy` restores it); throws ScenarioError for an unknown name. */
  setScenario(name: string): AppliedScenario;
  /** The scenario in force and the settings a client should use with it. */
  scenario(): AppliedScenario;
  /** Accepted messages, oldest first. */
  messages(): StoredMessageSummary[];
  /** The raw message as received (undefined when unknown or dropped from memory). */
  rawMessage(id: string): Buffer | undefined;
  clearMessages(): void;
  /** The admin log (token requests and SMTP sessions), oldest first. */
  log(): LogEntry[];
  clearLog(): void;
  /** Replaces the scripted faults (validated; throws on a bad fault). */
  setFaults(faults: Faults): void;
  clearFaults(): void;
  /** The faults still active (with remaining counts). */
  faults(): Faults;
  stats(): EmulatorStats;
  resetStats(): void;
  /** The limits in force. */
  limits(): Limits;
  stop(): Promise<void>;
}

/** A URL host for a bind address (`0.0.0.0`/`::` → loopback, IPv6 in brackets). */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Starts the emulator. Without a state it serves a demo tenant where everything is set up
 * correctly (random secret per start; see `demo` on the result).
 */
export async function startEmulator(state?: EmulatorStateInput, options: EmulatorOptions = {}): Promise<Emulator> {
  const say = options.onLog ?? (() => undefined);
  let demo: DemoInfo | undefined;
  let current: EmulatorState;
  if (state === undefined) {
    const built = demoState();
    current = built.state;
    demo = {
      tenantId: built.tenantId, clientId: built.clientId, clientSecret: built.clientSecret!, authorizedFrom: built.authorizedFrom,
      servicePrincipalObjectId: built.servicePrincipalObjectId, applicationObjectId: built.applicationObjectId,
      sharedMailbox: built.sharedMailboxes[0]!,
    };
  } else {
    const parsed = parseState(state);
    if (!parsed.ok) throw new Error(`Invalid emulator state:\n  ${parsed.problems.join('\n  ')}`);
    current = parsed.state;
  }

  // Scenarios apply to the baseline (the state given at start or by the last setState/PUT state).
  let baseline = current;
  let scenario: AppliedScenario = applyScenario(baseline, HEALTHY);
  if (options.scenario !== undefined && options.scenario !== HEALTHY) {
    scenario = applyScenario(baseline, options.scenario);
    current = scenario.state;
  }

  const host = options.host ?? '127.0.0.1';
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = resolve(options.dataDir ?? await mkdtemp(join(tmpdir(), 'mailgate-emulator-')));
  await mkdir(dataDir, { recursive: true });
  const [pki, signingKey] = await Promise.all([createEmulatorPki(), createSigningKey()]);
  const caFile = join(dataDir, 'ca.pem');
  await writeFile(caFile, pki.caPem);
  const tlsMaterial = { key: pki.serverKeyPem, cert: pki.serverCertPem };

  let stats = emptyStats();
  const faults = new FaultController();
  const log = new ActivityLog();
  const store = new MessageStore(options.maxStoredMessages ?? 1000, ownsDataDir ? undefined : join(dataDir, 'messages'));
  const limits = resolveLimits(options.limits);
  const connections = new ConnectionCounter();
  const rate = new MessageRateWindow();
  const identity = { frontEnd: newFrontEndName(), region: `namprd${String(Math.floor(Math.random() * 20)).padStart(2, '0')}`, mailboxServer: newMailboxServerName() };
  const graphConcurrency = new ConnectionCounter();
  const drafts = new DraftStore();
  const statsView = (): EmulatorStats => structuredClone({ ...stats, peakAuthenticatedConnections: connections.peaks(), peakGraphConcurrentRequests: graphConcurrency.peaks() });

  const smtpRuntime: SmtpRuntime = {
    identity, getState: () => current, signingKey, limits, connections, rate, faults, log, store,
    get stats() { return stats; },
    greetingDelayMs: options.greetingDelayMs ?? 0,
    say,
  };
  const httpRuntime: HttpRuntime = {
    authorityHost: '',
    getState: () => current,
    replaceState: (next) => {
      baseline = next;
      current = next;
      scenario = applyScenario(baseline, HEALTHY);
      say('state replaced');
    },
    applyScenario: (name) => {
      const applied = applyScenario(baseline, name);
      scenario = applied;
      current = applied.state;
      say(`scenario ${name} applied`);
      return applied;
    },
    currentScenario: () => scenario,
    signingKey,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3599,
    onTokenIssued: options.onTokenIssued,
    faults, log, store, limits, graphConcurrency, drafts,
    messageIdHost: mailboxServerFqdn(identity),
    get stats() { return stats; },
    snapshotStats: statsView,
    resetStats: () => {
      stats = emptyStats();
      connections.resetPeaks();
      graphConcurrency.resetPeaks();
    },
    say,
  };

  const smtpServer = new ExchangeSmtpServer(smtpRuntime, tlsMaterial);
  smtpServer.on('error', (err: Error) => say(`smtp: ${err.message}`));
  let smtpPort: number;
  let https: Awaited<ReturnType<typeof listenHttps>>;
  try {
    smtpPort = await new Promise<number>((resolvePort, reject) => {
      smtpServer.server.once('error', reject);
      smtpServer.listen(options.smtpPort ?? 0, host, () => {
        smtpServer.server.off('error', reject);
        const address = smtpServer.server.address();
        resolvePort(typeof address === 'object' && address ? address.port : 0);
      });
    });
    https = await listenHttps(createHttpsApp(httpRuntime), tlsMaterial, host, options.httpsPort ?? 0);
  } catch (err) {
    // A port in use (or similar): release what was opened, then report.
    if (smtpServer.server.listening) await new Promise<void>((r) => smtpServer.close(() => r()));
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const authorityHost = `https://${urlHost(host)}:${https.port}`;
  httpRuntime.authorityHost = authorityHost;

  const ready: ReadyInfo = {
    smtp: { host: urlHost(host).replace(/^\[|\]$/g, ''), port: smtpPort },
    authorityHost,
    graph: authorityHost,
    caFile,
    admin: `${authorityHost}/_emulator`,
    ...(demo ? { demo } : {}),
  };
  say(`listening: smtp ${ready.smtp.host}:${smtpPort}, https ${authorityHost} (Entra, Microsoft Graph at ${ready.graph}/v1.0, admin)`);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const smtpClosed = new Promise<void>((r) => smtpServer.close(() => r()));
      for (const connection of smtpServer.connections) connection._socket.destroy();
      await Promise.all([smtpClosed, https.close()]);
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
      say('stopped');
    })();
    return stopped;
  };

  return {
    ...ready,
    caPem: pki.caPem,
    readyLine: () => JSON.stringify(ready),
    tokenEndpoint: (tenant) => `${authorityHost}/${tenant}/oauth2/v2.0/token`,
    msalAuthorityMetadata: (tenantId) => JSON.stringify({
      token_endpoint: `${authorityHost}/${tenantId}/oauth2/v2.0/token`,
      authorization_endpoint: `${authorityHost}/${tenantId}/oauth2/v2.0/authorize`,
      issuer: `${authorityHost}/${tenantId}/v2.0`,
      jwks_uri: `${authorityHost}/${tenantId}/discovery/v2.0/keys`,
    }),
    getState: () => structuredClone(current),
    setState: (next) => {
      const parsed = parseState(next);
      if (!parsed.ok) throw new Error(`Invalid emulator state:\n  ${parsed.problems.join('\n  ')}`);
      httpRuntime.replaceState(parsed.state);
    },
    setScenario: (name) => httpRuntime.applyScenario(name),
    scenario: () => httpRuntime.currentScenario(),
    messages: () => store.list(),
    rawMessage: (id) => store.raw(id),
    clearMessages: () => store.clear(),
    log: () => log.entries(),
    clearLog: () => log.clear(),
    setFaults: (next) => {
      const parsed = parseFaults(next);
      if (!parsed.ok) throw new Error(`Invalid faults:\n  ${parsed.problems.join('\n  ')}`);
      faults.set(parsed.faults);
    },
    clearFaults: () => faults.clear(),
    faults: () => faults.current(),
    stats: statsView,
    resetStats: httpRuntime.resetStats,
    limits: () => ({ ...limits }),
    stop,
  };
}
