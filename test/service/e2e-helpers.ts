/**
 * End-to-end helpers: the real Microsoft 365 emulator plus the real service (real mailer,
 * real SQLite, real HTTP socket) in-process, configured through the settings API.
 */
import { classifyForRetry } from '../../src/core/retry-policy.js';
import { buildTenantState, startEmulator, type Emulator, type LimitsOption, type TenantStateOptions } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService, type RunningService } from '../../src/app/service.js';
import type { WorkerOptions } from '../../src/service/delivery/worker.js';
import { LineCapture, tempDir, waitFor } from './helpers.js';

export const MASTER_KEY = Buffer.alloc(32, 9).toString('base64');

export interface Tenant {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorizedFrom: string;
  servicePrincipalObjectId: string;
}

export interface Pair {
  emulator: Emulator;
  svc: RunningService;
  tenant: Tenant;
  key: string;
  dir: string;
  logs: LineCapture;
  /** Every token provider the service built (to read the issued tokens in the leak test). */
  /** Every access token the emulator issued (the service's tokens live in its delivery thread). */
  issuedTokens: string[];
  /** Every response body received through `api()`. */
  responses: string[];
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }>;
  submit(n: number, concurrency?: number, subject?: (i: number) => string): Promise<{ id: string; messageId: string }[]>;
  waitForStatus(ids: string[], status: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The retry policy with its minimum delays shortened, so transient faults retry within the test. */
export const fastClassify = (e: unknown) => {
  const d = classifyForRetry(e);
  return d.minDelayMs === undefined ? d : { ...d, minDelayMs: Math.min(d.minDelayMs, 20) };
};

export async function startPair(o: { tenant?: TenantStateOptions; limits?: LimitsOption; workerOptions?: Partial<WorkerOptions>; env?: Record<string, string> | ((emulator: Emulator) => Record<string, string>) } = {}): Promise<Pair> {
  let emulator: Emulator;
  let tenant: Tenant;
  const issuedTokens: string[] = [];
  const onTokenIssued = (t: string) => issuedTokens.push(t);
  if (o.tenant) {
    const built = buildTenantState(o.tenant);
    emulator = await startEmulator(built.state, { limits: o.limits ?? { messagesPerMinute: Infinity }, onTokenIssued });
    tenant = { tenantId: built.tenantId, clientId: built.clientId, clientSecret: built.clientSecret!, authorizedFrom: built.authorizedFrom, servicePrincipalObjectId: built.servicePrincipalObjectId };
  } else {
    emulator = await startEmulator(undefined, { limits: o.limits ?? { messagesPerMinute: Infinity }, onTokenIssued });
    tenant = emulator.demo!;
  }
  const t = tempDir('mailgate-e2e-');
  const logs = new LineCapture();
  const svc = await startService({
    env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_RATE_PER_MINUTE: '1000000', MAILGATE_POLL_INTERVAL_MS: '50', MAILGATE_HTTP_PORT: '0', ...(typeof o.env === 'function' ? o.env(emulator) : o.env) },
    ca: emulator.caPem,
    logger: createLogger({ destination: logs, level: 'debug' }),
    mailerDeps: { tokenRetry: { maxAttempts: 1 } },
    classify: fastClassify,
    workerOptions: { backoff: { baseMs: 20, maxMs: 200 }, ...o.workerOptions },
  });
  const key = (await createApiKey(svc.store, 'e2e', 'admin', { now: Date.now(), actor: 'test' })).key;
  const responses: string[] = [];
  const api: Pair['api'] = async (method, path, body) => {
    const r = await fetch(`${svc.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    responses.push(text);
    return { status: r.status, json: text ? JSON.parse(text) : undefined, text };
  };
  const saved = await api('PUT', '/api/v1/settings/email', {
    smtpHost: emulator.smtp.host,
    smtpPort: emulator.smtp.port,
    authorityHost: emulator.authorityHost,
    tenantId: tenant.tenantId,
    clientId: tenant.clientId,
    clientSecret: tenant.clientSecret,
    authorizedFrom: tenant.authorizedFrom,
  });
  if (saved.status !== 200) throw new Error(`settings not saved: ${saved.text}`);

  const pair: Pair = {
    emulator, svc, tenant, key, dir: t.dir, logs, issuedTokens, responses, api,
    async submit(n, concurrency = 16, subject = (i) => `e2e ${i}`) {
      const out: { id: string; messageId: string }[] = new Array(n);
      let next = 0;
      await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
        while (next < n) {
          const i = next++;
          const r = await api('POST', '/api/v1/messages', { to: `user${i}@example.com`, subject: subject(i), text: `Message ${i}` });
          if (r.status !== 202) throw new Error(`POST answered ${r.status}: ${r.text}`);
          out[i] = { id: r.json.id, messageId: r.json.messageId };
        }
      }));
      return out;
    },
    async waitForStatus(ids, status, timeoutMs = 20_000) {
      await waitFor(async () => {
        for (const id of ids) if ((await svc.store.get(id))?.status !== status) return false;
        return true;
      }, timeoutMs, `${ids.length} message(s) ${status}`);
    },
    async stop() {
      await svc.stop();
      await emulator.stop();
      t.remove();
    },
  };
  return pair;
}
