/**
 * `startService(options)`: the composition root of `mailgate serve` (and `mailgate dev`).
 * The only place that knows every concrete piece: the SQLite store, the master key, the
 * settings service, the one process-wide mailer (createMailer), the delivery worker, the Hono
 * app and the HTTP socket.
 *
 * Start-up order: service settings (all problems at once) → data dir and store (a corrupt or
 * unwritable dir stops here, naming the path) → master key → stored settings → admin password
 * → worker → HTTP. Shutdown (`stop()`): stop accepting HTTP, let in-flight requests finish, stop
 * the worker (buffered messages released, in-flight sends given `shutdownGraceSeconds`), close
 * the mailers, flush and close the store.
 *
 * Everything is injectable for tests (env, scheduler, mailer factory, retry policy, logger).
 *
 * Imports: everything in src/service, src/mailer.ts, src/core, src/net/server-errors, @hono/node-server.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { BoundedFileError, CA_BUNDLE_FILE_LIMIT, readBoundedFile } from '../config/bounded-file.js';
import { diagnose } from '../core/diagnosis/index.js';
import type { Problem } from '../core/errors.js';
import { classifyForRetry } from '../core/retry-policy.js';
import { addLogSecretSource, createLogger, type Logger } from '../log/logger.js';
import { refuseUntilListening } from '../net/server-errors.js';
import { createMailer, testCredentialToken, type MailgateMailer, type MailerDeps } from '../mailer.js';
import { resolveAdminPassword, type AdminPassword } from '../service/access/admin-password.js';
import { scrubText } from '../core/secret.js';
import { runDoctor } from '../doctor/run-doctor.js';
import { runSettingsAsSender } from '../doctor/sender-doctor.js';
import type { DoctorOptions } from '../doctor/types.js';
import { createAdminApp } from '../admin/index.js';
import { parseServiceConfig, type ServiceConfig } from '../service/config.js';
import { createApp, type AppDeps, type AppOptions, type RunDiagnostics } from '../service/intake/http/app.js';
import type { AppEnv } from '../service/intake/http/auth.js';
import { ServiceMetrics } from '../service/metrics.js';
import { observeRelayEvent } from '../service/relay-metrics.js';
import { listRelayClients } from '../service/access/relay-clients.js';
import { DeliveryThread } from '../service/delivery/thread/delivery-thread.js';
import { createOutbox } from '../service/outbox/outbox.js';
import { loadMasterKey } from '../service/settings/secret-box.js';
import { createSendTest } from '../service/delivery/send-test.js';
import { SettingsService } from '../service/settings/settings-store.js';
import { fileDefaultEnv, SendersService } from '../service/settings/senders-service.js';
import { checkConfigFile, resolveCredential, singleSenderEnvConflicts } from '../config/mailgate-config.js';
import type { SendersConfig } from '../core/senders.js';
import { openStore, databasePassword, isPgStore, type AnyStore } from '../service/outbox/open-store.js';
import { MailboxOwnership } from '../service/outbox/postgres/pg-ownership.js';
import { listenForConfigChanges } from '../service/outbox/postgres/pg-notifications.js';
import { forgetCachedApiKeys } from '../service/access/api-keys.js';
import { forgetCachedRelayClients } from '../service/access/relay-clients.js';
import { MailerSource, type MailerFactory } from '../service/delivery/mailer-source.js';
import { systemScheduler, type Scheduler } from '../service/delivery/scheduler.js';
import { DeliveryWorker, type RetryClassification, type WorkerOptions } from '../service/delivery/worker.js';
import { startRelay, type RelayEvent, type RunningRelay } from '../service/intake/relay/relay-server.js';
import { loadRelayTls, type RelayCertificateInfo } from '../service/intake/relay/relay-tls.js';
import { CredentialExpiryMonitor, TICK_INTERVAL_MS } from '../service/settings/credential-expiry-monitor.js';
import { readAppCredentials } from '../auth/app-credentials-graph.js';
import { CredentialRotationService } from '../service/settings/credential-rotation-service.js';
import { failoverHandler } from '../service/settings/credential-failover-alert.js';
import type { EmailSettings } from '../core/settings.js';

/** Start-up failed for a reason the operator must fix (bad variable, data dir, master key). */
export class ServiceStartError extends Error {
  override readonly name = 'ServiceStartError';
  constructor(message: string, readonly problems: Problem[] = [], options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Builds a mailer for the service; the default is `createMailer` from src/mailer.ts. */
export type ServiceMailerFactory = (settings: Parameters<typeof createMailer>[0], deps: MailerDeps) => MailgateMailer;

export interface StartServiceOptions {
  /** Environment (service variables, Email Settings overrides, master key, admin password). Default process.env. */
  env?: Record<string, string | undefined>;
  /** Service settings that win over the environment (tests, `mailgate dev`). */
  config?: Partial<ServiceConfig>;
  logger?: Logger;
  /** Extra trusted CA for the token endpoint and SMTP (wins over MAILGATE_CA_FILE). */
  ca?: string | Buffer;
  createMailer?: ServiceMailerFactory;
  /** Extra options for every mailer (tests shorten token retries, idle timeouts). */
  mailerDeps?: Partial<MailerDeps>;
  /** The doctor, for POST /api/v1/diagnostics (501 without it). */
  runDiagnostics?: RunDiagnostics;
  /** Extra options for the default doctor (`mailgate dev`: the emulator's Exchange-side facts). */
  doctorOptions?: Pick<DoctorOptions, 'exchangeFacts'>;
  /** The admin page's app factory, mounted under /admin. */
  admin?: AppOptions['admin'];
  /** Bind the HTTP socket (default true); false for in-process tests using `app.request()`. */
  listen?: boolean;
  /** Run the delivery worker (default true; MAILGATE_WORKER=off also disables it). */
  worker?: boolean;
  /** Worker tuning beyond the variables (tests: backoff, prefetch). */
  workerOptions?: Partial<WorkerOptions>;
  /** Retry policy override (tests shorten the policy's minimum delays). */
  classify?: (error: unknown) => RetryClassification;
  scheduler?: Scheduler;
  /** Relay timeouts (tests shorten them). */
  relayTimeouts?: { idleTimeoutMs?: number; dataTimeoutMs?: number };
  /** Observes the relay (metrics; tests). */
  onRelayEvent?: (event: RelayEvent) => void;
  /** The clock of the credential expiry monitor (tests move it to each threshold). Default: the scheduler's. */
  credentialClock?: () => number;
}

export interface RunningService {
  /** `http://host:port` (empty when not listening). */
  url: string;
  app: Hono<AppEnv>;
  deps: AppDeps;
  config: ServiceConfig;
  store: AnyStore;
  settings: SettingsService;
  worker?: DeliveryWorker;
  adminPassword: AdminPassword;
  /** The SMTP relay, when MAILGATE_RELAY_PORT is set: its ports and certificate. */
  relay?: RunningRelay & { certificate: RelayCertificateInfo };
  /** Credential expiry: statuses, and `tick()` to check now (issue 17). */
  credentials: CredentialExpiryMonitor;
  /** Warnings for the operator now (master key file in use, settings incomplete). */
  warnings(): string[];
  stop(): Promise<void>;
}

function listen(app: Hono<AppEnv>, host: string, port: number, logger: Logger): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, () => {
      listening();
      resolve(server as Server);
    }) as Server;
    // An accept error after the start (EMFILE in a connection flood) is said, not fatal (net/server-errors.ts).
    const listening = refuseUntilListening(
      server,
      (error) => reject(new ServiceStartError(`Cannot listen on ${host}:${port}: ${error.code === 'EADDRINUSE' ? 'the port is in use (another Mailgate?). Choose another port with --port N or MAILGATE_HTTP_PORT=N (npm run dev -- --port N; 0 picks a free one)' : error.message}`, [], { cause: error })),
      ({ error, suppressed }) => logger.error({ err: error, code: error.code, suppressed }, 'the HTTP API could not accept a connection (it keeps listening)'),
    );
  });
}

/** Whether the API listens only on this machine (the 401 may then name the data dir). */
function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** The extra CA file: a regular file of at most CA_BUNDLE_FILE_LIMIT (1 MiB, as in the CLI), read off the event loop (config/bounded-file.ts). */
async function loadCa(o: StartServiceOptions, config: ServiceConfig): Promise<string | Buffer | undefined> {
  if (o.ca !== undefined) return o.ca;
  if (!config.caFile) return undefined;
  try {
    return await readBoundedFile(config.caFile, CA_BUNDLE_FILE_LIMIT);
  } catch (error) {
    throw new ServiceStartError(`MAILGATE_CA_FILE cannot be used: ${(error as Error).message}`, [], { cause: error });
  }
}

/**
 * A client certificate path from the environment must name a regular file of at most 64 KB:
 * a device, a FIFO, a directory or a huge file stops the start, naming the variable (the same
 * rule the API applies with a 422). A file that is merely missing or unreadable does not: it may
 * be provisioned after the start (a mounted secret), and until then delivery waits and /readyz
 * and the admin page say why.
 */
async function checkCertificateFileFromEnv(env: Record<string, string | undefined>): Promise<void> {
  const path = env.MAILGATE_CLIENT_CERTIFICATE_PATH?.trim();
  if (!path) return;
  try {
    await readBoundedFile(path);
  } catch (error) {
    if (error instanceof BoundedFileError && error.reason === 'unreadable') return;
    const problem = { key: 'clientCertificatePath', env: 'MAILGATE_CLIENT_CERTIFICATE_PATH', label: 'Client certificate', message: `MAILGATE_CLIENT_CERTIFICATE_PATH cannot be used: ${(error as Error).message}` };
    throw new ServiceStartError(problem.message, [problem], { cause: error });
  }
}

export async function startService(o: StartServiceOptions = {}): Promise<RunningService> {
  const env = o.env ?? process.env;
  const logger = o.logger ?? createLogger();
  const scheduler = o.scheduler ?? systemScheduler;
  const now = () => scheduler.now();
  const parsed = parseServiceConfig(env, o.config);
  if (!parsed.ok) throw new ServiceStartError(`Invalid service settings:\n  ${parsed.problems.map((p) => p.message).join('\n  ')}`, parsed.problems);
  const config = parsed.config;
  const ca = await loadCa(o, config);
  await checkCertificateFileFromEnv(env);
  const { file: senderFile, settingsEnv } = await loadConfigFile(env);

  if (config.databaseUrl && !env.MAILGATE_MASTER_KEY) {
    // Every instance must decrypt the stored secrets: a key file in one machine's data dir cannot be shared.
    throw new ServiceStartError('MAILGATE_MASTER_KEY must be set when MAILGATE_DATABASE_URL is (every instance needs the same key to read the stored secrets; generate one with: openssl rand -base64 32)', [{ key: 'masterKey', env: 'MAILGATE_MASTER_KEY', message: 'MAILGATE_MASTER_KEY is required with MAILGATE_DATABASE_URL' }]);
  }
  // SQLite: throws DataDirError naming the path. PostgreSQL: migrates under the advisory lock (or checks).
  const store = await openStore({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    migrate: config.databaseMigrate === 'off' ? 'check' : 'auto',
    onIdleError: (error) => logger.warn({ err: error }, 'a PostgreSQL connection was lost (it is replaced on the next query)'),
  });
  const closers: (() => Promise<void>)[] = [() => store.close()];
  const dbPassword = databasePassword(config.databaseUrl);
  if (dbPassword) {
    const removeDbSecret = addLogSecretSource(() => [dbPassword]);
    closers.push(async () => removeDbSecret());
  }
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const masterKey = loadMasterKey(env.MAILGATE_MASTER_KEY, config.dataDir);
    const settings = await SettingsService.open({ store, masterKey: masterKey.key, env: settingsEnv, now });
    const senders = await SendersService.open({ store, settings, masterKey: masterKey.key, env, now, ...(senderFile ? { file: senderFile } : {}) });
    closers.push(async () => senders.close());
    // Every log line is scrubbed of the secrets in effect, whatever field carries them.
    const removeSecretSource = addLogSecretSource(() => senders.secrets());
    closers.push(async () => removeSecretSource());
    const adminPassword = await resolveAdminPassword(store, env.MAILGATE_ADMIN_PASSWORD, { now: now() });
    const warnings = () => {
      const v = settings.view();
      const out = [...masterKey.warnings, ...v.warnings.map((w) => w.message)];
      if (!v.valid) out.push(`The Email Settings are incomplete, so nothing is delivered yet (messages are queued): ${v.problems.map((p) => p.message).join('; ')}`);
      return out;
    };

    const metrics = new ServiceMetrics();
    const build = o.createMailer ?? createMailer;
    const mailerDeps: MailerDeps = { ca, logger, maxConnections: config.maxConnections, pipelining: config.smtpPipelining === 'on', ...o.mailerDeps };
    const factory: MailerFactory = (s, reuse) => build(s, { ...mailerDeps, tokenProvider: reuse.tokenProvider, onCredentialFailover: (e) => onFailover(s, e) });
    // The delivery worker's mailers live in a worker thread (compose + SMTP on the second
    // core), unless a test injects its own mailer factory or clock, which cannot cross threads.
    const useThread = config.deliveryThread === 'on' && o.worker !== false && config.worker === 'on' && !o.createMailer && !o.mailerDeps?.clock;
    // A token provider switched to a credential's secondary (issue 17): log, metric, alert email.
    // Set once the rotation service exists (below); reports before that cannot happen (no send yet).
    let onFailover: (settings: EmailSettings, event: { code: string; at: number }) => void = () => undefined;
    const failoverCounts: Record<string, number> = {};
    const thread = useThread ? new DeliveryThread(logger, { onCredentialFailover: (s, e) => onFailover(s, e) }) : undefined;
    const deliveryFactory: MailerFactory = thread ? (s, reuse) => thread.createMailer(s, { ...mailerDeps, tokenProvider: reuse.tokenProvider }) : factory;
    if (thread) closers.push(() => thread.stop());
    const threadReady = thread?.warmUp();
    const mailers = new MailerSource(() => settings.snapshot(), deliveryFactory, (error) =>
      logger.error({ err: error, code: (error as { code?: string })?.code }, 'a sender\'s settings cannot be used to send (nothing is delivered for it until they change)'),
    () => senders.snapshot());
    closers.push(() => mailers.close());
    let testTokenRequests = 0;

    const workerOwner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    // PostgreSQL (several instances): only the instance owning a signed-in mailbox's delivery
    // claims for it, so N instances together keep Exchange's per-mailbox limits (pg-ownership.ts).
    // With several senders (issue 16) every signed-in mailbox has its own owner; an instance
    // claims only the messages of the senders signing in as a mailbox it owns.
    const deliveryMailboxes = (): string[] => {
      const out = new Set(senders.list().map((x) => x.signInAs.toLowerCase()));
      const d = settings.settings()?.authorizedFrom;
      if (d && !senders.defaultSender()) out.add(d.toLowerCase());
      return [...out];
    };
    const ownership = isPgStore(store) && o.worker !== false && config.worker === 'on'
      ? new MailboxOwnership(store.db, { owner: workerOwner, leaseMs: Math.round(config.leaseSeconds * 1000), now })
      : undefined;
    const worker = o.worker === false || config.worker === 'off' ? undefined : new DeliveryWorker(
      {
        owner: workerOwner,
        leaseMs: Math.round(config.leaseSeconds * 1000),
        maxInFlight: config.maxConnections,
        // At high rates the rest of the prefetch (32) waits in the mailer's pool, so a
        // connection never idles while the main thread is busy with intake or a commit
        // (measured: ~5 % faster bursts than 3 ahead). Not at Exchange's rates: the rate
        // limit is taken when a message is handed over, and messages piled up in the pool
        // behind a stalled connection would then leave back to back (up to 29 over the
        // minute's share); from 6,000/min on, 29 is under the limiter's 1 % headroom.
        queueAhead: config.ratePerMinute >= 6000 ? 32 - config.maxConnections : 0,
        ratePerMinute: config.ratePerMinute,
        pollIntervalMs: config.pollIntervalMs,
        ...o.workerOptions,
      },
      { store, mailers, scheduler, logger, classify: o.classify ?? classifyForRetry, diagnose, metrics, ...(ownership ? { mayClaim: () => ownership.owned().length > 0, notOwnedSenders: () => notOwnedSenders(ownership, senders.list()) } : {}) },
    );
    let relayTls: { info(): RelayCertificateInfo } | undefined;
    const outbox = createOutbox({ store, now, settings: () => settings.settings(), maxAgeMs: config.maxAgeSeconds * 1000, onEnqueued: () => worker?.wake(), onRetried: () => worker?.resume() });
    const deps: AppDeps = {
      store,
      settings,
      senders,
      outbox,
      metrics,
      tokenRequests: () => mailers.tokenRequests() + testTokenRequests,
      transportRoute: () => mailers.route(),
      storeCommits: () => ({ durable: store.writeStats.durableBatches, bookkeeping: store.writeStats.batches - store.writeStats.durableBatches }),
      sendTest: createSendTest({ settings, senders, factory, diagnose, now, store, onTokenRequests: (n) => (testTokenRequests += n) }),
      // The doctor, on the settings in effect now, trusting the same extra CA as delivery.
      // With the relay on, the report ends with the `relay` check (its real ports, the active clients).
      runDiagnostics: o.runDiagnostics ?? (async (input) => {
        const from = settings.settings()?.authorizedFrom;
        const relayInput = relay
          ? { host: config.relayHost, port: relay.port, ...(relay.tlsPort !== undefined ? { tlsPort: relay.tlsPort } : {}), clients: (await listRelayClients(store)).filter((c) => c.revokedAt === undefined).length, ...(from ? { authorizedFrom: from } : {}) }
          : undefined;
        const doctorOptions = { pipelining: config.smtpPipelining === 'on', ...o.doctorOptions, to: input.to, ca, ...(relayInput ? { relay: relayInput } : {}) };
        // One sender (the admin page's per-sender Diagnostics): its effective settings, Send As checked.
        const entry = input.sender !== undefined ? senders.get(input.sender) : undefined;
        const raw = entry ? senders.effectiveRawFor(entry.address) : undefined;
        if (entry && raw) return runSettingsAsSender(raw, { from: entry.address, signInAs: entry.signInAs }, { ...doctorOptions, credential: entry.credential });
        return runDoctor(settings.effectiveRaw(), doctorOptions);
      }),
      adminPassword,
      worker,
      deliveryThreadProblem: () => thread?.problem(),
      deliveryProblem: () => {
        const e = mailers.buildError();
        return e === undefined ? undefined : scrubText(e instanceof Error ? e.message : String(e), settings.secrets());
      },
      now,
      logger,
      maxBodyBytes: config.maxBodyBytes,
      adminLogin: { trustProxy: config.trustProxy, maxFailures: config.loginMaxFailures, windowMs: config.loginWindowSeconds * 1000, globalFailuresPerMinute: config.loginGlobalFailuresPerMinute },
      metricsToken: config.metricsToken,
      dataDir: isLoopbackHost(config.httpHost) ? resolve(config.dataDir) : undefined,
    };
    // Credential expiry (issue 17): every named credential (issue 16: the Email Settings' one is
    // "default") and the relay's certificate; Graph gives the real expiry of a secret when the
    // app may read itself (one read per app registration).
    const credentials = new CredentialExpiryMonitor({
      settings: () => settings.snapshot(),
      credentials: () => senders.credentialSettings(),
      relayCertificate: () => relayTls?.info(),
      readGraph: (s) => readAppCredentials({
        authorityHost: s.authorityHost, tenantId: s.tenantId ?? '', clientId: s.clientId ?? '', scope: s.graphScope,
        clientSecret: s.clientSecret, ca, graphEndpoint: s.graphEndpoint, timeoutMs: 15_000,
      }),
      store,
      outbox,
      alertTo: config.alertTo,
      logger,
      now: o.credentialClock ?? now,
    });
    deps.credentialExpiry = () => credentials.statuses();
    // Credential rotation (issue 17 item 3): the steps for the API and the admin page.
    const rotation = await CredentialRotationService.open({
      settings, senders, store, masterKey: masterKey.key, now,
      testToken: (s) => testCredentialToken(s, { ca }),
      diagnose: (error) => diagnose(error),
    });
    deps.credentialRotation = rotation;
    onFailover = failoverHandler({ rotation, outbox, logger, ...(config.alertTo ? { alertTo: config.alertTo } : {}) }, (name) => (failoverCounts[name] = (failoverCounts[name] ?? 0) + 1));
    deps.credentialFailovers = () => ({ ...failoverCounts });
    const app = createApp(deps, { admin: o.admin ?? createAdminApp });

    const refreshSettings = () => {
      settings.refresh().catch((error: unknown) => logger.error({ err: error }, 'could not reload the stored settings'));
    };
    // With PostgreSQL other instances change settings too: poll at least every second, and
    // LISTEN for the changes (settings, keys, relay clients, admin retries) to apply them at once.
    const refresh = setInterval(refreshSettings, isPgStore(store) ? Math.min(config.settingsRefreshMs, 1000) : config.settingsRefreshMs);
    refresh.unref();
    closers.push(async () => clearInterval(refresh));
    if (isPgStore(store)) {
      const listener = listenForConfigChanges(store.db.options, (what) => {
        if (what === 'settings' || what === 'all') refreshSettings();
        if (what === 'apikeys' || what === 'all') forgetCachedApiKeys(store);
        if (what === 'relay-clients' || what === 'all') forgetCachedRelayClients(store);
        if (what === 'retry') worker?.resume();
        // Messages queued through another instance: claim them now if we deliver for their mailbox.
        if (what === 'queued') worker?.wake();
      }, (error) => logger.warn({ err: error }, 'the PostgreSQL change listener lost its connection; reconnecting'));
      closers.push(() => listener.stop());
    }
    if (ownership) {
      let owned = new Set<string>();
      const renew = async () => {
        const wanted = deliveryMailboxes();
        try {
          await ownership.refresh(wanted);
        } catch (error) {
          logger.warn({ err: error }, 'could not renew the delivery ownership (the database is unreachable?); delivery stops when it expires');
        }
        const now = new Set(ownership.owned());
        for (const m of owned) if (!now.has(m)) logger.info({ mailbox: m, owner: workerOwner }, 'this instance no longer delivers for the mailbox');
        const gained = [...now].filter((m) => !owned.has(m));
        owned = now;
        for (const m of gained) {
          logger.info({ mailbox: m, owner: workerOwner }, 'this instance now delivers for the mailbox');
          // The previous owner's sends of the last minute count against this instance's rate limit.
          const sent = await ownership.sentSince(m, scheduler.now() - 60_000).catch(() => [] as number[]);
          worker?.seedRate(m, sent);
        }
        if (gained.length) worker?.wake();
        // More instances are live than when these were taken: hand the surplus over, each once
        // no send of it is in flight and its connections are closed (pg-ownership.ts).
        for (const m of ownership.surplus()) if (!handing.has(m)) void handOver(m);
      };
      const handing = new Set<string>();
      let stopping = false;
      const handOver = async (m: string) => {
        handing.add(m);
        try {
          logger.info({ mailbox: m, owner: workerOwner }, 'handing the mailbox\'s delivery over to another instance (its fair share of mailboxes went down)');
          worker?.wake(); // its buffered messages go back to the queue
          while (!stopping && worker && worker.sendingFor(m) > 0) await delay(50);
          if (stopping) return;
          await mailers.closeMailbox(m);
          // The QUITs of the closed connections reach Exchange before another instance can connect.
          await delay(HANDOVER_SETTLE_MS);
          if (stopping || !ownership.draining(m)) return;
          await ownership.handOver(m);
          logger.info({ mailbox: m, owner: workerOwner }, 'mailbox handed over: its connections are closed and another instance may take it');
        } catch (error) {
          logger.warn({ err: error }, 'could not hand the mailbox over (retried at the next renewal)');
        } finally {
          handing.delete(m);
        }
      };
      await renew();
      const renewTimer = setInterval(() => void renew(), Math.max(200, Math.round((config.leaseSeconds * 1000) / 3)));
      renewTimer.unref();
      // Runs after the worker stopped (closers run in reverse): another instance takes over at
      // once, but only after this one's connections are closed (the mailbox never sees more than
      // its 3). A send still running after the shutdown grace keeps its connection: then the
      // rows are not given up and expire after the lease instead.
      closers.push(async () => {
        stopping = true;
        clearInterval(renewTimer);
        await mailers.close();
        if ((worker?.activity().inFlight ?? 0) > 0) return;
        if (ownership.owned().length) await delay(HANDOVER_SETTLE_MS);
        await ownership.release().catch(() => undefined);
      });
    }
    settings.onChange((v) => {
      logger.info({ version: v.version, valid: v.valid }, 'Email Settings changed');
      worker?.wake();
      void credentials.tick();
    });
    const credentialTimer = setInterval(() => void credentials.tick(), TICK_INTERVAL_MS);
    credentialTimer.unref();
    closers.push(async () => clearInterval(credentialTimer));
    senders.onChange(() => worker?.wake());

    // Loads while the store and settings are set up; ready only once sending need not wait.
    await threadReady;
    let server: Server | undefined;
    let url = '';
    if (o.listen !== false) {
      server = await listen(app, config.httpHost, config.httpPort, logger);
      const addr = server.address() as AddressInfo;
      url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
    }
    let relay: (RunningRelay & { certificate: RelayCertificateInfo }) | undefined;
    if (config.relayPort !== undefined) {
      let tls;
      try {
        tls = await loadRelayTls({
          certFile: config.relayTlsCert,
          keyFile: config.relayTlsKey,
          dataDir: config.dataDir,
          onReload: (info) => logger.info({ fingerprint256: info.fingerprint256, expiresAt: new Date(info.expiresAt).toISOString() }, 'SMTP relay certificate reloaded'),
          onReloadError: (error) => logger.error({ err: error }, 'the changed SMTP relay certificate cannot be used; the previous one stays in use'),
        });
      } catch (error) {
        server?.close();
        throw new ServiceStartError((error as Error).message, [], { cause: error });
      }
      let running: RunningRelay;
      try {
        running = await startRelay(
          {
            host: config.relayHost,
            port: config.relayPort,
            tlsPort: config.relayTlsPort,
            hostname: hostname(),
            maxConnections: config.relayMaxConnections,
            maxConnectionsPerAddress: config.relayMaxConnectionsPerAddress,
            authMaxFailures: config.relayAuthMaxFailures,
            authWindowMs: config.relayAuthWindowSeconds * 1000,
            ...o.relayTimeouts,
          },
          // Every configured sender; a client's allowFrom narrows it (relay-clients.ts).
          { store, outbox, sendable: () => { const d = senders.defaultSender(); return [...(d ? [d.address] : []), ...senders.list().filter((x) => !x.isDefault).map((x) => x.address)]; }, senderFor: (a) => { const x = senders.get(a); return x ? { address: x.address, signInAs: x.signInAs } : undefined; }, tls, logger, now, onEvent: (e) => {
            observeRelayEvent(metrics.relay, e);
            o.onRelayEvent?.(e);
          } },
        );
      } catch (error) {
        server?.close();
        throw new ServiceStartError((error as Error).message, [], { cause: error });
      }
      const certificate = tls.info();
      relayTls = tls;
      relay = { ...running, certificate, connections: () => running.connections(), stop: () => running.stop() };
      logger.info(
        { relayHost: config.relayHost, relayPort: running.port, relayTlsPort: running.tlsPort, certificate: certificate.source === 'generated' ? `${certificate.certFile} (self-signed${tls.generated ? ', generated now' : ''})` : certificate.certFile, fingerprint256: certificate.fingerprint256, expiresAt: new Date(certificate.expiresAt).toISOString() },
        'SMTP relay listening',
      );
    }
    worker?.start();
    // The first check before the service is reported started: the banner and metric are right at once.
    await credentials.tick();

    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (async () => {
        await relay?.stop();
        if (server) {
          const s = server;
          await new Promise<void>((r) => {
            s.close(() => r());
            s.closeIdleConnections();
            // Requests still open after the grace period are cut.
            setTimeout(() => s.closeAllConnections(), config.shutdownGraceSeconds * 1000).unref();
          });
        }
        await worker?.stop(config.shutdownGraceSeconds * 1000);
        await closeAll();
      })();
      return stopping;
    };
    return { url, app, deps, config, store, settings, worker, adminPassword, relay, credentials, warnings, stop };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** After closing a mailbox's connections, how long an instance waits before handing it over. */
const HANDOVER_SETTLE_MS = 500;

/**
 * The senders (worker keys: lower-case From address, '' for a message without a sender, which
 * the default sender delivers) whose signed-in mailbox this instance does not own now: the
 * worker leaves their messages to the owning instance. A sender is delivered by exactly the
 * instance owning its signed-in mailbox, so Exchange's per-mailbox limits hold across instances.
 */
function notOwnedSenders(ownership: MailboxOwnership, list: readonly { address: string; signInAs: string; isDefault: boolean }[]): string[] {
  const out: string[] = [];
  for (const x of list) {
    if (ownership.owns(x.signInAs)) continue;
    out.push(x.address.toLowerCase());
    if (x.isDefault) out.push('');
  }
  return out;
}

/**
 * MAILGATE_CONFIG (issue 16): the file of credentials and senders, checked before anything
 * starts (every problem at once, each naming its path), and never together with the
 * single-sender variables. Its first sender is the default sender: the Email Settings see it
 * as environment values (read-only on the page, as environment values are).
 */
export async function loadConfigFile(env: Record<string, string | undefined>): Promise<{ file?: SendersConfig; settingsEnv: Record<string, string | undefined> }> {
  const path = env.MAILGATE_CONFIG?.trim();
  if (!path) return { settingsEnv: env };
  const conflicts = singleSenderEnvConflicts(env);
  if (conflicts.length) throw new ServiceStartError(`MAILGATE_CONFIG cannot be used with the single-sender variables:\n  ${conflicts.map((p) => p.message).join('\n  ')}`, conflicts);
  const r = await checkConfigFile(path, env);
  if (!r.ok) throw new ServiceStartError(`MAILGATE_CONFIG ${path} has problems:\n  ${r.problems.map((p) => p.message).join('\n  ')}`, r.problems);
  const first = r.config.senders[0];
  const i = r.config.credentials.findIndex((c) => c.name.toLowerCase() === first.credential.toLowerCase());
  const resolved = await resolveCredential(r.config.credentials[i], env, `credentials[${i}]`);
  if (!resolved.credential) throw new ServiceStartError(`MAILGATE_CONFIG ${path} has problems:\n  ${resolved.problems.map((p) => p.message).join('\n  ')}`, resolved.problems);
  return { file: r.config, settingsEnv: { ...env, ...fileDefaultEnv(resolved.credential, first, env) } };
}
