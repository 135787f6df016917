/**
 * Numbered SQL migrations for the PostgreSQL store, applied under an advisory lock.
 *
 * Why: several instances start at once against one database (a Kubernetes rollout), and each
 * would otherwise apply the same migration concurrently (one fails on "relation exists", or
 * worse, half a schema). A session-level advisory lock (`pg_advisory_lock`) makes the whole
 * check-and-apply one critical section across every instance and `mailgate migrate`; each
 * migration then runs in its own transaction with its schema_migrations row, so a failure
 * leaves the previous version intact. The files live in `postgres/migrations/` (same
 * `NNNN_name.sql` rules as SQLite's, their own numbering).
 *
 * Imports: node:fs, node:url, pg types, ../sqlite/migrate (the file loader, shared).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClientBase } from 'pg';
import { loadMigrations, type Migration } from '../sqlite/migrate.js';

const CANDIDATE_DIRS = [
  new URL('./migrations/', import.meta.url),
  // dist/src/service/outbox/postgres/ -> src/service/outbox/postgres/migrations/
  new URL('../../../../../src/service/outbox/postgres/migrations/', import.meta.url),
];

/** The advisory lock key every Mailgate migration takes ("mailgate" as a 64-bit number). */
export const MIGRATION_LOCK_KEY = 0x6d61696c67617465n;

export function pgMigrationsDir(): string {
  for (const url of CANDIDATE_DIRS) {
    const dir = fileURLToPath(url);
    if (existsSync(dir)) return dir;
  }
  throw new Error(`Mailgate's PostgreSQL migrations were not found (looked in ${CANDIDATE_DIRS.map((u) => fileURLToPath(u)).join(', ')}); the installation is incomplete.`);
}

export function loadPgMigrations(): Migration[] {
  return loadMigrations(pgMigrationsDir());
}

export interface PgMigrateResult {
  applied: number[];
  version: number;
}

/**
 * Apply every migration not applied yet, on `client`, holding the advisory lock throughout.
 * Throws when the database has a newer schema than this Mailgate knows. With `check` set, only
 * reports (applies nothing) and throws when migrations are pending: instances started with
 * MAILGATE_DATABASE_MIGRATE=off use that, so only `mailgate migrate` changes the schema.
 */
export async function migratePg(client: ClientBase, opts: { migrations?: Migration[]; check?: boolean; schema?: string } = {}): Promise<PgMigrateResult> {
  const migrations = opts.migrations ?? loadPgMigrations();
  const latest = migrations.length ? migrations[migrations.length - 1].version : 0;
  // Waiting for another instance's migration may take longer than the pool's statement timeout.
  await client.query('SET statement_timeout = 0');
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
  try {
    // Under the lock too: two concurrent CREATE SCHEMA IF NOT EXISTS race in the catalog.
    if (opts.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)');
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)));
    const max = Math.max(0, ...done);
    if (max > latest) {
      throw new Error(`the database has schema version ${max}, newer than this Mailgate knows (${latest}); upgrade Mailgate or use another database`);
    }
    const pending = migrations.filter((m) => !done.has(m.version));
    if (opts.check) {
      if (pending.length) throw new Error(`the database schema is at version ${max}, this Mailgate needs ${latest}: run \`mailgate migrate\` first (MAILGATE_DATABASE_MIGRATE=off forbids migrating at start)`);
      return { applied: [], version: max };
    }
    const applied: number[] = [];
    for (const m of pending) {
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`PostgreSQL migration ${m.version}_${m.name} failed: ${(error as Error).message}`, { cause: error });
      }
      applied.push(m.version);
    }
    return { applied, version: Math.max(max, ...applied) };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch(() => undefined);
    await client.query('RESET statement_timeout').catch(() => undefined);
  }
}
