/**
 * Starting and stopping the Mailgate service for a benchmark run: a fresh data directory and
 * process each time, Email Settings from MAILGATE_* pointing at the sink and its token
 * endpoint, an API key created with `mailgate apikey create`, readiness polled on /readyz.
 * The worker is paused for the enqueue-capacity scenario with MAILGATE_WORKER=off; the graph
 * scenario starts it with MAILGATE_TRANSPORT=graph and the sink's Graph endpoint.
 * With `relay`, the SMTP relay listens too (MAILGATE_RELAY_PORT=0, the benchmark certificate)
 * and one relay client is created with `mailgate relay-client create --json`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { endChild, onCleanup, spawnTracked } from '../lib/children.js';
import { nowMs, sleep } from '../lib/clock.js';
import { SENDER } from '../lib/message.js';
import { MAILGATE_CLI, SCRATCH } from '../lib/paths.js';

export interface StartOptions {
  /** Directory for a --cpu-prof profile of the service. */
  cpuProf?: string;
  /** Keep the delivery worker from sending (enqueue capacity). */
  paused?: boolean;
  ratePerMinute?: number;
  /** Extra NODE_OPTIONS for the service (e.g. a heap cap, to tell retained memory from lazy GC). */
  nodeOptions?: string;
  /** Turn the SMTP relay on with this certificate and create one relay client. */
  relay?: { certPath: string; keyPath: string };
  /** The Transport setting (default smtp): graph sends to the sink's Graph sendMail endpoint. */
  transport?: 'smtp' | 'graph';
  /** Extra environment for the service (e.g. MAILGATE_SMTP_PIPELINING=off in the WAN scenario). */
  env?: Record<string, string>;
  /** Name of the API key created (default `bench`); instances sharing one PostgreSQL database need distinct ones. */
  apiKeyName?: string;
  /** Run on the fresh data directory (database created, API key made) before the service starts. */
  prepare?: (dataDir: string) => void;
}

export interface RunningRelay {
  port: number;
  username: string;
  password: string;
}

export interface RunningService {
  pid: number;
  baseUrl: string;
  apiKey: string;
  spawnedAt: number;
  readyAt: number;
  /** How the worker was paused, when asked to be. */
  pausedBy?: string;
  /** The relay's port and the relay client's credentials (with `relay`). */
  relay?: RunningRelay;
  stop(): Promise<void>;
}

export interface MailgateLauncher {
  start(options: StartOptions): Promise<RunningService>;
}

export interface LauncherConfig {
  smtpPort: number;
  tokenPort: number;
  /** The sink's Graph sendMail endpoint (HTTPS). */
  graphPort: number;
  caPath: string;
  /** Default rate limit for throughput runs: high enough never to bind. */
  ratePerMinute: number;
  /** Sub-directory of bench/scratch for this launcher's data directories (default `mailgate`). */
  name?: string;
}

/** Whether this checkout has a real `mailgate serve` (the service issue), or a note why not. */
export function mailgateAvailability(): { ok: boolean; note?: string } {
  if (!existsSync(MAILGATE_CLI)) return { ok: false, note: `${MAILGATE_CLI} is missing (npm run build)` };
  try {
    const help = execFileSync(process.execPath, [MAILGATE_CLI, 'serve', '--help'], { encoding: 'utf8', timeout: 20_000 });
    if (help.includes('(not built yet)')) return { ok: false, note: '`mailgate serve` is not built yet (placeholder in src/cli/commands/serve.ts)' };
  } catch (e) {
    return { ok: false, note: `mailgate serve --help failed: ${(e as Error).message.split('\n')[0]}` };
  }
  return { ok: true };
}

/** One line of the service's stdout: `mailgate: listening on <url>` once it is ready. */
const LISTENING = /mailgate: listening on (http:\/\/\S+)/;
/** The relay's line, printed before it (src/cli/commands/serve.ts). */
const RELAY_LINE = /mailgate: SMTP relay on [^\s:]+:(\d+) /;

export function createLauncher(cfg: LauncherConfig): MailgateLauncher {
  let n = 0;
  // The data directories of this run (and any left by an interrupted one) live here; one
  // benchmark runs at a time (the Postfix instances are shared the same way).
  const root = join(SCRATCH, cfg.name ?? 'mailgate');
  rmSync(root, { recursive: true, force: true });
  onCleanup(() => rmSync(root, { recursive: true, force: true }));
  const masterKey = randomBytes(32).toString('base64');
  return {
    async start(options) {
      const dataDir = join(root, `run-${++n}`);
      rmSync(dataDir, { recursive: true, force: true });
      mkdirSync(dataDir, { recursive: true });
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        // Service settings (src/service/config.ts)
        MAILGATE_DATA_DIR: dataDir,
        // The sink's certificate is trusted the way Node trusts any extra root, not with
        // MAILGATE_CA_FILE: with it, every new TLS connection rebuilds a secure context from
        // all ~140 root certificates (≈30–50 ms of CPU each, see README); production against
        // Microsoft 365 uses the default trust store and does not pay that.
        NODE_EXTRA_CA_CERTS: cfg.caPath,
        MAILGATE_HTTP_HOST: '127.0.0.1',
        MAILGATE_HTTP_PORT: '0',
        MAILGATE_MAX_CONNECTIONS: '3',
        MAILGATE_RATE_PER_MINUTE: String(options.ratePerMinute ?? cfg.ratePerMinute),
        MAILGATE_WORKER: options.paused ? 'off' : 'on',
        MAILGATE_MASTER_KEY: masterKey,
        MAILGATE_ADMIN_PASSWORD: 'bench-admin-password-0123456789',
        MAILGATE_LOG_LEVEL: 'warn',
        // Email Settings (src/core/settings.ts): the sink and its token endpoint
        MAILGATE_SMTP_HOST: '127.0.0.1',
        MAILGATE_SMTP_PORT: String(cfg.smtpPort),
        MAILGATE_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
        MAILGATE_TENANT_ID: '66666666-7777-8888-9999-000000000000',
        MAILGATE_CLIENT_SECRET: 'bench-client-secret-value',
        MAILGATE_AUTHORIZED_FROM: SENDER,
        MAILGATE_AUTHORITY_HOST: `https://127.0.0.1:${cfg.tokenPort}`,
        // Transport (issue 15): Graph requests go to the sink; the token's scope stays Graph's.
        MAILGATE_TRANSPORT: options.transport ?? 'smtp',
        ...(options.transport === 'graph' ? { MAILGATE_GRAPH_ENDPOINT: `https://127.0.0.1:${cfg.graphPort}` } : {}),
      };
      let relayClient: { username: string; password: string } | undefined;
      if (options.relay) {
        Object.assign(env, { MAILGATE_RELAY_HOST: '127.0.0.1', MAILGATE_RELAY_PORT: '0', MAILGATE_RELAY_TLS_CERT: options.relay.certPath, MAILGATE_RELAY_TLS_KEY: options.relay.keyPath });
        const out = execFileSync(process.execPath, [MAILGATE_CLI, 'relay-client', 'create', 'bench-device', '--allow-from', SENDER, '--json'], { env, encoding: 'utf8', timeout: 30_000 });
        relayClient = JSON.parse(out.trim().split('\n').at(-1)!) as { username: string; password: string };
      }
      Object.assign(env, options.env);
      if (options.nodeOptions) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} ${options.nodeOptions}`.trim();
      const pausedBy = options.paused ? 'MAILGATE_WORKER=off (no delivery worker in the process)' : undefined;
      const created = execFileSync(process.execPath, [MAILGATE_CLI, 'apikey', 'create', options.apiKeyName ?? 'bench', '--scope', 'send', '--json'], { env, encoding: 'utf8', timeout: 30_000 });
      const apiKey = (JSON.parse(created.trim().split('\n').at(-1)!) as { key: string }).key;
      options.prepare?.(dataDir);
      const execArgv = options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProf}`] : [];
      const spawnedAt = nowMs();
      const child = spawnTracked(process.execPath, [...execArgv, MAILGATE_CLI, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stderr?.on('data', (c: Buffer) => {
        if (stderr.length < 20_000) stderr += c.toString();
      });
      const listening = new Promise<string>((resolve, reject) => {
        child.stdout?.on('data', (c: Buffer) => {
          stdout += c.toString();
          const m = LISTENING.exec(stdout);
          if (m) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`mailgate serve exited (${code}): ${stderr.slice(0, 2000)}`)));
      });
      let baseUrl: string;
      try {
        baseUrl = await Promise.race([listening, sleep(30_000).then(() => Promise.reject(new Error('mailgate serve did not print its URL within 30 s')))]);
      } catch (e) {
        await endChild(child);
        throw new Error(`${(e as Error).message}\n${stderr.slice(0, 2000)}`);
      }
      // Ready = listening and /readyz says the store and the Email Settings are usable.
      let readyAt = 0;
      let last = '';
      for (let i = 0; i < 3000 && !readyAt; i++) {
        try {
          const r = await fetch(`${baseUrl}/readyz`);
          last = `${r.status} ${(await r.text()).slice(0, 500)}`;
          if (r.status === 200) readyAt = nowMs();
        } catch (e) {
          last = (e as Error).message;
        }
        if (!readyAt) await sleep(10);
      }
      if (!readyAt) {
        await endChild(child);
        throw new Error(`mailgate serve did not become ready: ${last}; ${stderr.slice(0, 2000)}`);
      }
      let relay: RunningRelay | undefined;
      if (relayClient) {
        const m = RELAY_LINE.exec(stdout);
        if (!m) {
          await endChild(child);
          throw new Error(`mailgate serve did not print the SMTP relay's port: ${stdout.slice(0, 1000)}`);
        }
        relay = { port: Number(m[1]), username: relayClient.username, password: relayClient.password };
      }
      return {
        pid: child.pid ?? -1,
        baseUrl,
        apiKey,
        spawnedAt,
        readyAt,
        pausedBy,
        relay,
        async stop() {
          // SIGTERM: the service drains and closes the database (and writes a --cpu-prof profile).
          await endChild(child, 20_000);
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
  };
}
