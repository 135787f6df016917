/**
 * Opening the SQLite database in the data directory, with clear start-up errors.
 *
 * Why: a corrupt or unwritable data directory must stop the service at start-up with a
 * message naming the path, never be silently recreated (that would lose accepted messages).
 * So: a missing directory is created (first start); a path that is not a directory, a
 * directory we cannot write, a file that is not a SQLite database, or a database from a newer
 * Mailgate are all reported as `DataDirError`.
 *
 * Only a *missing* database file creates a new database. SQLite itself would happily treat an
 * existing zero-byte file as an empty database and write a fresh schema into it: a database
 * truncated by a bad restore or a full disk would then come back as an empty outbox, every
 * queued message gone without a word. So an existing file must be a regular file holding a
 * SQLite header before SQLite may open it, and it is opened with `fileMustExist`.
 *
 * A full disk is named as such (ENOSPC, SQLITE_FULL), not blamed on permissions, and the
 * start-up write test removes its probe file whatever happens.
 *
 * Durability settings (see also write-queue.ts):
 * - journal_mode=WAL: readers never block the writer, and a crash leaves a consistent database.
 * - synchronous=FULL: every COMMIT fsyncs the WAL, so an accepted (202) message survives a power
 *   loss or an OS crash, not only a process crash. NORMAL would survive `kill -9` but could lose
 *   the last commits on power loss, silently breaking the promise the 202 made. Group commit
 *   makes FULL affordable (one fsync per batch, docs/perf-calibration.md).
 * - busy_timeout: other processes (a CLI `apikey create`, a second worker) wait for the lock.
 *
 * Imports: node:fs, node:crypto, better-sqlite3, ./migrate, ./storage-space.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, closeSync, constants, mkdirSync, openSync, readSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { migrate } from './migrate.js';
import { isStorageFull } from './storage-space.js';

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

function diskFullMessage(dir: string): string {
  return `The data directory ${dir} is full (no space left on device). Free space on that disk (or set MAILGATE_DATA_DIR to a directory on a disk with room) and start again; the database was left untouched.`;
}

const EMPTY = 'the file is empty (0 bytes)';

/** The 16-byte header every SQLite 3 database file starts with. */
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * `missing`, `database` (the file starts with a SQLite header), or why an existing file cannot
 * be opened safely. Reads 16 bytes; never writes.
 */
function inspectDatabaseFile(file: string): 'missing' | 'database' | { problem: string } {
  const problem = (p: string) => ({ problem: p });
  let st;
  try {
    st = statSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    return problem(`it cannot be read (${describe(error)})`);
  }
  // A FIFO or device would block or feed SQLite garbage: only a regular file is a database.
  if (!st.isFile()) return problem('it is not a regular file');
  if (st.size === 0) return problem(`${EMPTY}, so whatever it held is gone; Mailgate creates a new database only when the file is missing`);
  const head = Buffer.alloc(SQLITE_HEADER.length);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const n = readSync(fd, head, 0, head.length, 0);
    if (n < head.length || !head.equals(SQLITE_HEADER)) return problem(`the file is not a SQLite database (${st.size} bytes without a SQLite header)`);
  } catch (error) {
    return problem(`it cannot be read (${describe(error)})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return 'database';
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
      if (isStorageFull(error)) throw new DataDirError(dir, diskFullMessage(dir), { cause: error });
      throw new DataDirError(dir, `The data directory ${dir} cannot be created: ${describe(error)}`, { cause: error });
    }
  }
  try {
    accessSync(dir, constants.W_OK | constants.R_OK | constants.X_OK);
    // access() says yes to root even on a read-only mount: prove it with a real write.
    const probe = join(dir, `.write-test-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      writeFileSync(probe, 'ok');
    } finally {
      // On a full disk the file is created and the write then fails: remove it either way.
      try {
        unlinkSync(probe);
      } catch {
        /* never created */
      }
    }
  } catch (error) {
    if (isStorageFull(error)) throw new DataDirError(dir, diskFullMessage(dir), { cause: error });
    throw new DataDirError(dir, `The data directory ${dir} is not writable: ${describe(error)}. Fix its permissions or set MAILGATE_DATA_DIR to a writable directory.`, { cause: error });
  }
}

/** Open (or create) the database in `dir`, apply pragmas and migrations. */
export function openDatabase(dir: string): Database {
  ensureDataDir(dir);
  const file = join(dir, DATABASE_FILE);
  let found = inspectDatabaseFile(file);
  if (typeof found === 'object' && found.problem.startsWith(EMPTY)) {
    // Another process creating the database at this very moment (a first `serve` and an
    // `apikey create` together) shows an empty file for a few microseconds before SQLite writes
    // its header: look once more before calling it lost.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    found = inspectDatabaseFile(file);
  }
  if (typeof found === 'object') {
    throw new DataDirError(file, `The database ${file} cannot be used: ${found.problem}. It was left untouched; restore it from a backup, or move it away to start with an empty outbox (accepted messages in it would be lost).`);
  }
  let db: Database | undefined;
  try {
    // An existing file must still exist when SQLite opens it (never re-created in between).
    db = new BetterSqlite3(file, { timeout: 5000, fileMustExist: found === 'database' });
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
    if (isStorageFull(error)) throw new DataDirError(dir, diskFullMessage(dir), { cause: error });
    throw new DataDirError(
      file,
      `The database ${file} cannot be used: ${describe(error)}. It was left untouched; restore it from a backup or move it away (accepted messages in it would be lost).`,
      { cause: error },
    );
  }
}
