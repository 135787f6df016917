/**
 * `mailgate export-sqlite --to postgres://...`: move a single-instance data dir's SQLite
 * database into an empty PostgreSQL database, with every queued message.
 *
 * Why: an operator moving from one instance to several must not lose or resend what is queued,
 * nor re-create API keys (their ids are in the messages) or relay clients. So every row is
 * copied with its own `seq` (API key and relay client ids are seqs), in ONE transaction
 * committed synchronously: the target has all of it or none. The target must be empty of
 * messages, keys, clients and settings (an export into a live database would mix two outboxes).
 * Run it with the service stopped: a message accepted during the export would stay behind.
 *
 * Messages in `sending` at export time (a crash left them leased) keep their lease: it expires
 * and the first PostgreSQL instance reclaims them, exactly as a restarted SQLite instance would.
 * The stored secrets stay encrypted with the same master key: the instances need that key in
 * MAILGATE_MASTER_KEY.
 *
 * Senders (issue 16): every column both schemas know is copied, so `messages.sender` and
 * `api_keys.senders` (SQLite 0005, PostgreSQL 0003) travel with their rows, and the senders
 * configuration travels with the settings table (its `senders.config` row, secrets still
 * encrypted). A source from before SQLite 0005 has no sender column: its messages get the
 * sender that migration would have given them, lower(mailbox) (the one Authorized from Address).
 *
 * Imports: better-sqlite3, node:path, ../sqlite/open (file name), ./pg-store.
 */
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { PoolClient } from 'pg';
import { DATABASE_FILE } from '../sqlite/open.js';
import { openPgStore } from './pg-store.js';

/** Tables copied, in foreign-key order, with their boolean columns (SQLite 0/1). Admin sessions are not copied (sign in again). */
const TABLES: { name: string; booleans?: string[]; skipKeys?: string[] }[] = [
  { name: 'api_keys' },
  { name: 'relay_clients', booleans: ['no_auth'] },
  { name: 'messages', booleans: ['is_test'] },
  { name: 'message_payloads' },
  { name: 'attempts' },
  { name: 'settings' },
  { name: 'meta', skipKeys: ['heartbeat'] },
  { name: 'audit_log' },
];

export interface ExportResult {
  source: string;
  /** Rows copied per table. */
  rows: Record<string, number>;
  /** Messages still to deliver (queued, retrying, sending). */
  pending: number;
}

async function insertRows(c: PoolClient, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  const per = Math.max(1, Math.floor(30_000 / columns.length));
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    const params: unknown[] = [];
    const values = chunk.map((r) => `(${r.map((v) => { params.push(v); return `$${params.length}`; }).join(', ')})`);
    await c.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values.join(', ')}`, params);
  }
}

export async function exportSqliteToPg(dataDir: string, url: string): Promise<ExportResult> {
  const file = join(dataDir, DATABASE_FILE);
  const src = new BetterSqlite3(file, { readonly: true, fileMustExist: true, timeout: 5000 });
  const pgStore = await openPgStore({ url, maxConnections: 2 });
  try {
    const version = (src.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
    if (version < 4) throw new Error(`the SQLite database ${file} has schema version ${version}; start this Mailgate on it once (it migrates to 4 or later), stop it, then export`);
    const rows: Record<string, number> = {};
    await pgStore.db.tx(async (c) => {
      const busy = (await c.query<{ n: number }>(`SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM relay_clients) + (SELECT count(*) FROM settings) AS n`)).rows[0].n;
      if (busy > 0) throw new Error('the PostgreSQL database already holds messages, API keys, relay clients or settings; export only into an empty Mailgate database');
      await c.query(`DELETE FROM meta WHERE key <> 'heartbeat'`);
      for (const t of TABLES) {
        const pgCols = (await c.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema()`, [t.name])).rows.map((r) => r.column_name);
        const srcCols = (src.prepare(`PRAGMA table_info(${t.name})`).all() as { name: string }[]).map((r) => r.name);
        // Only columns both know (SQLite's retired 0001 idempotency_key column has no PostgreSQL twin).
        const cols = srcCols.filter((col) => pgCols.includes(col));
        let data = src.prepare(`SELECT ${cols.join(', ')} FROM ${t.name}`).raw(true).all() as unknown[][];
        if (t.skipKeys) data = data.filter((r) => !t.skipKeys!.includes(String(r[cols.indexOf('key')])));
        const bools = (t.booleans ?? []).map((b) => cols.indexOf(b)).filter((i) => i >= 0);
        for (const r of data) for (const i of bools) r[i] = r[i] === 1 || r[i] === true;
        if (data.length) await insertRows(c, t.name, cols, data);
        if (t.name === 'messages' && pgCols.includes('sender') && !cols.includes('sender')) {
          // As SQLite 0005 / PostgreSQL 0003 fill it for rows from before several senders.
          await c.query(`UPDATE messages SET sender = lower(mailbox) WHERE sender IS NULL AND mailbox <> ''`);
        }
        rows[t.name] = data.length;
        if (cols.includes('seq') && t.name !== 'message_payloads') {
          await c.query(`SELECT setval(pg_get_serial_sequence($1, 'seq'), greatest((SELECT max(seq) FROM ${t.name}), 1), (SELECT count(*) > 0 FROM ${t.name}))`, [t.name]);
        }
      }
    }, { durable: true });
    const pending = (src.prepare(`SELECT count(*) AS n FROM messages WHERE status IN ('queued', 'retrying', 'sending')`).get() as { n: number }).n;
    return { source: file, rows, pending };
  } finally {
    src.close();
    await pgStore.close();
  }
}
