/**
 * Who may use the admin page: the guard that runs before every page (session, CSRF on every
 * POST, sign-in required), the login page with per-address rate limiting, and logout.
 *
 * Rules:
 * - Every POST must carry the session's CSRF token in `_csrf`, or it is refused with 403 —
 *   the login form too (its token belongs to a short-lived anonymous session).
 * - Every page except the login page needs a signed-in session; a GET is redirected to the
 *   login page (and back after signing in), anything else is redirected too.
 * - Signing in replaces the session (new id, new CSRF token); the cookie is HttpOnly,
 *   SameSite=Strict, limited to the admin path, and Secure over TLS.
 * - After 5 wrong passwords from one client (an IPv4 address or an IPv6 /64; behind a trusted
 *   proxy, the forwarded address) within 15 minutes, that client is refused until the window
 *   has passed, and after 100 wrong passwords from anywhere within a minute everyone is, with
 *   a message saying how long (429 + Retry-After); the password is not even checked then. The
 *   limits come from MAILGATE_LOGIN_* (./login-limiter.ts, ./client-address.ts).
 * - The login error is shown once, in the summary at the top; the field is marked invalid.
 *
 * Imports: hono, ./context, ./session, ./layout, ./html, ./form-controls, ./form-body,
 * ./client-address.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import type { Admin, AdminContext, AdminEnv } from './context.js';
import { errorSummary, textControl } from './form-controls.js';
import { html } from './html.js';
import { csrfField, redirect, renderPage } from './layout.js';
import { clearSessionCookie, csrfMatches, readSessionCookie, writeSessionCookie } from './session.js';
import { lastString, type FormBody } from './form-body.js';
import { limiterKey } from './client-address.js';

const PUBLIC_PATHS = new Set(['/login']);

/** A path inside the admin app to return to after signing in, or the default. */
export function safeNext(a: Admin, next: string | undefined): string {
  if (next && next.startsWith(`${a.base}/`) && !next.startsWith('//') && /^[A-Za-z0-9/_.?=&%-]{1,300}$/.test(next) && !next.includes('/login')) return next;
  return a.url('/settings');
}

function csrfRefused(a: Admin, c: AdminContext): Response {
  const body = html`<p>This form was not accepted: it was not sent from a current page of this site, or the page expired (for example after signing out, or after a long time without activity).</p>
<p><a href="${a.url('/settings')}">Open the page again</a> and repeat what you did.</p>`;
  return renderPage(a, c, { title: 'Form expired', body, status: 403 });
}

/** Loads the session, checks the CSRF token of every POST, and requires sign-in. */
export function guard(a: Admin): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    const session = await a.sessions.get(readSessionCookie(c));
    c.set('session', session);
    try {
      if (c.req.method === 'POST') {
        const type = c.req.header('content-type') ?? '';
        const form = /^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type) ? ((await c.req.parseBody({ all: true })) as FormBody) : {};
        if (!csrfMatches(session, lastString(form, '_csrf'))) return csrfRefused(a, c);
      }
      const path = c.req.path.slice(a.base.length) || '/';
      if (!PUBLIC_PATHS.has(path) && !session?.authenticated) {
        const target = c.req.method === 'GET' ? `?next=${encodeURIComponent(c.req.path + (new URL(c.req.url).search || ''))}` : '';
        return redirect(c, a.url(`/login${target}`));
      }
      await next();
    } finally {
      // The flash set or shown by the page is kept in the store (the next page may be served by
      // another instance). Losing it (the store failed just now) must not fail the page.
      await a.sessions.save(c.get('session')).catch((error: unknown) => a.deps.logger.warn({ err: error }, 'admin page: the session\'s message could not be saved'));
    }
  };
}

interface LoginState {
  next: string;
  error?: string;
  status?: number;
  headers?: Record<string, string>;
  info?: string;
}

async function loginPage(a: Admin, c: AdminContext, s: LoginState): Promise<Response> {
  let session = c.get('session');
  if (!session) {
    session = await a.sessions.create(false);
    c.set('session', session);
  }
  writeSessionCookie(c, session, a.base);
  const configured = !!a.deps.adminPassword;
  const body = html`<div class="login-box">
${s.error ? errorSummary([{ fieldId: 'password', message: s.error }], 'Not signed in', 'login-error') : ''}
${s.info ? html`<p class="flash flash-info" role="status">${s.info}</p>` : ''}
${configured ? '' : html`<p class="notice">No admin password is configured. Set one on the server with <code>mailgate admin set-password</code> or the environment variable <code>MAILGATE_ADMIN_PASSWORD</code>.</p>`}
<form method="post" action="${a.url('/login')}" class="panel" novalidate>
  ${csrfField(session)}
  <input type="hidden" name="next" value="${s.next}">
  ${textControl({ id: 'password', name: 'password', label: 'Admin password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 1024, invalidBy: s.error ? 'login-error' : undefined })}
  <div class="actions"><button type="submit" class="button"${configured ? '' : html` disabled`}>Sign in</button></div>
</form>
<p class="muted">The password was printed when Mailgate first started; change it with <code>mailgate admin set-password</code>.</p>
</div>`;
  return renderPage(a, c, { title: 'Sign in to Mailgate', body, status: s.status, headers: s.headers });
}

const minutes = (ms: number) => Math.max(1, Math.ceil(ms / 60_000));

export function authRoutes(a: Admin): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();

  app.get('/login', async (c) => {
    const next = safeNext(a, c.req.query('next'));
    if (c.get('session')?.authenticated) return redirect(c, next);
    return loginPage(a, c, { next, info: c.req.query('signed-out') !== undefined ? 'You are signed out.' : undefined });
  });

  app.post('/login', async (c) => {
    const form = (await c.req.parseBody({ all: true })) as FormBody;
    const next = safeNext(a, lastString(form, 'next'));
    const password = lastString(form, 'password') ?? '';
    const address = a.clientAddress(c);
    const key = limiterKey(address);
    const now = a.deps.now();
    const limit = a.limiter.attempt(key, now);
    if (!limit.allowed) {
      const wait = minutes(limit.retryAfterMs);
      const global = limit.scope === 'global';
      a.deps.logger.warn({ address, key, scope: limit.scope }, global ? 'admin page: sign-in refused (too many failed attempts on this server)' : 'admin page: sign-in refused (too many failed attempts)');
      return loginPage(a, c, {
        next,
        status: 429,
        headers: { 'retry-after': String(Math.ceil(limit.retryAfterMs / 1000)) },
        error: global
          ? `Too many wrong passwords were tried on this server in the last minute (from any address). Sign-in is paused for everyone for ${wait} minute${wait > 1 ? 's' : ''}; try again after that.`
          : `Too many wrong passwords from your address (${key}). Sign-in is paused for ${wait} minute${wait > 1 ? 's' : ''}; try again after that.`,
      });
    }
    const ok = !!a.deps.adminPassword && password.length > 0 && password.length <= 1024 && (await a.deps.adminPassword.verify(password));
    if (!ok) {
      const left = limit.left ?? 0;
      a.deps.logger.warn({ address, key }, 'admin page: wrong admin password');
      const more = left > 0
        ? ` ${left} more attempt${left > 1 ? 's' : ''} before sign-in from your address is paused for ${minutes(a.limiter.windowMs)} minutes.`
        : ` Sign-in from your address is now paused for ${minutes(a.limiter.windowMs)} minutes.`;
      return loginPage(a, c, { next, status: 401, error: `The password is not correct.${more}` });
    }
    a.limiter.succeed(key, now);
    const session = await a.sessions.signIn(c.get('session'));
    await a.deps.store.appendAudit({ at: now, actor: 'admin', action: 'admin.login', detail: { address } });
    c.set('session', session);
    writeSessionCookie(c, session, a.base);
    return redirect(c, next);
  });

  app.post('/logout', async (c) => {
    await a.sessions.destroy(c.get('session'));
    clearSessionCookie(c, a.base);
    return redirect(c, a.url('/login?signed-out'));
  });

  return app;
}
