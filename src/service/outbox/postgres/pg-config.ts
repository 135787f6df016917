/**
 * The configuration half of the PostgreSQL store: stored settings, metadata, audit log, API key
 * hashes and SMTP relay clients, matching sqlite-config.ts (the contract suite runs on both).
 *
 * Why a separate file: none of this is on the delivery path. Every instance reads these rows
 * from the one database, so a key revoked on one instance is refused by every other once its
 * short authentication cache lapses; the settings version is incremented atomically in the
 * database (one counter for every instance).
 *
 * Imports: ../store, ../config-rows, ./pg-db.
 */
import { SettingsConflictError, type ApiKeyRecord, type ApiKeyScope, type AuditEntry, type ConfigStore, type NewRelayClient, type RelayClientCredentials, type RelayClientRecord } from '../store.js';
import { API_KEY_COLUMNS, RELAY_CLIENT_COLUMNS, toApiKey, toRelayClient, toRelayCredentials, type ApiKeyRow, type RelayClientRow } from '../config-rows.js';
import type { PgDb } from './pg-db.js';

const SETTINGS_VERSION = 'settings.version';
const DURABLE = { durable: true };
const BOOKKEEPING = { durable: false };

const AUDIT = 'INSERT INTO audit_log (at, actor, action, detail) VALUES ($1, $2, $3, $4)';

export class PgConfig implements ConfigStore {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async getSettings(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const r of (await this.#db.query<{ key: string; value: string }>('SELECT key, value FROM settings')).rows) out[r.key] = r.value;
    return out;
  }

  saveSettings(changes: Record<string, string | null>, audit: AuditEntry, options: { expectedVersion?: number } = {}): Promise<number> {
    return this.#db.tx(async (c) => {
      // The version first: the upsert locks its row until the commit, so concurrent saves are
      // serialised across instances, and a compare-and-set sees the version no one else can
      // change before this transaction ends (a missing row is inserted under the same lock: two
      // writers expecting version 0 cannot both pass). A conflict throws: the rollback keeps nothing.
      const r = await c.query<{ value: string }>(
        `INSERT INTO meta (key, value) VALUES ($1, '1') ON CONFLICT (key) DO UPDATE SET value = ((meta.value)::bigint + 1)::text RETURNING value`, [SETTINGS_VERSION]);
      const version = Number(r.rows[0].value);
      if (options.expectedVersion !== undefined && version !== options.expectedVersion + 1) throw new SettingsConflictError(options.expectedVersion, version - 1);
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) await c.query('DELETE FROM settings WHERE key = $1', [key]);
        else await c.query('INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at', [key, value, audit.at]);
      }
      await c.query(AUDIT, [audit.at, audit.actor, audit.action, JSON.stringify(audit.detail)]);
      // Tell the other instances at once (they also poll the version).
      await c.query(`SELECT pg_notify('mailgate_config', $1)`, [`settings:${version}`]);
      return version;
    }, DURABLE);
  }

  async settingsVersion(): Promise<number> {
    const v = await this.getMeta(SETTINGS_VERSION);
    return v === undefined ? 0 : Number(v);
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.#db.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key])).rows[0]?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.#db.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value], DURABLE);
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    // Inserted, or the row another writer committed (ON CONFLICT waited for it).
    const r = await this.#db.query<{ value: string }>(
      `WITH i AS (INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value)
       SELECT value FROM i UNION ALL SELECT value FROM meta WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM i)`, [key, value], DURABLE);
    if (r.rows[0]) return r.rows[0].value;
    return (await this.getMeta(key))!;
  }

  async appendAudit(e: AuditEntry): Promise<void> {
    await this.#db.query(AUDIT, [e.at, e.actor, e.action, JSON.stringify(e.detail)], DURABLE);
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    const rows = (await this.#db.query<{ at: number; actor: string; action: string; detail: string }>('SELECT at, actor, action, detail FROM audit_log ORDER BY seq DESC LIMIT $1', [Math.max(1, Math.min(1000, limit))])).rows;
    return rows.map((r) => ({ at: r.at, actor: r.actor, action: r.action, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  async createApiKey(k: { name: string; scope: ApiKeyScope; hash: string; prefix: string; createdAt: number; senders?: string[] }): Promise<boolean> {
    const r = await this.#db.query(
      'INSERT INTO api_keys (name, scope, key_hash, prefix, created_at, senders) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING',
      [k.name, k.scope, k.hash, k.prefix, k.createdAt, k.senders?.length ? JSON.stringify(k.senders) : null], DURABLE);
    return r.rowCount === 1;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return (await this.#db.query<ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys ORDER BY seq`)).rows.map(toApiKey);
  }

  async revokeApiKey(name: string, at: number): Promise<boolean> {
    const r = await this.#db.query('UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL', [at, name], DURABLE);
    if (r.rowCount > 0) await this.#notify('apikeys');
    return r.rowCount > 0;
  }

  async findApiKey(hash: string): Promise<ApiKeyRecord | undefined> {
    const row = (await this.#db.query<ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, [hash])).rows[0];
    return row ? toApiKey(row) : undefined;
  }

  async touchApiKey(hash: string, at: number): Promise<void> {
    await this.#db.query('UPDATE api_keys SET last_used_at = $1 WHERE key_hash = $2 AND (last_used_at IS NULL OR last_used_at < $1)', [at, hash], BOOKKEEPING);
  }

  async createRelayClient(c: NewRelayClient): Promise<boolean> {
    const r = await this.#db.query(
      `INSERT INTO relay_clients (name, username, password_hash, no_auth, allow_from, allow_ip, from_policy, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
      [c.name, c.username, c.passwordHash ?? null, c.noAuth, JSON.stringify(c.allowFrom), JSON.stringify(c.allowIp), c.fromPolicy, c.createdAt], DURABLE);
    if (r.rowCount === 1) await this.#notify('relay-clients');
    return r.rowCount === 1;
  }

  async listRelayClients(): Promise<RelayClientRecord[]> {
    const rows = (await this.#db.query<RelayClientRow>(`SELECT ${RELAY_CLIENT_COLUMNS},
        (SELECT count(*) FROM messages m WHERE m.relay_client_id = r.seq::text AND m.status = 'sent') AS sent,
        (SELECT count(*) FROM messages m WHERE m.relay_client_id = r.seq::text AND m.status = 'failed') AS failed
        FROM relay_clients r ORDER BY seq`)).rows;
    return rows.map(toRelayClient);
  }

  async revokeRelayClient(name: string, at: number): Promise<boolean> {
    const r = await this.#db.query('UPDATE relay_clients SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL', [at, name], DURABLE);
    if (r.rowCount > 0) await this.#notify('relay-clients');
    return r.rowCount > 0;
  }

  async activeRelayClients(): Promise<RelayClientCredentials[]> {
    const rows = (await this.#db.query<RelayClientRow>(`SELECT ${RELAY_CLIENT_COLUMNS} FROM relay_clients WHERE revoked_at IS NULL ORDER BY seq`)).rows;
    return rows.map(toRelayCredentials);
  }

  async touchRelayClient(id: string, at: number): Promise<void> {
    await this.#db.query('UPDATE relay_clients SET last_used_at = $1 WHERE seq = $2 AND (last_used_at IS NULL OR last_used_at < $1)', [at, Number(id)], BOOKKEEPING);
  }

  /** Best effort: a lost notification is made up by the instances' polling. */
  async #notify(what: string): Promise<void> {
    await this.#db.query(`SELECT pg_notify('mailgate_config', $1)`, [what]).catch(() => undefined);
  }
}
