/**
 * `mailgate backup FILE [--data-dir DIR] [--json]`: a consistent copy of the service's SQLite
 * database, safe while `mailgate serve` runs (../../service/outbox/sqlite/backup.ts). Restore by
 * stopping the service and putting the file in place as <data dir>/mailgate.db, with the same
 * master key.
 *
 * Output: one line naming the file, its size and its message count, and a reminder about the
 * master key (`--json`: {"file","bytes","messages","source"}). Exit 1 on failure.
 *
 * With MAILGATE_DATABASE_URL set the store is PostgreSQL: `backup` refuses (exit 1) and prints
 * the pg_dump command for that database (without its password), rather than copying a data
 * dir's SQLite file the service does not use.
 */
import type { Command } from 'commander';
import { backupDatabase } from '../../service/outbox/sqlite/backup.js';
import { DATA_DIR_HELP, dataDirOf, exitWith } from './store-option.js';

export function registerBackupCommand(program: Command): void {
  program
    .command('backup <file>')
    .description('Copy the data dir\'s database to FILE with SQLite\'s online backup (safe while the service runs)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print {"file","bytes","messages","source"}')
    .action(async (file: string, opts: { dataDir?: string; json?: boolean }) => {
      const databaseUrl = process.env.MAILGATE_DATABASE_URL?.trim();
      if (databaseUrl) {
        const dump = pgDumpCommand(databaseUrl, file);
        process.stderr.write(`mailgate backup: the store is PostgreSQL (MAILGATE_DATABASE_URL: ${dump.database}), not a data dir's SQLite database; nothing was written. Back it up with PostgreSQL's tools, for example:\n  ${dump.command}\nThe stored secrets in it are encrypted with MAILGATE_MASTER_KEY: back the key up too, but not next to the dump.\n`);
        process.exit(1);
      }
      try {
        const r = await backupDatabase(dataDirOf(opts), file);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(r)}\n`);
          return;
        }
        process.stdout.write(`Backed up ${r.source} to ${r.file} (${r.messages} messages, ${(r.bytes / 1024).toFixed(0)} KiB, mode 0600).\n`);
        process.stdout.write('The stored secrets in it are encrypted with the master key (MAILGATE_MASTER_KEY, or master.key in the data dir): back the key up too, but not next to this file.\n');
      } catch (error) {
        exitWith('backup', error);
      }
    });
}

/** The pg_dump command (the URL read from the environment, so its password is never printed) and the database it names, password left out. */
export function pgDumpCommand(url: string, file: string): { command: string; database: string } {
  let database = '(MAILGATE_DATABASE_URL cannot be parsed as a URL)';
  try {
    const u = new URL(url);
    u.password = '';
    // node-postgres also takes the password from the query (?password=).
    u.searchParams.delete('password');
    database = u.toString();
  } catch {
    // pg_dump reports it
  }
  return { command: `pg_dump --format=custom --file='${file.replace(/'/g, "'\\''")}' "$MAILGATE_DATABASE_URL"`, database };
}
