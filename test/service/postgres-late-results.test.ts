/**
 * Delivery results after a PostgreSQL outage (issue 18): the mailbox's owner goes first. A row
 * of delivery_owners that expired while an instance could not reach the database says nothing
 * about its owner (it could not renew either), so for one lease after reaching the database
 * again an instance takes only rows that had expired before its outage; the owner renews its own
 * row meanwhile and records the results it kept (delivery/unrecorded-results.ts) before anyone
 * else may claim its messages. The guarded late write itself is in the store contract
 * (store-contract.ts, run on PostgreSQL by store-postgres.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PgDb } from '../../src/service/outbox/postgres/pg-db.js';
import { MailboxOwnership } from '../../src/service/outbox/postgres/pg-ownership.js';
import { StoreUnavailableError } from '../../src/service/outbox/store.js';
import { countPostgresTests, freshPgStore, pgSkip } from '../helpers/postgres.js';

if (!pgSkip) countPostgresTests();

const LEASE = 10_000;
const M = 'sender@example.com';

/** The store's db, unreachable while `down()` (as PostgreSQL stopped, for this instance). */
function flaky(db: PgDb, down: () => boolean): PgDb {
  return { query: (...a: Parameters<PgDb['query']>) => (down() ? Promise.reject(new StoreUnavailableError()) : db.query(...a)) } as unknown as PgDb;
}

describe('delivery ownership after a database outage (PostgreSQL)', { skip: pgSkip }, () => {
  it('the owner takes its mailbox back first after an outage longer than the lease; another instance takes it only a lease later if the owner does not come back', async () => {
    const h = await freshPgStore();
    let now = 1_700_000_000_000;
    let down = false;
    try {
      const a = new MailboxOwnership(flaky(h.store.db, () => down), { owner: 'a', leaseMs: LEASE, now: () => now });
      const b = new MailboxOwnership(flaky(h.store.db, () => down), { owner: 'b', leaseMs: LEASE, now: () => now });
      assert.deepEqual(await a.refresh([M]), [M]);
      assert.deepEqual(await b.refresh([M]), []);
      // Short outage (shorter than what is left of the lease): nobody can take the row.
      down = true;
      now += 3000;
      await assert.rejects(a.refresh([M]), StoreUnavailableError);
      await assert.rejects(b.refresh([M]), StoreUnavailableError);
      down = false;
      now += 3000;
      assert.deepEqual(await b.refresh([M]), [], 'a short outage: the row has not expired');
      assert.deepEqual(await a.refresh([M]), [M]);
      // Long outage (20 s, twice the lease): a's row expires while nobody can reach the database.
      down = true;
      for (let i = 0; i < 6; i++) {
        now += Math.round(LEASE / 3);
        await assert.rejects(a.refresh([M]), StoreUnavailableError);
        await assert.rejects(b.refresh([M]), StoreUnavailableError);
      }
      down = false;
      assert.equal(a.owns(M), false, 'a stopped delivering at its own expiry');
      assert.deepEqual(await b.refresh([M]), [], 'b reached the database first, but the row expired during its own outage: left to its owner');
      now += 1000;
      assert.deepEqual(await b.refresh([M]), []);
      assert.deepEqual(await a.refresh([M]), [M], 'the owner renews its expired row (nobody took it)');
      assert.deepEqual(await b.refresh([M]), []);
      // The same again, but a never comes back (it died during the outage).
      down = true;
      now += 2 * LEASE;
      await assert.rejects(b.refresh([M]), StoreUnavailableError);
      down = false;
      const back = now;
      assert.deepEqual(await b.refresh([M]), []);
      now = back + LEASE - 1;
      assert.deepEqual(await b.refresh([M]), [], 'not before a lease after b reached the database again');
      now = back + LEASE;
      assert.deepEqual(await b.refresh([M]), [M], 'a dead owner is replaced one lease after the database came back');
    } finally {
      await h.cleanup();
    }
  });

  it('a row that had expired before the outage (its owner had died before) is taken at once', async () => {
    const h = await freshPgStore();
    let now = 1_700_000_000_000;
    let down = false;
    try {
      const a = new MailboxOwnership(h.store.db, { owner: 'a', leaseMs: LEASE, now: () => now });
      const b = new MailboxOwnership(flaky(h.store.db, () => down), { owner: 'b', leaseMs: LEASE, now: () => now });
      assert.deepEqual(await a.refresh([M]), [M]);
      now += LEASE + 1000; // a died: its row expired
      assert.deepEqual(await b.refresh([]), [], 'b up, not delivering yet (its settings are not loaded)');
      down = true;
      now += 5000;
      await assert.rejects(b.refresh([M]), StoreUnavailableError);
      down = false;
      now += 5000;
      assert.deepEqual(await b.refresh([M]), [M]);
    } finally {
      await h.cleanup();
    }
  });
});
