/**
 * Runs the Store contract against PostgreSQL (a fresh schema per test on the run's throwaway
 * cluster, see test/helpers/postgres.ts), plus what only PostgreSQL has: migrations under an
 * advisory lock (two instances starting at once), synchronous commit for durable writes, and
 * StoreUnavailableError when the database cannot be reached.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { openPgStore } from '../../src/service/outbox/postgres/pg-store.js';
import { loadPgMigrations } from '../../src/service/outbox/postgres/pg-migrate.js';
import { StoreUnavailableError } from '../../src/service/outbox/store.js';
import { runStoreContract, newMessage } from './store-contract.js';
import { countPostgresTests, dropSchema, freshPgStore, freshSchemaName, pgSkip, pgUrl } from '../helpers/postgres.js';

if (pgSkip) {
  describe('Store contract: postgres', () => {
    it('runs on PostgreSQL', { skip: pgSkip }, () => undefined);
  });
} else {
  countPostgresTests();
  runStoreContract('postgres', async () => freshPgStore());

  describe('PostgreSQL store specifics', () => {
    it('two instances starting at once on an empty database migrate once, without racing', async () => {
      const schema = freshSchemaName();
      try {
        const stores = await Promise.all([1, 2, 3].map(() => openPgStore({ url: pgUrl!, schema, maxConnections: 2 })));
        const c = new pg.Client({ connectionString: pgUrl });
        await c.connect();
        try {
          const rows = (await c.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`)).rows.map((r) => r.version);
          assert.deepEqual(rows, loadPgMigrations().map((m) => m.version), 'each migration applied exactly once');
        } finally {
          await c.end();
        }
        // All three work on the same data.
        const m = newMessage();
        await stores[0].enqueue(m);
        assert.equal((await stores[2].get(m.id))?.status, 'queued');
        for (const s of stores) await s.close();
      } finally {
        await dropSchema(schema);
      }
    });

    it('refuses a database with a newer schema, and check mode refuses pending migrations', async () => {
      const schema = freshSchemaName();
      try {
        const c = new pg.Client({ connectionString: pgUrl });
        await c.connect();
        try {
          await c.query(`CREATE SCHEMA ${schema}`);
          await c.query(`CREATE TABLE ${schema}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
          await assert.rejects(openPgStore({ url: pgUrl!, schema, migrate: 'check' }), /run `mailgate migrate` first/);
          await c.query(`INSERT INTO ${schema}.schema_migrations VALUES (999, 'future', 0)`);
          await assert.rejects(openPgStore({ url: pgUrl!, schema }), /newer than this Mailgate knows/);
        } finally {
          await c.end();
        }
      } finally {
        await dropSchema(schema);
      }
    });

    it('enqueues commit synchronously; claims and results are bookkeeping commits', async () => {
      const h = await freshPgStore();
      try {
        const sc = async (pool: pg.Pool) => (await pool.query('SHOW synchronous_commit')).rows[0].synchronous_commit;
        assert.equal(await sc(h.store.db.durable), 'on');
        assert.equal(await sc(h.store.db.bookkeeping), 'off');
        const before = h.store.writeStats.durableBatches;
        await h.store.enqueue(newMessage());
        assert.equal(h.store.writeStats.durableBatches, before + 1);
        const [c] = await h.store.claim({ owner: 'w', limit: 1, now: 1_700_000_000_000, leaseMs: 1000 });
        await h.store.markSent(c.lease, { at: 1_700_000_000_001, response: '250', mailbox: 'm' });
        assert.equal(h.store.writeStats.durableBatches, before + 1, 'bookkeeping added no durable commit');
      } finally {
        await h.cleanup();
      }
    });

    it('an unreachable database is StoreUnavailableError, not a generic failure', async () => {
      const url = new URL(pgUrl!);
      url.searchParams.set('host', '/nonexistent-mailgate-socket-dir');
      await assert.rejects(openPgStore({ url: url.toString(), connectTimeoutMs: 1000 }), StoreUnavailableError);
    });
  });
}
