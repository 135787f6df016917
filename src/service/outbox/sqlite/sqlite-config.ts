/**
 * The configuration half of the SQLite store: stored settings (values arrive already
 * encrypted where secret), metadata, the audit log and API key hashes.
 *
 * Why a separate file: none of this is on the delivery path; keeping it apart keeps the
 * outbox statements short and reviewable. Writes share the outbox's WriteQueue.
 *
 * Imports: better-sqlite3 types, ../store, ../config-rows.
 */
import type { Database, Statement } from 'better-sqlite3';
import { SettingsConflictError, type ApiKeyRecord, type ApiKeyScope, type AuditEntry, type ConfigStore, type NewRelayClient, type RelayClientCredentials, type RelayClientRecord } from '../store.js';
import { API_KEY_COLUMNS, RELAY_CLIENT_COLUMNS, toApiKey, toRelayClient, toRelayCredentials, type ApiKeyRow, type RelayClientRow } from '../config-rows.js';
import type { WriteQueue } from './write-queue.js';

const SETTINGS_VERSION = 'settings.version';

export class SqliteConfig implements ConfigStore {
  readonly #queue: WriteQueue;
  readonly #s: Record<string, Statement>;

  constructor(db: Database, queue: WriteQueue) {
    this.#queue = queue;
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      settings: p('SELECT key, value FROM settings'),
      putSetting: p('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at'),
      deleteSetting: p('DELETE FROM settings WHERE key = ?'),
      getMeta: p('SELECT value FROM meta WHERE key = ?'),
      setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      setMetaIfAbsent: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),
      audit: p('INSERT INTO audit_log (at, actor, action, detail) VALUES (?, ?, ?, ?)'),
      listAudit: p('SELECT at, actor, action, detail FROM audit_log ORDER BY seq DESC LIMIT ?'),
      activeKeyByName: p('SELECT 1 FROM api_keys WHERE name = ? AND revoked_at IS NULL'),
      insertKey: p('INSERT INTO api_keys (name, scope, key_hash, prefix, created_at, senders) VALUES (?, ?, ?, ?, ?, ?)'),
      listKeys: p(`SELECT ${API_KEY_COLUMNS} FROM api_keys ORDER BY seq`),
      revokeKey: p('UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL'),
      findKey: p(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL`),
      activeRelayByName: p('SELECT 1 FROM relay_clients WHERE (name = ? OR username = ?) AND revoked_at IS NULL'),
      insertRelay: p(`INSERT INTO relay_clients (name, username, password_hash, no_auth, allow_from, allow_ip, from_policy, created_at)
        VALUES (@name, @username, @passwordHash, @noAuth, @allowFrom, @allowIp, @fromPolicy, @createdAt)`),
      listRelay: p(`SELECT ${RELAY_CLIENT_COLUMNS},
        (SELECT count(*) FROM messages m WHERE m.relay_client_id = CAST(r.seq AS TEXT) AND m.status = 'sent') AS sent,
        (SELECT count(*) FROM messages m WHERE m.relay_client_id = CAST(r.seq AS TEXT) AND m.status = 'failed') AS failed
        FROM relay_clients r ORDER BY seq`),
      revokeRelay: p('UPDATE relay_clients SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL'),
      activeRelay: p(`SELECT ${RELAY_CLIENT_COLUMNS} FROM relay_clients WHERE revoked_at IS NULL ORDER BY seq`),
      touchRelay: p('UPDATE relay_clients SET last_used_at = ? WHERE seq = ? AND (last_used_at IS NULL OR last_used_at < ?)'),
      touchKey: p('UPDATE api_keys SET last_used_at = ? WHERE key_hash = ? AND (last_used_at IS NULL OR last_used_at < ?)'),
    };
  }

  async getSettings(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const r of this.#s.settings.all() as { key: string; value: string }[]) out[r.key] = r.value;
    return out;
  }

  saveSettings(changes: Record<string, string | null>, audit: AuditEntry, options: { expectedVersion?: number } = {}): Promise<number> {
    return this.#queue.write(() => {
      // Compare-and-set: the write queue runs this inside BEGIN IMMEDIATE (the database's write
      // lock, across processes), so the version read here cannot change before the commit. A
      // throw rolls the batch back and the queue replays the other writes on their own.
      if (options.expectedVersion !== undefined) {
        const current = this.#version();
        if (current !== options.expectedVersion) throw new SettingsConflictError(options.expectedVersion, current);
      }
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) this.#s.deleteSetting.run(key);
        else this.#s.putSetting.run(key, value, audit.at);
      }
      this.#insertAudit(audit);
      const version = this.#version() + 1;
      this.#s.setMeta.run(SETTINGS_VERSION, String(version));
      return version;
    });
  }

  #version(): number {
    const r = this.#s.getMeta.get(SETTINGS_VERSION) as { value: string } | undefined;
    return r ? Number(r.value) : 0;
  }

  async settingsVersion(): Promise<number> {
    return this.#version();
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (this.#s.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): Promise<void> {
    return this.#queue.write(() => {
      this.#s.setMeta.run(key, value);
    });
  }

  setMetaIfAbsent(key: string, value: string): Promise<string> {
    return this.#queue.write(() => {
      this.#s.setMetaIfAbsent.run(key, value);
      return (this.#s.getMeta.get(key) as { value: string }).value;
    });
  }

  #insertAudit(e: AuditEntry): void {
    this.#s.audit.run(e.at, e.actor, e.action, JSON.stringify(e.detail));
  }

  appendAudit(entry: AuditEntry): Promise<void> {
    return this.#queue.write(() => this.#insertAudit(entry));
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    const rows = this.#s.listAudit.all(Math.max(1, Math.min(1000, limit))) as { at: number; actor: string; action: string; detail: string }[];
    return rows.map((r) => ({ at: r.at, actor: r.actor, action: r.action, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  createApiKey(k: { name: string; scope: ApiKeyScope; hash: string; prefix: string; createdAt: number; senders?: string[] }): Promise<boolean> {
    return this.#queue.write(() => {
      if (this.#s.activeKeyByName.get(k.name)) return false;
      this.#s.insertKey.run(k.name, k.scope, k.hash, k.prefix, k.createdAt, k.senders?.length ? JSON.stringify(k.senders) : null);
      return true;
    });
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return (this.#s.listKeys.all() as ApiKeyRow[]).map(toApiKey);
  }

  revokeApiKey(name: string, at: number): Promise<boolean> {
    return this.#queue.write(() => this.#s.revokeKey.run(at, name).changes > 0);
  }

  async findApiKey(hash: string): Promise<ApiKeyRecord | undefined> {
    const row = this.#s.findKey.get(hash) as ApiKeyRow | undefined;
    return row ? toApiKey(row) : undefined;
  }

  /** Bookkeeping (lazy, no fsync): "last used" may lag after a crash, nothing else depends on it. */
  touchApiKey(hash: string, at: number): Promise<void> {
    return this.#queue.write(() => {
      this.#s.touchKey.run(at, hash, at);
    }, { lazy: true, durable: false });
  }

  createRelayClient(c: NewRelayClient): Promise<boolean> {
    return this.#queue.write(() => {
      if (this.#s.activeRelayByName.get(c.name, c.username)) return false;
      this.#s.insertRelay.run({
        name: c.name,
        username: c.username,
        passwordHash: c.passwordHash ?? null,
        noAuth: c.noAuth ? 1 : 0,
        allowFrom: JSON.stringify(c.allowFrom),
        allowIp: JSON.stringify(c.allowIp),
        fromPolicy: c.fromPolicy,
        createdAt: c.createdAt,
      });
      return true;
    });
  }

  async listRelayClients(): Promise<RelayClientRecord[]> {
    return (this.#s.listRelay.all() as RelayClientRow[]).map(toRelayClient);
  }

  revokeRelayClient(name: string, at: number): Promise<boolean> {
    return this.#queue.write(() => this.#s.revokeRelay.run(at, name).changes > 0);
  }

  async activeRelayClients(): Promise<RelayClientCredentials[]> {
    return (this.#s.activeRelay.all() as RelayClientRow[]).map(toRelayCredentials);
  }

  /** Bookkeeping (lazy, no fsync), like touchApiKey. */
  touchRelayClient(id: string, at: number): Promise<void> {
    return this.#queue.write(() => {
      this.#s.touchRelay.run(at, Number(id), at);
    }, { lazy: true, durable: false });
  }
}
