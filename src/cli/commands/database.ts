/**
 * `mailgate migrate` and `mailgate export-sqlite --to postgres://...` (issue 18).
 *
 * - migrate: apply pending migrations explicitly, for operators who start instances with
 *   MAILGATE_DATABASE_MIGRATE=off (the schema changes once, from a deploy job, not from
 *   whichever instance starts first). PostgreSQL (MAILGATE_DATABASE_URL or --database-url)
 *   under the advisory lock; without a URL, the data dir's SQLite database.
 * - export-sqlite: copy a stopped single instance's data dir into an empty PostgreSQL database
 *   (every queued message, keys, relay clients, settings, audit), in one transaction.
 *
 * The database URL is never printed (it may carry a password). Exit 1 on failure.
 */
import type { Command } from 'commander';
import { openPgStore } from '../../service/outbox/postgres/pg-store.js';
import { migratePg } from '../../service/outbox/postgres/pg-migrate.js';
import { exportSqliteToPg } from '../../service/outbox/postgres/export-sqlite.js';
import { openSqliteStore } from '../../service/outbox/sqlite/sqlite-store.js';
import { DATA_DIR_HELP, dataDirOf, exitWith } from './store-option.js';
import pg from 'pg';

function urlOf(opts: { databaseUrl?: string }): string | undefined {
  const u = opts.databaseUrl ?? process.env.MAILGATE_DATABASE_URL;
  return u?.trim() || undefined;
}

export function registerDatabaseCommands(program: Command): void {
  program
    .command('migrate')
    .description('Apply pending database migrations (PostgreSQL with MAILGATE_DATABASE_URL, under an advisory lock; else the data dir\'s SQLite)')
    .option('--database-url <url>', 'postgres://... (default MAILGATE_DATABASE_URL)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (opts: { databaseUrl?: string; dataDir?: string }) => {
      try {
        const url = urlOf(opts);
        if (!url) {
          const dir = dataDirOf(opts);
          const store = openSqliteStore(dir); // migrates on open
          await store.close();
          process.stdout.write(`SQLite database in ${dir} is up to date.\n`);
          return;
        }
        if (!/^postgres(ql)?:\/\//i.test(url)) throw new Error('the database URL must start with postgres:// or postgresql://');
        const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
        // pg emits 'error' when the connection fails (reset, server shutdown), even while a
        // statement runs; unheard, that was an uncaught exception (a stack trace) instead of
        // this command's own message. The statement in flight fails with it anyway.
        client.on('error', () => undefined);
        await client.connect();
        try {
          const r = await migratePg(client);
          process.stdout.write(r.applied.length
            ? `PostgreSQL schema migrated to version ${r.version} (applied ${r.applied.join(', ')}).\n`
            : `PostgreSQL schema is up to date (version ${r.version}).\n`);
        } finally {
          await client.end();
        }
      } catch (error) {
        exitWith('migrate', error);
      }
    });

  program
    .command('export-sqlite')
    .description('Copy a stopped instance\'s SQLite data dir (every queued message, keys, relay clients, settings) into an empty PostgreSQL database')
    .requiredOption('--to <url>', 'postgres://... of the target database (migrated first)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print {"source","rows","pending"}')
    .action(async (opts: { to: string; dataDir?: string; json?: boolean }) => {
      try {
        if (!/^postgres(ql)?:\/\//i.test(opts.to)) throw new Error('--to must be a postgres:// or postgresql:// URL');
        // Migrate the target first (a fresh database has no tables yet).
        await (await openPgStore({ url: opts.to, maxConnections: 1 })).close();
        const r = await exportSqliteToPg(dataDirOf(opts), opts.to);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(r)}\n`);
          return;
        }
        process.stdout.write(`Exported ${r.source} to PostgreSQL: ${r.rows.messages ?? 0} messages (${r.pending} still to deliver), ${r.rows.api_keys ?? 0} API keys, ${r.rows.relay_clients ?? 0} relay clients, ${r.rows.settings ?? 0} settings.\n`);
        process.stdout.write('Start the instances with MAILGATE_DATABASE_URL and the same master key (MAILGATE_MASTER_KEY; if the data dir used master.key, its content). Do not start the SQLite instance again: it would deliver the same messages.\n');
      } catch (error) {
        exitWith('export-sqlite', error);
      }
    });
}
