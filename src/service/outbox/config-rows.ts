/**
 * The api_keys and relay_clients tables' rows as both stores read them (SQLite and PostgreSQL
 * share the column names), and their mapping to the store's records: one copy, so a column
 * added to either table is mapped the same way by both stores (as ./message-rows.ts does for
 * messages and attempts).
 *
 * Imports: ./store.
 */
import type { ApiKeyRecord, ApiKeyScope, RelayClientCredentials, RelayClientRecord, RelayFromPolicy } from './store.js';

export interface ApiKeyRow {
  seq: number;
  name: string;
  scope: ApiKeyScope;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
  /** JSON array of sender addresses; NULL: any sender. */
  senders: string | null;
}

export const API_KEY_COLUMNS = 'seq, name, scope, prefix, created_at, revoked_at, last_used_at, senders';

export function toApiKey(r: ApiKeyRow): ApiKeyRecord {
  const k: ApiKeyRecord = { id: String(r.seq), name: r.name, scope: r.scope, prefix: r.prefix, createdAt: r.created_at };
  if (r.revoked_at !== null) k.revokedAt = r.revoked_at;
  if (r.last_used_at !== null) k.lastUsedAt = r.last_used_at;
  if (r.senders !== null) k.senders = JSON.parse(r.senders) as string[];
  return k;
}

export interface RelayClientRow {
  seq: number;
  name: string;
  username: string;
  password_hash: string | null;
  /** SQLite gives 0/1, PostgreSQL a boolean. */
  no_auth: number | boolean;
  /** JSON arrays. */
  allow_from: string;
  allow_ip: string;
  from_policy: RelayFromPolicy;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
  /** Counters, present in listings. */
  sent?: number;
  failed?: number;
}

export const RELAY_CLIENT_COLUMNS = 'seq, name, username, password_hash, no_auth, allow_from, allow_ip, from_policy, created_at, revoked_at, last_used_at';

function relayBase(r: RelayClientRow): Omit<RelayClientCredentials, 'passwordHash'> {
  const c = {
    id: String(r.seq),
    name: r.name,
    username: r.username,
    noAuth: r.no_auth === true || r.no_auth === 1,
    allowFrom: JSON.parse(r.allow_from) as string[],
    allowIp: JSON.parse(r.allow_ip) as string[],
    fromPolicy: r.from_policy,
    createdAt: r.created_at,
  };
  return r.last_used_at !== null ? { ...c, lastUsedAt: r.last_used_at } : c;
}

/** A relay client as listed (counters included, never its verifier). */
export function toRelayClient(r: RelayClientRow): RelayClientRecord {
  const c: RelayClientRecord = { ...relayBase(r), messagesSent: Number(r.sent ?? 0), messagesFailed: Number(r.failed ?? 0) };
  if (r.revoked_at !== null) c.revokedAt = r.revoked_at;
  return c;
}

/** An active relay client with its password verifier (authentication only). */
export function toRelayCredentials(r: RelayClientRow): RelayClientCredentials {
  return r.password_hash !== null ? { ...relayBase(r), passwordHash: r.password_hash } : relayBase(r);
}
