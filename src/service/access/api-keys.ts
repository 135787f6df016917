/**
 * API keys: creation (the key is shown once), lookup by hash, scopes.
 *
 * Why: applications authenticate with `Authorization: Bearer <key>`. Only a SHA-256 hash is
 * stored: keys are 256 random bits, so a fast hash is as safe as a slow one and keeps the
 * per-request check cheap. Scope `send` may submit and read messages; `admin` may do
 * everything (settings, retries, diagnostics).
 *
 * Each authentication that reaches the store also records the key's "last used" time (so it is
 * exact to within the cache lifetime, API_KEY_CACHE_TTL_MS).
 *
 * Authentication results are cached in memory per store object (see `authenticateApiKey`): the
 * store lookup cost ~0.015 ms of CPU on every API request. Per store object, because the HTTP
 * auth middleware, the admin page and `mailgate dev` all hold the service's one store (AppDeps),
 * so a key they create or revoke through this module empties the cache the middleware reads.
 *
 * Imports: node:crypto, ../outbox/store.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ApiKeyRecord, ApiKeyScope, ConfigStore } from '../outbox/store.js';

export const API_KEY_PREFIX = 'mg_';
export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['send', 'admin'];

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** Whether a key of scope `has` may do what needs `needs`. */
export function scopeAllows(has: ApiKeyScope, needs: ApiKeyScope): boolean {
  return has === 'admin' || has === needs;
}

export class ApiKeyError extends Error {
  override readonly name = 'ApiKeyError';
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Create a key; returns the plain key (shown once, never stored). `o.senders`: the senders
 * (From addresses) it may send as (issue 16); absent or empty: every sender.
 */
export async function createApiKey(store: ConfigStore, name: string, scope: ApiKeyScope, o: { now: number; actor: string; senders?: string[] }): Promise<{ name: string; scope: ApiKeyScope; key: string; senders?: string[] }> {
  if (!NAME.test(name)) throw new ApiKeyError(`The key name "${name.slice(0, 80)}" is invalid: use 1–64 letters, digits, dots, dashes or underscores.`);
  if (!API_KEY_SCOPES.includes(scope)) throw new ApiKeyError(`The scope "${String(scope)}" is invalid: use send or admin.`);
  const senders = [...new Set((o.senders ?? []).map((a) => a.trim().toLowerCase()))];
  for (const a of senders) if (!/^[^\s<>@]{1,64}@[A-Za-z0-9.-]{1,253}$/.test(a)) throw new ApiKeyError(`The sender "${a.slice(0, 80)}" is not an address.`);
  const key = generateApiKey();
  forgetCachedApiKeys(store);
  const created = await store.createApiKey({ name, scope, hash: hashApiKey(key), prefix: key.slice(0, 7), createdAt: o.now, ...(senders.length ? { senders } : {}) });
  if (!created) throw new ApiKeyError(`An active API key named "${name}" exists already; revoke it first (mailgate apikey revoke ${name}).`);
  await store.appendAudit({ at: o.now, actor: o.actor, action: 'apikey.create', detail: { name, scope, ...(senders.length ? { senders } : {}) } });
  return { name, scope, key, ...(senders.length ? { senders } : {}) };
}

export async function revokeApiKey(store: ConfigStore, name: string, o: { now: number; actor: string }): Promise<boolean> {
  forgetCachedApiKeys(store); // before (so no lookup that raced the revocation caches its result) and after
  const done = await store.revokeApiKey(name, o.now);
  forgetCachedApiKeys(store);
  if (done) await store.appendAudit({ at: o.now, actor: o.actor, action: 'apikey.revoke', detail: { name } });
  return done;
}

/**
 * How long a successful authentication is reused without asking the store again (ms).
 *
 * Staleness bound: a key revoked (or replaced by one with another scope) through this process
 * (`revokeApiKey` / `createApiKey` here: the admin page, `mailgate dev`) stops working at once,
 * because those functions empty this store's cache. A key revoked by *another* process sharing
 * the database (`mailgate apikey revoke` while `mailgate serve` runs, or another service
 * instance on a shared PostgreSQL) keeps being accepted, with the scope it had, by a process that
 * has used it in the last API_KEY_CACHE_TTL_MS, and by no process for longer than that.
 * Unknown and revoked keys are never cached (a key created elsewhere works at once).
 */
export const API_KEY_CACHE_TTL_MS = 5_000;
/** Cached keys per store; beyond this the oldest entries are dropped (keys, not requests). */
const API_KEY_CACHE_MAX = 1_000;

interface ApiKeyCache {
  /** SHA-256 hex of the presented key → the record and when it stops being trusted. */
  entries: Map<string, { key: ApiKeyRecord; until: number }>;
  /** Bumped whenever keys change here; a lookup started before a change does not fill the cache. */
  generation: number;
}

const caches = new WeakMap<ConfigStore, ApiKeyCache>();

function cacheOf(store: ConfigStore): ApiKeyCache {
  let c = caches.get(store);
  if (!c) caches.set(store, (c = { entries: new Map(), generation: 0 }));
  return c;
}

/** Drop every cached authentication for this store (its keys changed). */
export function forgetCachedApiKeys(store: ConfigStore): void {
  const c = caches.get(store);
  if (!c) return;
  c.entries.clear();
  c.generation++;
}

/**
 * The active key for a presented bearer token, or undefined. Successful lookups are cached for
 * API_KEY_CACHE_TTL_MS (monotonic clock; `now` is for tests), keyed by the key's hash so the
 * plain key is not kept in memory.
 */
export async function authenticateApiKey(store: ConfigStore, presented: string, now: number = performance.now()): Promise<ApiKeyRecord | undefined> {
  if (!presented.startsWith(API_KEY_PREFIX) || presented.length > 200) return undefined;
  const hash = hashApiKey(presented);
  const cache = cacheOf(store);
  const hit = cache.entries.get(hash);
  if (hit) {
    if (hit.until > now) return hit.key;
    cache.entries.delete(hash);
  }
  const generation = cache.generation;
  const found = await store.findApiKey(hash);
  if (!found) return undefined;
  // "Last used" for the admin page: once per cache miss, i.e. at most every
  // API_KEY_CACHE_TTL_MS per key and process; a bookkeeping write nobody waits for.
  store.touchApiKey?.(hash, Date.now())?.catch(() => undefined);
  const key: ApiKeyRecord = Object.freeze({ ...found }); // shared between requests: read-only
  if (cache.generation === generation) {
    if (cache.entries.size >= API_KEY_CACHE_MAX) cache.entries.delete(cache.entries.keys().next().value!);
    cache.entries.set(hash, { key, until: now + API_KEY_CACHE_TTL_MS });
  }
  return key;
}
