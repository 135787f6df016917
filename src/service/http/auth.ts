/**
 * Bearer API-key authentication with scopes, as Hono middleware.
 *
 * Why: every API route names the scope it needs (`send` or `admin`); the key is looked up by
 * its hash (api-keys.ts, which caches a successful lookup for API_KEY_CACHE_TTL_MS: a key revoked
 * by another process keeps working here that much longer at most). Failures are problem+json:
 * 401 with `WWW-Authenticate: Bearer` when the key is missing or unknown, 403 when its scope is
 * too small. The 401 names the data dir whose keys this server accepts (when it listens on
 * loopback), with the command that creates a key there: a key made in another data dir (the
 * CLI's ./data next to `mailgate dev`'s ./data/dev) was the classic first-hour 401.
 *
 * Imports: hono, ../api-keys, ../store types, ./problem.
 */
import type { MiddlewareHandler } from 'hono';
import { authenticateApiKey, scopeAllows } from '../api-keys.js';
import type { ApiKeyRecord, ApiKeyScope, ConfigStore } from '../store/store.js';
import { problemResponse } from './problem.js';

export type AppEnv = { Variables: { apiKey: ApiKeyRecord } };

export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/** `path` as one shell word (single-quoted unless it is plain). */
function shellWord(path: string): string {
  return /^[\w./@:+-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

/**
 * The 401's advice. `dataDir` is given only when the API listens on loopback (see service.ts):
 * a filesystem path is no business of remote callers, and a local user can read it anyway.
 */
export function unauthorizedDetail(dataDir?: string): string {
  if (dataDir === undefined) return 'Send an API key as "Authorization: Bearer <key>" (create one with: mailgate apikey create NAME --data-dir <this server\'s data dir>).';
  return `Send an API key as "Authorization: Bearer <key>". This server's data dir is ${dataDir}; keys made in another data dir are unknown here. Create one with: mailgate apikey create NAME --data-dir ${shellWord(dataDir)}`;
}

export function requireScope(store: ConfigStore, scope: ApiKeyScope, dataDir?: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    const key = token ? await authenticateApiKey(store, token) : undefined;
    if (!key) {
      return problemResponse(401, 'unauthorized', 'Authentication required', { detail: unauthorizedDetail(dataDir) }, { 'www-authenticate': 'Bearer realm="mailgate"' });
    }
    if (!scopeAllows(key.scope, scope)) {
      return problemResponse(403, 'forbidden', 'Insufficient scope', { detail: `This API key has scope "${key.scope}"; this request needs "${scope}".` });
    }
    c.set('apiKey', key);
    await next();
  };
}
