/**
 * Bearer API-key authentication with scopes, as Hono middleware.
 *
 * Why: every API route names the scope it needs (`send` or `admin`); the key is looked up by
 * its hash (api-keys.ts, which caches a successful lookup for API_KEY_CACHE_TTL_MS: a key revoked
 * by another process keeps working here that much longer at most). Failures are problem+json:
 * 401 with `WWW-Authenticate: Bearer` when the key is missing ("no API key"), malformed, or
 * unknown ("unknown or revoked key", with `error="invalid_token"` as RFC 6750 says), 403 when its
 * scope is too small.
 * The 401 also names the data dir whose keys this server accepts (when it listens on
 * loopback), with the command that creates a key there: a key made in another data dir (the
 * CLI's ./data next to `mailgate dev`'s ./data/dev) was the classic first-hour 401.
 *
 * Imports: hono, ../../access/api-keys, ../../outbox/store types, ./problem.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { authenticateApiKey, scopeAllows } from '../../access/api-keys.js';
import type { ApiKeyRecord, ApiKeyScope, ConfigStore } from '../../outbox/store.js';
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
 * The 401's advice. `dataDir` is given only when the API listens on loopback (see service.ts)
 * and the request did not come through a proxy (`requireScope`): a filesystem path is no
 * business of remote callers, and a local user can read it anyway.
 */
export function unauthorizedDetail(dataDir?: string, problem: 'missing' | 'malformed' | 'unknown' = 'missing'): string {
  // Missing, malformed and unknown keys are told apart: "send a key" does not help someone
  // whose key was revoked or mistyped. (Nothing about the key itself is echoed.)
  const what =
    problem === 'missing'
      ? 'No API key: send one as "Authorization: Bearer <key>".'
      : problem === 'malformed'
        ? 'The Authorization header is not "Bearer <key>".'
        : 'Unknown or revoked key: this API key is not (or no longer) valid on this server. Check for a typo, or create a new key.';
  if (dataDir === undefined) return `${what} Create a key with: mailgate apikey create NAME --data-dir <this server's data dir>.`;
  return `${what} This server's data dir is ${dataDir}; keys made in another data dir are unknown here. Create one with: mailgate apikey create NAME --data-dir ${shellWord(dataDir)}`;
}

/**
 * Headers a reverse proxy adds. Behind one (deploy/README.md: Mailgate on loopback behind Caddy
 * or nginx) a request reaches the loopback port from anywhere on the internet, so a loopback
 * listener alone does not make the caller local: a proxied request never learns the data dir.
 */
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip', 'via'];

const proxied = (c: Context): boolean => PROXY_HEADERS.some((h) => c.req.header(h) !== undefined);

export function requireScope(store: ConfigStore, scope: ApiKeyScope, dataDir?: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const token = bearerToken(header);
    const key = token ? await authenticateApiKey(store, token) : undefined;
    if (!key) {
      const problem = header === undefined || header.trim() === '' ? 'missing' : !token ? 'malformed' : 'unknown';
      return problemResponse(401, 'unauthorized', 'Authentication required', { detail: unauthorizedDetail(proxied(c) ? undefined : dataDir, problem) }, { 'www-authenticate': token ? 'Bearer realm="mailgate", error="invalid_token"' : 'Bearer realm="mailgate"' });
    }
    if (!scopeAllows(key.scope, scope)) {
      return problemResponse(403, 'forbidden', 'Insufficient scope', { detail: `This API key has scope "${key.scope}"; this request needs "${scope}".` });
    }
    c.set('apiKey', key);
    await next();
  };
}

/**
 * Whether the request carries a valid API key with `scope`, without refusing it otherwise: for
 * public endpoints (/readyz) that add details for administrators only.
 */
export async function hasScope(c: Context<AppEnv>, store: ConfigStore, scope: ApiKeyScope): Promise<boolean> {
  const token = bearerToken(c.req.header('authorization'));
  const key = token ? await authenticateApiKey(store, token) : undefined;
  return !!key && scopeAllows(key.scope, scope);
}
