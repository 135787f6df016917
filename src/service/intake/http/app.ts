/**
 * `createApp(deps)`: the Hono app of the service (API, health, metrics), a pure function of
 * its dependencies. Only the composition root (src/app/service.ts) binds a socket; tests call
 * `app.request()`.
 *
 * The admin page (a later issue) is mounted under /admin through `options.admin`, a factory
 * that receives the same deps (store, settings service, outbox, sendTest, runDiagnostics,
 * adminPassword). Hono builds its router on the first request, so mounting happens here,
 * before the app is returned.
 *
 * Request bodies are limited by `deps.maxBodyBytes` before they are read whole (Content-Length
 * checked up front, without materialising a web Request; chunked bodies counted while
 * streaming) → 413 problem (./body-limit.ts).
 *
 * GET /api/v1/openapi.json serves the OpenAPI document (./openapi.ts) without authentication;
 * GET / redirects to /admin when the admin page is mounted.
 *
 * Imports: hono, ./routes/*, ./problem, ./auth, ./body-limit, ./deps, ./openapi.
 */
import { Hono } from 'hono';
import type { AppEnv } from './auth.js';
import { limitBody } from './body-limit.js';
import type { AppDeps } from './deps.js';
import { errorHandler, problemResponse } from './problem.js';
import { openApiDocument } from './openapi.js';
import { messageRoutes } from './routes/messages.js';
import { opsRoutes } from './routes/ops.js';
import { settingsRoutes } from './routes/settings.js';
import { relayClientRoutes } from './routes/relay-clients.js';
import { credentialRoutes, senderRoutes } from './routes/senders.js';
import { credentialRotationRoutes } from './routes/credential-rotation.js';

export type { AppDeps, SendTestResult, RunDiagnostics } from './deps.js';

export interface AppOptions {
  /** Builds the admin page's app, mounted under /admin. */
  admin?: (deps: AppDeps) => Hono<any>; // any: the admin app has its own Env (sessions)
}

export function createApp(deps: AppDeps, options: AppOptions = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const limit = limitBody(deps.maxBodyBytes, () =>
    problemResponse(413, 'too-large', 'Request body too large', { detail: `The body is larger than ${deps.maxBodyBytes} bytes (MAILGATE_MAX_BODY_BYTES).` }),
  );
  app.use('/api/*', limit);
  // The API's own description, open like /healthz (it holds no data).
  let openapi: string | undefined;
  app.get('/api/v1/openapi.json', (c) => c.body((openapi ??= JSON.stringify(openApiDocument())), 200, { 'content-type': 'application/json; charset=utf-8' }));
  app.route('/api/v1/messages', messageRoutes(deps));
  app.route('/api/v1/settings/email', settingsRoutes(deps));
  app.route('/api/v1/relay-clients', relayClientRoutes(deps));
  app.route('/api/v1/senders', senderRoutes(deps));
  app.route('/api/v1/credentials', credentialRotationRoutes(deps));
  app.route('/api/v1/credentials', credentialRoutes(deps));
  app.route('/', opsRoutes(deps));
  if (options.admin) {
    // A browser pointed at the service's root lands on the admin page.
    app.get('/', (c) => c.redirect('/admin', 302));
    // The admin app limits its own bodies (64 KB: forms, never 36 MB messages).
    app.route('/admin', options.admin(deps));
    // Browsers ask for /favicon.ico on their own; the admin page serves it.
    app.get('/favicon.ico', (c) => c.redirect('/admin/assets/favicon.ico', 301));
  }
  app.notFound(() => problemResponse(404, 'not-found', 'Not found', { detail: 'No such route.' }));
  app.onError(errorHandler(deps.logger));
  return app;
}
