/**
 * `backupDatabase(dataDir, file)`: a consistent copy of the data dir's SQLite database, taken
 * with SQLite's online backup API while the service keeps running (`mailgate backup FILE`).
 *
 * Why not `cp mailgate.db`: with WAL, the committed data is split between mailgate.db and
 * mailgate.db-wal, and a file copy during a write can be torn. The backup API copies pages
 * under SQLite's own locking and restarts when the source changes, so the result is one
 * committed state. The copy is written next to the target and renamed into place (no
 * half-written FILE), mode 0600 (it holds message bodies and, encrypted, the stored secrets),
 * and checked with `quick_check` before it is kept. An existing FILE is not overwritten.
 *
 * What it does not copy: the master key (MAILGATE_MASTER_KEY, or master.key in the data dir),
 * which decrypts the stored secrets. Keep it separately: a backup next to its key protects
 * nothing.
 *
 * Imports: node:fs, node:path, better-sqlite3, ./open (the database file name).
 */
import { chmodSync, existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { DATABASE_FILE } from './open.js';

export interface BackupResult {
  source: string;
  file: string;
  bytes: number;
  messages: number;
}

export class BackupError extends Error {
  override readonly name = 'BackupError';
}

export async function backupDatabase(dataDir: string, target: string): Promise<BackupResult> {
  const source = resolve(join(dataDir, DATABASE_FILE));
  const file = resolve(target);
  if (!existsSync(source)) throw new BackupError(`There is no Mailgate database in ${resolve(dataDir)} (no ${DATABASE_FILE}); name the data dir with --data-dir or MAILGATE_DATA_DIR.`);
  if (existsSync(file)) throw new BackupError(`${file} exists already; choose a new file name (a backup never overwrites one).`);
  if (file === source) throw new BackupError('The backup file cannot be the database itself.');

  const partial = `${file}.partial-${process.pid}`;
  // Created empty with mode 0600 first, so the copy is never readable by others, whatever the umask.
  writeFileSync(partial, '', { mode: 0o600, flag: 'wx' });
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(source, { fileMustExist: true, timeout: 5000 });
    await db.backup(partial);
    db.close();
    db = undefined;

    const copy = new BetterSqlite3(partial, { fileMustExist: true });
    let messages: number;
    try {
      const check = copy.pragma('quick_check(1)', { simple: true });
      if (check !== 'ok') throw new BackupError(`The backup copy failed SQLite's check (${String(check)}); ${file} was not written.`);
      messages = (copy.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
      // The source is in WAL mode and so is the copy's header: fold it into one self-contained file.
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
    chmodSync(partial, 0o600);
    renameSync(partial, file);
    return { source, file, bytes: statSync(file).size, messages };
  } catch (error) {
    db?.close();
    rmSync(partial, { force: true });
    rmSync(`${partial}-wal`, { force: true });
    rmSync(`${partial}-shm`, { force: true });
    if (error instanceof BackupError) throw error;
    throw new BackupError(`The backup of ${source} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
