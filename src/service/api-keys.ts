/**
 * API keys: creation (the key is shown once), lookup by hash, scopes.
 *
 * Why: applications authenticate with `Authorization: Bearer <key>`. Only a SHA-256 hash is
 * stored: keys are 256 random bits, so a fast hash is as safe as a slow one and keeps the
 * per-request check cheap. Scope `send` may submit and read messages; `admin` may do
 * everything (settings, retries, diagnostics).
 *
 * Imports: node:crypto, ./store.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ApiKeyRecord, ApiKeyScope, ConfigStore } from './store/store.js';

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

/** Create a key; returns the plain key (shown once, never stored). */
export async function createApiKey(store: ConfigStore, name: string, scope: ApiKeyScope, o: { now: number; actor: string }): Promise<{ name: string; scope: ApiKeyScope; key: string }> {
  if (!NAME.test(name)) throw new ApiKeyError(`The key name "${name.slice(0, 80)}" is invalid: use 1–64 letters, digits, dots, dashes or underscores.`);
  if (!API_KEY_SCOPES.includes(scope)) throw new ApiKeyError(`The scope "${String(scope)}" is invalid: use send or admin.`);
  const key = generateApiKey();
  const created = await store.createApiKey({ name, scope, hash: hashApiKey(key), prefix: key.slice(0, 7), createdAt: o.now });
  if (!created) throw new ApiKeyError(`An active API key named "${name}" exists already; revoke it first (mailgate apikey revoke ${name}).`);
  await store.appendAudit({ at: o.now, actor: o.actor, action: 'apikey.create', detail: { name, scope } });
  return { name, scope, key };
}

export async function revokeApiKey(store: ConfigStore, name: string, o: { now: number; actor: string }): Promise<boolean> {
  const done = await store.revokeApiKey(name, o.now);
  if (done) await store.appendAudit({ at: o.now, actor: o.actor, action: 'apikey.revoke', detail: { name } });
  return done;
}

/** The active key for a presented bearer token, or undefined. */
export async function authenticateApiKey(store: ConfigStore, presented: string): Promise<ApiKeyRecord | undefined> {
  if (!presented.startsWith(API_KEY_PREFIX) || presented.length > 200) return undefined;
  return store.findApiKey(hashApiKey(presented));
}
