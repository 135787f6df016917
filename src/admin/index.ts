/**
 * `createAdminApp(deps)`: the admin page of `mailgate serve`, a Hono app that `createApp`
 * mounts under /admin. Server-rendered HTML (escaped by default, ./html.ts), a small local
 * stylesheet and script from /admin/assets, sessions with CSRF protection and login rate
 * limiting, and the pages: Email Settings, Test, Diagnostics, Delivery log, API keys.
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
 *   GET  /test              POST /test             Send test email
 *   GET  /diagnostics       POST /diagnostics      Run diagnostics
 *   GET  /diagnostics/setup-script.ps1[?oid=]      set-up PowerShell script
 *   GET  /messages[?status=&cursor=]               delivery log + chart
 *   GET  /messages/:id      POST /messages/:id/retry
 *   GET  /api-keys          POST /api-keys         POST /api-keys/revoke
 *
 * @example
 * // in the composition root (src/service/service.ts):
 * const app = createApp(deps, { admin: createAdminApp });
 *
 * Imports: hono, the service's AppDeps type, the modules of this folder.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import type { AppDeps } from '../service/http/deps.js';
import { apiKeysRoutes } from './api-keys/api-keys-routes.js';
import { assetRoutes } from './assets.js';
import { authRoutes, guard } from './auth-routes.js';
import { createAdminContext, type AdminEnv, type AdminOptions } from './context.js';
import { diagnosticsRoutes } from './diagnostics/diagnostics-routes.js';
import { html } from './html.js';
import { redirect, renderPage } from './layout.js';
import { messagesRoutes } from './messages/messages-routes.js';
import { settingsRoutes } from './settings/settings-routes.js';
import { testEmailRoutes } from './test-email/test-email-routes.js';

export type { AdminOptions } from './context.js';

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
  app.route('/assets', assetRoutes());
  app.use('*', guard(a));
  app.get('/', (c) => redirect(c, a.url('/settings')));
  app.route('/', authRoutes(a));
  app.route('/settings', settingsRoutes(a));
  app.route('/test', testEmailRoutes(a));
  app.route('/diagnostics', diagnosticsRoutes(a));
  app.route('/messages', messagesRoutes(a));
  app.route('/api-keys', apiKeysRoutes(a));
  // A catch-all route, not notFound(): a mounted app's notFound is not used by the parent.
  app.all('*', (c) => renderPage(a, c, { title: 'Page not found', status: 404, body: html`<p>There is no such page. <a href="${a.url('/settings')}">Go to the Email Settings</a>.</p>` }));
  app.onError((error, c) => {
    deps.logger.error({ err: error, path: c.req.path }, 'admin page: unhandled error');
    return renderPage(a, c, { title: 'Something went wrong', status: 500, body: html`<p>The page failed unexpectedly; the server log has the details. <a href="${a.url('/settings')}">Go to the Email Settings</a>.</p>` });
  });
  return app;
}
