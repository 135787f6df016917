/**
 * Bearer API-key authentication with scopes, as Hono middleware.
 *
 * Why: every API route names the scope it needs (`send` or `admin`); the key is looked up by
 * its hash (api-keys.ts, which caches a successful lookup for API_KEY_CACHE_TTL_MS: a key revoked
 * by another process keeps working here that much longer at most). Failures are problem+json:
 * 401 with `WWW-Authenticate: Bearer` when the key is missing or unknown, 403 when its scope is
 * too small.
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

export function requireScope(store: ConfigStore, scope: ApiKeyScope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    const key = token ? await authenticateApiKey(store, token) : undefined;
    if (!key) {
      return problemResponse(401, 'unauthorized', 'Authentication required', { detail: 'Send an API key as "Authorization: Bearer <key>" (create one with: mailgate apikey create NAME).' }, { 'www-authenticate': 'Bearer realm="mailgate"' });
    }
    if (!scopeAllows(key.scope, scope)) {
      return problemResponse(403, 'forbidden', 'Insufficient scope', { detail: `This API key has scope "${key.scope}"; this request needs "${scope}".` });
    }
    c.set('apiKey', key);
    await next();
  };
}
