/**
 * Opening a service's database strictly for reading (the doctor's `--data-dir`).
 *
 * Why: a diagnostic tool must never change what it diagnoses. `openSqliteStore` is for the
 * service: it creates the data dir, writes a probe file, switches the journal mode and applies
 * migrations. Here the file is opened with better-sqlite3 `readonly: true` and `fileMustExist`,
 * no pragma that writes, no migration: a schema older or newer than this Mailgate knows is
 * refused with a message saying which (migrating it is the service's job, on its own start).
 *
 * SQLite opens a WAL database read-only only with its -wal/-shm files present, and creates them
 * when missing (they hold no data; the database file itself is not touched). When it had to
 * create them they get the database's mode and, when we run as root, its owner: otherwise a
 * doctor run by root could leave files the service's user cannot open.
 *
 * Imports: node:fs, better-sqlite3, ./open (DATABASE_FILE, DataDirError), ./migrate,
 * ./sqlite-config, ./write-queue, ../store (types).
 */
import { chmodSync, chownSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import type { ConfigStore } from '../store.js';
import { loadMigrations } from './migrate.js';
import { DATABASE_FILE, DataDirError } from './open.js';
import { SqliteConfig } from './sqlite-config.js';
import { WriteQueue } from './write-queue.js';

/** What a reader may do: no method here writes. */
export interface ReadOnlyStore extends Pick<ConfigStore, 'getSettings' | 'getMeta' | 'settingsVersion' | 'listRelayClients'> {
  close(): void;
}

function schemaVersion(db: Database, file: string): number {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!table) throw new DataDirError(file, `The database ${file} has no Mailgate schema (no schema_migrations table); is it a Mailgate data dir?`);
  return (db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
}

/** Open `dataDir`'s database read-only; throws DataDirError (naming the path) when it cannot be read as this Mailgate's schema. */
export function openReadOnlyStore(dataDir: string): ReadOnlyStore {
  const file = join(dataDir, DATABASE_FILE);
  const created = [`${file}-wal`, `${file}-shm`].filter((f) => !existsSync(f));
  let db: Database | undefined;
  try {
    db = new BetterSqlite3(file, { readonly: true, fileMustExist: true, timeout: 5000 });
    const have = schemaVersion(db, file);
    const known = loadMigrations().at(-1)?.version ?? 0;
    if (have < known) {
      throw new DataDirError(file, `The database ${file} has schema version ${have}, older than this Mailgate's (${known}). The doctor does not upgrade it: start the service of this version once (it migrates the database), or run the doctor of the Mailgate version that serves this data dir.`);
    }
    if (have > known) {
      throw new DataDirError(file, `The database ${file} has schema version ${have}, newer than this Mailgate knows (${known}): run the doctor of the Mailgate version that serves this data dir.`);
    }
  } catch (error) {
    db?.close();
    if (error instanceof DataDirError) throw error;
    throw new DataDirError(file, `The database ${file} cannot be read: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  } finally {
    matchOwner(file, created);
  }
  // The queue is never written through: SqliteConfig shares one with the service's writers.
  const config = new SqliteConfig(db, new WriteQueue(db));
  const conn = db;
  return {
    getSettings: () => config.getSettings(),
    getMeta: (key) => config.getMeta(key),
    settingsVersion: () => config.settingsVersion(),
    listRelayClients: () => config.listRelayClients(),
    close: () => conn.close(),
  };
}

/** Give the -wal/-shm files SQLite just created the database file's mode (and owner, as root). */
function matchOwner(file: string, created: string[]): void {
  let st;
  try {
    st = statSync(file);
  } catch {
    return;
  }
  for (const f of created) {
    if (!existsSync(f)) continue;
    try {
      chmodSync(f, st.mode & 0o666);
      if (process.getuid?.() === 0) chownSync(f, st.uid, st.gid);
    } catch {
      /* best effort: the service fixes the mode of these files on its own start */
    }
  }
}
