/**
 * `createAdminApp(deps)`: the admin page of `mailgate serve`, a Hono app that `createApp`
 * mounts under /admin. Server-rendered HTML (escaped by default, ./html.ts), a small local
 * stylesheet and script from /admin/assets, sessions with CSRF protection and login rate
 * limiting, and the pages: Email Settings, Senders, Test, Diagnostics, Delivery log, API keys, Relay clients.
 *
 * Why its own app: the admin page is a different kind of client than the JSON API (a browser
 * with a cookie instead of a bearer key), so it has its own authentication, error pages and
 * security headers, and reaches the service only through `AppDeps` — the same store, settings
 * service, outbox, send-test and doctor as the API.
 *
 * Routes (relative to /admin):
 *   GET  /assets/admin.css, /assets/admin.js       static, public
 *   GET  /login   POST /login   POST /logout       sign in and out
 *   GET  /                                         → /settings
 *   GET  /settings          POST /settings         Email Settings
 *   GET  /senders  (+ /sender, /credential edit and delete)  Senders and credentials
 *   GET  /rotation?name=    POST /rotation/{secondary,test,promote,remove}  a credential's rotation
 *   GET  /test              POST /test             Send test email
 *   GET  /diagnostics       POST /diagnostics      Run diagnostics
 *   GET  /diagnostics/setup-script.ps1[?oid=]      set-up PowerShell script
 *   GET  /messages[?status=&cursor=]               delivery log + chart
 *   GET  /messages/:id      POST /messages/:id/retry
 *   GET  /api-keys          POST /api-keys         POST /api-keys/revoke
 *   GET  /relay-clients     POST /relay-clients    POST /relay-clients/revoke
 *
 * @example
 * // in the composition root (src/app/service.ts):
 * const app = createApp(deps, { admin: createAdminApp });
 *
 * Every request body is limited to 64 KB (ADMIN_MAX_BODY_BYTES) before it is read: 413.
 *
 * Imports: hono, the service's AppDeps type, body limit, StorageFullError and its Retry-After, the modules of this folder.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import type { AppDeps } from '../service/intake/http/deps.js';
import { limitBody } from '../service/intake/http/body-limit.js';
import { STORAGE_FULL_RETRY_AFTER_S } from '../service/intake/http/problem.js';
import { StorageFullError, StoreUnavailableError } from '../service/outbox/store.js';
import { isMailgateError } from '../core/errors.js';
import { apiKeysRoutes } from './api-keys/api-keys-routes.js';
import { relayClientsRoutes } from './relay-clients/relay-clients-routes.js';
import { assetRoutes } from './assets.js';
import { authRoutes, guard } from './auth-routes.js';
import { createAdminContext, type AdminEnv, type AdminOptions } from './context.js';
import { diagnosticsRoutes } from './diagnostics/diagnostics-routes.js';
import { html } from './html.js';
import { redirect, renderPage } from './layout.js';
import { messagesRoutes } from './messages/messages-routes.js';
import { rotationRoutes } from './credentials/rotation-routes.js';
import { sendersRoutes } from './senders/senders-routes.js';
import { settingsRoutes } from './settings/settings-routes.js';
import { testEmailRoutes } from './test-email/test-email-routes.js';

export type { AdminOptions } from './context.js';

/**
 * The largest admin form body. The biggest real form, the Email Settings with a certificate
 * PEM pasted (certificate, private key and a chain: typically 3–12 KB, ~10 % more once
 * form-encoded), fits many times; a 30 MB "login" is refused from its Content-Length (or,
 * chunked, as soon as 64 KB have streamed in), before any byte is parsed.
 */
export const ADMIN_MAX_BODY_BYTES = 64 * 1024;

/**
 * 413 as a small page of its own (no session is loaded yet). No `Connection: close`: Node would
 * then reset the socket while the client is still sending, and the client could lose the
 * answer; the HTTP server reads the rest away for a moment (bounded) and then closes.
 */
function tooLarge(base: string): Response {
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Form too large · Mailgate admin</title></head><body><h1>Form too large</h1><p>This form sent more than ${ADMIN_MAX_BODY_BYTES / 1024} KB, which no admin form needs. Nothing was saved. <a href="${base}/settings">Go back to the admin page</a>.</p></body></html>`;
  return new Response(body, { status: 413, headers: { 'content-type': 'text/html; charset=utf-8' } });
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  const h = c.res.headers;
  h.set('content-security-policy', CSP);
  h.set('x-content-type-options', 'nosniff');
  h.set('x-frame-options', 'DENY');
  h.set('referrer-policy', 'same-origin');
  if (!h.has('cache-control')) h.set('cache-control', 'no-store');
};

/** The admin app; `options` are for tests and unusual deployments (a proxy's client address header). */
export function createAdminApp(deps: AppDeps, options: AdminOptions = {}): Hono<AdminEnv> {
  const a = createAdminContext(deps, options);
  const app = new Hono<AdminEnv>();
  app.use('*', securityHeaders);
  // Before anything reads a body (the guard parses every POST for its CSRF token).
  app.use('*', limitBody(ADMIN_MAX_BODY_BYTES, () => tooLarge(a.base)));
  app.route('/assets', assetRoutes());
  app.use('*', guard(a));
  app.get('/', (c) => redirect(c, a.url('/settings')));
  app.route('/', authRoutes(a));
  app.route('/settings', settingsRoutes(a));
  app.route('/senders', sendersRoutes(a));
  app.route('/rotation', rotationRoutes(a));
  app.route('/test', testEmailRoutes(a));
  app.route('/diagnostics', diagnosticsRoutes(a));
  app.route('/messages', messagesRoutes(a));
  app.route('/api-keys', apiKeysRoutes(a));
  app.route('/relay-clients', relayClientsRoutes(a));
  // A catch-all route, not notFound(): a mounted app's notFound is not used by the parent.
  app.all('*', (c) => renderPage(a, c, { title: 'Page not found', status: 404, body: html`<p>There is no such page. <a href="${a.url('/settings')}">Go to the Email Settings</a>.</p>` }));
  app.onError((error, c) => {
    if (error instanceof StorageFullError) {
      // A full data disk is the server's temporary condition, not a bug: 503 + Retry-After as
      // the API answers (storage-full), saying that nothing was saved (issue 12 item 5).
      deps.logger.warn({ path: c.req.path, code: error.code }, 'admin page: request refused, the data directory is full');
      const res = renderPage(a, c, { title: 'Storage full', status: 503, body: html`<p class="notice">Nothing was saved: the disk of Mailgate's data directory is full. Try again once an operator has freed space. <a href="${a.url('/settings')}">Go to the Email Settings</a>.</p>` });
      res.headers.set('retry-after', String(STORAGE_FULL_RETRY_AFTER_S));
      return res;
    }
    if (error instanceof StoreUnavailableError) {
      deps.logger.warn({ path: c.req.path, code: error.code }, 'admin page: request refused, the database cannot be reached');
      const res = renderPage(a, c, { title: 'Database unavailable', status: 503, body: html`<p class="notice">Nothing was saved: Mailgate cannot reach its database right now. Try again in a few seconds. <a href="${a.url('/settings')}">Go to the Email Settings</a>.</p>` });
      res.headers.set('retry-after', '5');
      return res;
    }
    if (isMailgateError(error) && error.code === 'SETTINGS_CONFLICT') {
      deps.logger.info({ path: c.req.path, code: error.code }, 'admin page: change refused, the settings kept changing at the same time');
      return renderPage(a, c, { title: 'Changed at the same time', status: 409, body: html`<p class="notice">${error.message} <a href="${a.url('/settings')}">Go to the Email Settings</a>.</p>` });
    }
    deps.logger.error({ err: error, path: c.req.path }, 'admin page: unhandled error');
    return renderPage(a, c, { title: 'Something went wrong', status: 500, body: html`<p>The page failed unexpectedly; the server log has the details. <a href="${a.url('/settings')}">Go to the Email Settings</a>.</p>` });
  });
  return app;
}
