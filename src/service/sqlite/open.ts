/**
 * Opening the SQLite database in the data directory, with clear start-up errors.
 *
 * Why: a corrupt or unwritable data directory must stop the service at start-up with a
 * message naming the path, never be silently recreated (that would lose accepted messages).
 * So: a missing directory is created (first start); a path that is not a directory, a
 * directory we cannot write, a file that is not a SQLite database, or a database from a newer
 * Mailgate are all reported as `DataDirError`.
 *
 * Durability settings (see also write-queue.ts):
 * - journal_mode=WAL: readers never block the writer, and a crash leaves a consistent database.
 * - synchronous=FULL: every COMMIT fsyncs the WAL, so an accepted (202) message survives a power
 *   loss or an OS crash, not only a process crash. NORMAL would survive `kill -9` but could lose
 *   the last commits on power loss, silently breaking the promise the 202 made. Group commit
 *   makes FULL affordable (one fsync per batch, docs/perf-calibration.md).
 * - busy_timeout: other processes (a CLI `apikey create`, a second worker) wait for the lock.
 *
 * Imports: node:fs, better-sqlite3, ./migrate.
 */
import { accessSync, chmodSync, constants, mkdirSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { migrate } from './migrate.js';

export const DATABASE_FILE = 'mailgate.db';

export class DataDirError extends Error {
  override readonly name = 'DataDirError';
  constructor(readonly path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Create the data directory if missing and check that it is a writable directory. */
export function ensureDataDir(dir: string): void {
  let isNew = false;
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) throw new DataDirError(dir, `The data directory ${dir} is not a directory. Set MAILGATE_DATA_DIR to a directory.`);
  } catch (error) {
    if (error instanceof DataDirError) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new DataDirError(dir, `The data directory ${dir} cannot be read: ${describe(error)}`, { cause: error });
    }
    isNew = true;
  }
  if (isNew) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new DataDirError(dir, `The data directory ${dir} cannot be created: ${describe(error)}`, { cause: error });
    }
  }
  try {
    accessSync(dir, constants.W_OK | constants.R_OK | constants.X_OK);
    // access() says yes to root even on a read-only mount: prove it with a real write.
    const probe = join(dir, `.write-test-${process.pid}`);
    writeFileSync(probe, 'ok');
    unlinkSync(probe);
  } catch (error) {
    throw new DataDirError(dir, `The data directory ${dir} is not writable: ${describe(error)}. Fix its permissions or set MAILGATE_DATA_DIR to a writable directory.`, { cause: error });
  }
}

/** Open (or create) the database in `dir`, apply pragmas and migrations. */
export function openDatabase(dir: string): Database {
  ensureDataDir(dir);
  const file = join(dir, DATABASE_FILE);
  let db: Database | undefined;
  try {
    db = new BetterSqlite3(file, { timeout: 5000 });
    // The first statements read the file header: a non-database file fails here.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    const check = db.pragma('quick_check(1)', { simple: true });
    if (check !== 'ok') throw new Error(`integrity check failed: ${String(check)}`);
    migrate(db);
    // Message bodies (reset codes, MFA codes) and hashes live here: owner-only, whatever the umask.
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      try {
        chmodSync(f, 0o600);
      } catch {
        /* the -wal/-shm files may not exist yet */
      }
    }
    return db;
  } catch (error) {
    try {
      db?.close();
    } catch {
      // already failing; report the first error
    }
    throw new DataDirError(
      file,
      `The database ${file} cannot be used: ${describe(error)}. It was left untouched; restore it from a backup or move it away (accepted messages in it would be lost).`,
      { cause: error },
    );
  }
}
