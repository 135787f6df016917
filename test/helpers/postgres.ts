/**
 * PostgreSQL for tests: the database of this test run (MAILGATE_TEST_DATABASE_URL, set by
 * scripts/run-tests.mjs from its throwaway cluster, or by the developer), a fresh schema per
 * store, and a loud skip reason when there is none.
 *
 * Files that use it have `postgres` in their name: run-tests.mjs starts the cluster only when
 * such a file is selected, and counts their tests in its summary.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { afterEach } from 'node:test';
import pg from 'pg';
import { openPgStore, type PgStore } from '../../src/service/outbox/postgres/pg-store.js';

export const pgUrl: string | undefined = process.env.MAILGATE_TEST_DATABASE_URL || undefined;

/** false when PostgreSQL is available, else why the suite skips and how to run it. */
export const pgSkip: string | false = pgUrl
  ? false
  : 'SKIPPED: no PostgreSQL for the tests. Run `npm test` (it starts a throwaway cluster when /usr/lib/postgresql/*/bin exists: apt-get install postgresql) or set MAILGATE_TEST_DATABASE_URL=postgres://... to an empty database you own';

if (pgSkip) process.stderr.write(`\n*** PostgreSQL tests ${pgSkip}\n\n`);

/**
 * Count this file's tests that ran on PostgreSQL (call once at the top of the file, when not
 * skipping): run-tests.mjs prints the total, so a green run that skipped PostgreSQL shows.
 */
export function countPostgresTests(): void {
  let ran = 0;
  afterEach(() => {
    ran++;
  });
  process.on('exit', () => {
    const file = process.env.MAILGATE_TEST_PG_COUNT_FILE;
    if (file && ran > 0) appendFileSync(file, `${ran}\n`);
  });
}

export function freshSchemaName(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

/** A store on a new, empty schema; `cleanup` closes it and drops the schema. */
export async function freshPgStore(schema = freshSchemaName()): Promise<{ store: PgStore; schema: string; reopen(): Promise<PgStore>; cleanup(): Promise<void> }> {
  const url = pgUrl!;
  const store = await openPgStore({ url, schema, maxConnections: 4 });
  return {
    store,
    schema,
    reopen: () => openPgStore({ url, schema, maxConnections: 4 }),
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
}

export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}
