/**
 * A connection the PostgreSQL server ends while Mailgate holds it between two statements of a
 * transaction (a server shutdown or pg_terminate_backend: the 57P01 error arrives with no query
 * running). pg emits 'error' on such a client and pg-pool takes its own listener off a
 * connection it hands out, so before PgDb gave every pooled connection a listener of its own
 * (constructor), this was an uncaught exception that ended
 * the process: found by the outage test with Idempotency-Key posts (the keyed enqueue is a
 * transaction). Asserted: the transaction rejects with StoreUnavailableError (a 503), nothing
 * is thrown outside it, and the pool goes on working with a new connection.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { StoreUnavailableError } from '../../src/service/outbox/store.js';
import { countPostgresTests, freshPgStore, pgSkip, pgUrl } from '../helpers/postgres.js';

if (!pgSkip) countPostgresTests();

describe('a PostgreSQL connection ended between two statements of a transaction', { skip: pgSkip }, () => {
  it('rejects the transaction as unavailable instead of an uncaught error, and the pool recovers', async () => {
    const { store, cleanup } = await freshPgStore();
    const admin = new pg.Client({ connectionString: pgUrl });
    const uncaught: Error[] = [];
    const onUncaught = (e: Error) => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      await admin.connect();
      const outcome = await store.db.tx(async (c) => {
        const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        // The server's 57P01 and the close arrive while this connection runs no query.
        await new Promise((resolve) => setTimeout(resolve, 300));
        await c.query('SELECT 1');
        return 'committed';
      }, { durable: true }).then((v) => v, (e: unknown) => e);
      assert.ok(outcome instanceof StoreUnavailableError, `the transaction fails as unavailable (got ${String(outcome)})`);
      assert.deepEqual(uncaught.map((e) => e.message), [], 'nothing thrown outside the transaction');
      const again = await store.db.tx(async (c) => (await c.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, { durable: true });
      assert.equal(again, 1, 'the next transaction gets a working connection');
    } finally {
      process.off('uncaughtException', onUncaught);
      await admin.end().catch(() => undefined);
      await cleanup();
    }
  });
});
