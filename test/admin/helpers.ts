/**
 * Helpers for the admin page tests: a service with the admin app mounted (in-process, a real
 * SQLite store in a temp dir, a fake mailer), and a tiny browser stand-in for `app.request()`
 * that keeps the session cookie and reads the CSRF token from the last page.
 */
import { createAdminApp, type AdminOptions } from '../../src/admin/index.js';
import { createLogger } from '../../src/log/logger.js';
import { startService, type RunningService, type StartServiceOptions } from '../../src/app/service.js';
import { FakeMailer, LineCapture, tempDir } from '../service/helpers.js';

export const ADMIN_PASSWORD = 'correct horse battery staple';
export const MASTER_KEY = Buffer.alloc(32, 5).toString('base64');
export const SECRET = 'Qx9~stored-Client-Secret-value_0123456789';
export const SMTP_PASSWORD = 'Basic-Auth-Mailbox-Password!42';
export const VALID = {
  useModernAuth: 'true',
  clientId: '11111111-2222-3333-4444-555555555555',
  tenantId: '66666666-7777-8888-9999-000000000000',
  authorizedFrom: 'sender@contoso.com',
};

export interface AdminCtx {
  svc: RunningService;
  mailer: FakeMailer;
  logs: LineCapture;
  dir: string;
  stop(): Promise<void>;
}

export async function startAdmin(o: { env?: Record<string, string>; admin?: AdminOptions; service?: StartServiceOptions } = {}): Promise<AdminCtx> {
  const t = tempDir('mailgate-admin-');
  const logs = new LineCapture();
  const mailer = new FakeMailer();
  const svc = await startService({
    env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_ADMIN_PASSWORD: ADMIN_PASSWORD, ...o.env },
    listen: false,
    worker: false,
    logger: createLogger({ destination: logs, level: 'debug' }),
    createMailer: () => Object.assign(mailer, { stats: { peakConnections: 0, connectionsOpened: 0, openConnections: 0 } }),
    admin: (deps) => createAdminApp(deps, { clientAddress: () => '192.0.2.10', ...o.admin }),
    ...o.service,
  });
  return {
    svc,
    mailer,
    logs,
    dir: t.dir,
    async stop() {
      await svc.stop();
      t.remove();
    },
  };
}

export interface Page {
  status: number;
  text: string;
  location: string | null;
  headers: Headers;
}

/** Keeps cookies like a browser (one jar, no expiry handling) and knows the last CSRF token. */
export class AdminClient {
  cookies = new Map<string, string>();
  csrf = '';
  readonly #fetch: (path: string, init: RequestInit) => Promise<Response>;

  constructor(fetchLike: (path: string, init: RequestInit) => Promise<Response>) {
    this.#fetch = fetchLike;
  }

  #cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async #do(path: string, init: RequestInit): Promise<Page> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', this.#cookieHeader());
    const r = await this.#fetch(path, { ...init, headers, redirect: 'manual' });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      if (value === '' || /max-age=0/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await r.text();
    const m = /name="_csrf" value="([^"]*)"/.exec(text);
    if (m) this.csrf = m[1]!;
    return { status: r.status, text, location: r.headers.get('location'), headers: r.headers };
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Page> {
    return this.#do(path, { method: 'GET', headers });
  }

  /** Posts a urlencoded form; the CSRF token is added unless `csrf: false` or a token is given. */
  post(path: string, form: Record<string, string | string[]>, o: { csrf?: boolean | string; headers?: Record<string, string> } = {}): Promise<Page> {
    const body = new URLSearchParams();
    if (o.csrf !== false) body.append('_csrf', typeof o.csrf === 'string' ? o.csrf : this.csrf);
    for (const [k, v] of Object.entries(form)) for (const x of Array.isArray(v) ? v : [v]) body.append(k, x);
    return this.#do(path, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...o.headers } });
  }

  async login(password = ADMIN_PASSWORD): Promise<Page> {
    await this.get('/admin/login');
    const r = await this.post('/admin/login', { password, next: '/admin/settings' });
    if (r.status === 303) await this.get(r.location!);
    return r;
  }
}

export function appClient(ctx: AdminCtx): AdminClient {
  return new AdminClient((path, init) => Promise.resolve(ctx.svc.app.request(path, init)));
}
