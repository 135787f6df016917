/**
 * `startDev(options)`: `mailgate serve` plus the built-in Microsoft 365 emulator's demo tenant,
 * pre-configured, so a newcomer sees a message go through end to end with no tenant.
 *
 * What it does: starts the emulator in-process (random ports, a fresh demo tenant and secret
 * on every start), starts the service on `./data/dev` (or a temp dir), stores the emulator's
 * values as the Email Settings (so the admin page can show and edit them), trusts the
 * emulator's CA explicitly through the mailer's `ca` option (not NODE_EXTRA_CA_CERTS), keeps an
 * admin password and an admin-scope API key named `dev` across restarts of the data dir
 * (./dev-credentials.ts), and returns everything the CLI prints. Email Settings variables from the environment are ignored here: dev always
 * talks to the emulator.
 *
 * Imports: ../emulator (only here and in tests), ./service, ./dev-credentials, ../service/data-dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SETTINGS_FIELDS } from '../core/settings.js';
import { emulatorExchangeFacts } from '../doctor/exchange-facts.js';
import { startEmulator, type Emulator, type LimitsOption } from '../emulator/index.js';
import type { Logger } from '../log/logger.js';
import { DEV_DATA_DIR } from '../service/data-dir.js';
import { createRelayClient, listRelayClients, revokeRelayClient, type CreatedRelayClient } from '../service/access/relay-clients.js';
import { devCredentials, type DevCredentials } from './dev-credentials.js';
import { startService, type RunningService, type StartServiceOptions } from './service.js';

export interface DevOptions {
  /** Use a temporary data dir (removed on stop) instead of ./data/dev. */
  temp?: boolean;
  dataDir?: string;
  host?: string;
  port?: number;
  env?: Record<string, string | undefined>;
  logger?: Logger;
  /** Emulator limits (default: Exchange's). */
  emulatorLimits?: LimitsOption;
  admin?: StartServiceOptions['admin'];
  runDiagnostics?: StartServiceOptions['runDiagnostics'];
}

export interface RunningDev {
  service: RunningService;
  emulator: Emulator;
  dataDir: string;
  /** Admin-scope API key named `dev` (kept across restarts of the data dir, see dev-credentials.ts). */
  apiKey: string;
  /** The admin password ('' when it comes from MAILGATE_ADMIN_PASSWORD or the user changed it). */
  adminPassword: string;
  adminPasswordFromEnv: boolean;
  credentials: DevCredentials;
  /** The SMTP relay's dev client (a new password on every start: only its verifier is stored). */
  relayClient?: CreatedRelayClient;
  stop(): Promise<void>;
}

/** The dev relay port: 2525, or any free port when 2525 is taken. */
export const DEV_RELAY_PORT = 2525;
function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

export async function startDev(o: DevOptions = {}): Promise<RunningDev> {
  const baseEnv = o.env ?? process.env;
  const emailVars = new Set(SETTINGS_FIELDS.map((f) => f.env));
  const env = Object.fromEntries(Object.entries(baseEnv).filter(([k]) => !emailVars.has(k)));
  const dataDir = o.temp ? mkdtempSync(join(tmpdir(), 'mailgate-dev-')) : resolve(o.dataDir ?? DEV_DATA_DIR);
  const emulator = await startEmulator(undefined, { limits: o.emulatorLimits });
  let service: RunningService | undefined;
  try {
    const relayHost = env.MAILGATE_RELAY_HOST || '127.0.0.1';
    // dev turns the SMTP relay on (issue 14): 2525, or a free port when that one is taken.
    const relayPort = env.MAILGATE_RELAY_PORT ? Number(env.MAILGATE_RELAY_PORT) : (await portFree(DEV_RELAY_PORT, relayHost)) ? DEV_RELAY_PORT : 0;
    const startWith = (port: number) => startService({
      env,
      config: { dataDir, httpHost: o.host ?? env.MAILGATE_HTTP_HOST ?? '127.0.0.1', httpPort: o.port ?? (env.MAILGATE_HTTP_PORT ? Number(env.MAILGATE_HTTP_PORT) : 8025), relayPort: port, relayHost },
      ca: emulator.caPem,
      // The web Diagnostics page can then name the one missing Exchange-side step (the emulator
      // stands in for Get-ServicePrincipal / Get-MailboxPermission; see doctor/exchange-facts.ts).
      doctorOptions: { exchangeFacts: emulatorExchangeFacts(emulator.admin, { ca: emulator.caPem }) },
      logger: o.logger,
      admin: o.admin,
      runDiagnostics: o.runDiagnostics,
    });
    try {
      service = await startWith(relayPort);
    } catch (error) {
      // 2525 was taken between the probe and the start (another dev): any free port then.
      if (relayPort !== DEV_RELAY_PORT || !/MAILGATE_RELAY_PORT/.test((error as Error).message)) throw error;
      service = await startWith(0);
    }
    const demo = emulator.demo!;
    const saved = await service.settings.update({
      useModernAuth: true,
      cloud: 'global',
      smtpHost: emulator.smtp.host,
      smtpPort: emulator.smtp.port,
      authorityHost: emulator.authorityHost,
      tenantId: demo.tenantId,
      clientId: demo.clientId,
      clientSecret: demo.clientSecret,
      authorizedFrom: demo.authorizedFrom,
      // Values of an earlier configuration that would not fit the emulator.
      scope: null,
      clientCertificatePath: null,
      clientCertificatePem: null,
      smtpUsername: null,
      smtpPassword: null,
    }, 'mailgate dev');
    if (!saved.ok) throw new Error(`mailgate dev could not store the emulator settings: ${saved.problems.map((p) => p.message).join('; ')}`);

    const creds = await devCredentials(service.store, {
      dataDir,
      persist: !o.temp,
      envPassword: env.MAILGATE_ADMIN_PASSWORD || undefined,
      generatedPassword: service.adminPassword.generated,
      now: Date.now(),
    });

    // A relay client `dev` with a fresh password each start (the old one cannot be shown again).
    const now = Date.now();
    if ((await listRelayClients(service.store)).some((c) => c.name === 'dev' && c.revokedAt === undefined)) await revokeRelayClient(service.store, 'dev', { now, actor: 'mailgate dev' });
    const relayClient = await createRelayClient(service.store, { name: 'dev' }, { now, actor: 'mailgate dev' });

    const svc = service;
    return {
      relayClient,
      service: svc,
      emulator,
      dataDir,
      apiKey: creds.apiKey,
      adminPassword: creds.adminPassword ?? '',
      adminPasswordFromEnv: creds.adminPasswordSource === 'env',
      credentials: creds,
      async stop() {
        await svc.stop();
        await emulator.stop();
        if (o.temp) rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await service?.stop().catch(() => undefined);
    await emulator.stop().catch(() => undefined);
    if (o.temp) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

function passwordText(c: DevCredentials): string {
  if (c.adminPasswordSource === 'env') return '(from MAILGATE_ADMIN_PASSWORD)';
  if (c.adminPasswordSource === 'user') return '(the one you set; unchanged, not shown)';
  return c.adminPassword ?? '';
}

/** The text `mailgate dev` prints once everything runs. */
export function devBanner(d: RunningDev, adminMounted: boolean): string {
  const url = d.service.url;
  const lines = [
    'Mailgate dev is running against the built-in Microsoft 365 emulator (no tenant needed).',
    '',
    `  API:             ${url}/api/v1/messages`,
    ...(adminMounted ? [`  Admin page:      ${url}/admin`] : []),
    `  Health, metrics: ${url}/healthz  ${url}/readyz  ${url}/metrics`,
    `  Emulator:        SMTP ${d.emulator.smtp.host}:${d.emulator.smtp.port}, Entra ID ${d.emulator.authorityHost}, admin ${d.emulator.admin}`,
    `  Sending as:      ${d.emulator.demo?.authorizedFrom ?? ''}`,
    ...(d.emulator.demo?.sharedMailbox
      ? [`  Shared mailbox:  ${d.emulator.demo.sharedMailbox} (Send As granted to ${d.emulator.demo.authorizedFrom}; a message with this From is sent by Send As)`]
      : []),
    `  Data dir:        ${d.dataDir}`,
    `  Admin password:  ${passwordText(d.credentials)}`,
    `  API key (admin): ${d.apiKey}`,
    d.credentials.file
      ? `  ${d.credentials.kept ? 'The same as at the last start: they' : 'They'} are kept across restarts in ${d.credentials.file} (mode 0600, dev only); delete it for new ones.`
      : '  New on every start (--temp keeps nothing).',
    '',
    'Send a message:',
    `  curl -sS -X POST ${url}/api/v1/messages \\`,
    `    -H 'Authorization: Bearer ${d.apiKey}' -H 'Content-Type: application/json' \\`,
    `    -d '{"to":"someone@example.com","subject":"Hello from Mailgate","text":"It works."}'`,
    'Then look at it (use the id from the answer):',
    `  curl -sS -H 'Authorization: Bearer ${d.apiKey}' ${url}/api/v1/messages/<id>`,
    ...relayLines(d),
    '',
    // The README's "Try a broken tenant" speaks of `mailgate emulator` on its fixed ports; dev's
    // emulator has random ones, so the banner gives the commands with its own admin URL.
    `Break the demo tenant, then run Diagnostics${adminMounted ? ` (${url}/admin/diagnostics)` : ''} to see the fix:`,
    `  curl -sk -X PUT ${d.emulator.admin}/scenario/no-service-principal`,
    `  Back to healthy: curl -sk -X PUT ${d.emulator.admin}/scenario/healthy   (every scenario: npx mailgate emulator --list-scenarios)`,
    '',
    'Press Ctrl-C to stop.',
  ];
  return `${lines.join('\n')}\n`;
}

/** The SMTP relay part of the banner: where it listens and a ready-to-paste swaks command. */
function relayLines(d: RunningDev): string[] {
  const relay = d.service.relay;
  const c = d.relayClient;
  if (!relay || !c) return [];
  const host = d.service.config.relayHost;
  return [
    '',
    `SMTP relay (STARTTLS) on ${host}:${relay.port}, user ${c.username}, password ${c.password} (relay client "dev", new each start).`,
    `  Certificate: self-signed, SHA-256 ${relay.certificate.fingerprint256}`,
    'Send through the relay, as a printer or an app would:',
    `  swaks --server ${host} --port ${relay.port} --tls --auth PLAIN \\`,
    `    --auth-user '${c.username}' --auth-password '${c.password}' \\`,
    `    --from '${d.emulator.demo?.authorizedFrom ?? ''}' --to someone@example.com --header 'Subject: Hello from the relay'`,
  ];
}
