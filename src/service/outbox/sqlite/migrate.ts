/**
 * Numbered SQL migrations for the SQLite store.
 *
 * Why: the schema must evolve without hand work, and several processes starting together
 * (serve, a CLI `apikey create`, a second worker) must not apply a migration twice. Migrations
 * are plain SQL files `NNNN_name.sql` (reviewable diffs, never edited once released), applied in
 * order inside one `BEGIN IMMEDIATE` transaction each, which re-reads the applied versions
 * after taking the write lock.
 *
 * The files live in `src/service/outbox/sqlite/migrations/`. `tsc` does not copy them to dist/, so the
 * loader looks next to this module first and then in the source tree.
 *
 * Imports: node:fs, better-sqlite3 types.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Database } from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const CANDIDATE_DIRS = [
  new URL('./migrations/', import.meta.url),
  // dist/src/service/outbox/sqlite/ -> src/service/outbox/sqlite/migrations/
  new URL('../../../../../src/service/outbox/sqlite/migrations/', import.meta.url),
];

/** The directory holding the migration files. */
export function migrationsDir(): string {
  for (const url of CANDIDATE_DIRS) {
    const dir = fileURLToPath(url);
    if (existsSync(dir)) return dir;
  }
  throw new Error(`Mailgate's SQL migrations were not found (looked in ${CANDIDATE_DIRS.map((u) => fileURLToPath(u)).join(', ')}); the installation is incomplete.`);
}

/** All migrations, ordered by version. */
export function loadMigrations(dir = migrationsDir()): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) continue;
    out.push({ version: Number(m[1]), name: m[2], sql: readFileSync(`${dir}/${file}`, 'utf8') });
  }
  out.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`Migration numbering has a gap or duplicate at ${m.version}_${m.name} in ${dir}`);
  });
  return out;
}

/**
 * Apply every migration not applied yet. Throws when the database was created by a newer
 * Mailgate (it knows migrations this one does not).
 */
export function migrate(db: Database, migrations: Migration[] = loadMigrations()): { applied: number[] } {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied: number[] = [];
  const latest = migrations.length ? migrations[migrations.length - 1].version : 0;
  for (const m of migrations) {
    db.transaction(() => {
      const done = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version);
      if (done) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      applied.push(m.version);
    }).immediate();
  }
  const max = (db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
  if (max > latest) {
    throw new Error(`the database has schema version ${max}, newer than this Mailgate knows (${latest}); upgrade Mailgate or use another data directory`);
  }
  return { applied };
}
