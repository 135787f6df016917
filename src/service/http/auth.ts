/**
 * Bearer API-key authentication with scopes, as Hono middleware.
 *
 * Why: every API route names the scope it needs (`send` or `admin`); the key is looked up by
 * its hash (api-keys.ts, which caches a successful lookup for API_KEY_CACHE_TTL_MS: a key revoked
 * by another process keeps working here that much longer at most). Failures are problem+json:
 * 401 with `WWW-Authenticate: Bearer` when the key is missing ("no API key"), malformed, or
 * unknown ("unknown or revoked key", with `error="invalid_token"` as RFC 6750 says), 403 when its
 * scope is too small.
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
    const header = c.req.header('authorization');
    const token = bearerToken(header);
    const key = token ? await authenticateApiKey(store, token) : undefined;
    if (!key) {
      // Missing, malformed and unknown keys are told apart: "send a key" does not help someone
      // whose key was revoked or mistyped. (Nothing about the key itself is echoed.)
      const detail =
        header === undefined || header.trim() === ''
          ? 'No API key: send one as "Authorization: Bearer <key>" (create one with: mailgate apikey create NAME).'
          : !token
            ? 'The Authorization header is not "Bearer <key>".'
            : 'Unknown or revoked key: this API key is not (or no longer) valid on this server. Check for a typo, or create a new key with: mailgate apikey create NAME.';
      return problemResponse(401, 'unauthorized', 'Authentication required', { detail }, { 'www-authenticate': token ? 'Bearer realm="mailgate", error="invalid_token"' : 'Bearer realm="mailgate"' });
    }
    if (!scopeAllows(key.scope, scope)) {
      return problemResponse(403, 'forbidden', 'Insufficient scope', { detail: `This API key has scope "${key.scope}"; this request needs "${scope}".` });
    }
    c.set('apiKey', key);
    await next();
  };
}
