/**
 * The emulator's HTTPS listener: one Hono app with the Entra routes (token-endpoint.ts) and
 * Microsoft Graph (graph-routes.ts: `/v1.0/...` and upload URLs) at the root and the admin API
 * (admin-api.ts) under `/_emulator`, served by node:https with the
 * emulator's server certificate (TLS 1.2+).
 *
 * Why it exists: to keep socket handling (listen, port 0, fast close) out of the route
 * modules, and to answer anything unexpected with JSON instead of crashing.
 *
 * Imports: hono, @hono/node-server, node:https, ./token-endpoint.ts, ./graph-routes.ts, ./admin-api.ts.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { getPath as honoGetPath } from 'hono/utils/url';
import { adminRoutes } from './admin-api.js';
import { canonicalGraphPath, graphRoutes } from './graph-routes.js';
import type { HttpRuntime } from './http-runtime.js';
import { tokenEndpointRoutes } from './token-endpoint.js';

/**
 * The request path, with one trailing slash dropped under `/_emulator/` (`PUT /_emulator/state/`
 * works like `PUT /_emulator/state`, as users of REST APIs expect). Entra's own routes stay
 * strict: the real token endpoint does not answer `.../token/` either. Graph's fixed path
 * segments are matched case-insensitively, as Graph does (graph-routes.ts).
 */
function pathOf(request: Request): string {
  const path = honoGetPath(request);
  if (path.startsWith('/_emulator/') && path.endsWith('/')) return path.slice(0, -1);
  return canonicalGraphPath(path);
}

export function createHttpsApp(rt: HttpRuntime): Hono {
  const app = new Hono({ getPath: pathOf });
  app.route('/_emulator', adminRoutes(rt));
  app.route('/', graphRoutes(rt));
  app.route('/', tokenEndpointRoutes(rt));
  app.notFound((c) => c.json({ error: 'not_found', error_description: `No emulated endpoint at ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));
  app.onError((err, c) => c.json({ error: 'server_error', error_description: `Emulator error: ${err.message}` }, 500));
  return app;
}

export interface HttpsListener {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export async function listenHttps(app: Hono, tlsMaterial: { key: string; cert: string }, host: string, port: number): Promise<HttpsListener> {
  const listener = getRequestListener(app.fetch, { overrideGlobalObjects: false });
  const server = createServer({ key: tlsMaterial.key, cert: tlsMaterial.cert, minVersion: 'TLSv1.2' }, (req, res) => {
    void listener(req, res);
  });
  server.on('tlsClientError', () => undefined); // a client that fails the handshake is its own problem
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      // An accept error later (EMFILE in a connection flood) must not end the emulator: the
      // server keeps listening, and a client that was not accepted retries (as with Entra ID).
      server.on('error', () => undefined);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
