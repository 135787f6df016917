/**
 * Delivery ownership on PostgreSQL (issue 18 items 2-3): one owner per signed-in mailbox at a
 * time, taken over only once the owner stops renewing and its row expires, spread across live
 * instances, given up at once on a clean shutdown.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MailboxOwnership } from '../../src/service/outbox/postgres/pg-ownership.js';
import { countPostgresTests, freshPgStore, pgSkip } from '../helpers/postgres.js';
import { newMessage } from './store-contract.js';

if (!pgSkip) countPostgresTests();

describe('delivery ownership by lease row (PostgreSQL)', { skip: pgSkip }, () => {
  it('one owner per mailbox; another instance takes over only after the lease lapses; release hands over at once', async () => {
    const h = await freshPgStore();
    let now = 1_700_000_000_000;
    try {
      const a = new MailboxOwnership(h.store.db, { owner: 'a', leaseMs: 10_000, now: () => now });
      const b = new MailboxOwnership(h.store.db, { owner: 'b', leaseMs: 10_000, now: () => now });
      assert.deepEqual(await a.refresh(['Sender@Example.com']), ['sender@example.com']);
      assert.deepEqual(await b.refresh(['sender@example.com']), [], 'a owns it');
      assert.equal(a.owns('SENDER@example.com'), true);
      now += 6_000;
      await a.refresh(['sender@example.com']); // renewed
      now += 6_000;
      assert.deepEqual(await b.refresh(['sender@example.com']), [], 'renewed by a: still a\'s');
      // a dies (stops renewing): after its lease, a no longer considers itself owner, and b takes over.
      now += 10_001;
      assert.equal(a.owns('sender@example.com'), false, 'an owner that could not renew stops at its own expiry');
      assert.deepEqual(await b.refresh(['sender@example.com']), ['sender@example.com']);
      assert.deepEqual(await a.refresh(['sender@example.com']), [], 'the old owner does not take it back');
      // Clean shutdown: b releases, a takes it at once.
      await b.release();
      assert.deepEqual(await a.refresh(['sender@example.com']), ['sender@example.com']);
    } finally {
      await h.cleanup();
    }
  });

  it('tells the new owner when the mailbox sent in the last minute (its rate limiter counts those sends)', async () => {
    const h = await freshPgStore();
    const t0 = 1_700_000_000_000;
    try {
      for (let i = 0; i < 3; i++) await h.store.enqueue(newMessage({ createdAt: t0 + i }));
      const claimed = await h.store.claim({ owner: 'old', limit: 3, now: t0 + 10, leaseMs: 10_000 });
      for (const [i, c] of claimed.entries()) await h.store.markSent(c.lease, { at: t0 + 1000 * (i + 1), response: '250', mailbox: 'Sender@example.com' });
      const b = new MailboxOwnership(h.store.db, { owner: 'b', leaseMs: 10_000, now: () => t0 + 5000 });
      assert.deepEqual(await b.sentSince('Sender@example.com', t0 + 1500), [t0 + 2000, t0 + 3000]);
      assert.deepEqual(await b.sentSince('other@example.com', t0), []);
    } finally {
      await h.cleanup();
    }
  });

  it('spreads mailboxes across live instances, and never gives one mailbox two owners under concurrent refreshes', async () => {
    const h = await freshPgStore();
    const now = 1_700_000_000_000;
    try {
      const mailboxes = ['m1@example.com', 'm2@example.com', 'm3@example.com', 'm4@example.com'];
      const instances = ['a', 'b'].map((owner) => new MailboxOwnership(h.store.db, { owner, leaseMs: 10_000, now: () => now }));
      // Both announce themselves first (live instances), then refresh concurrently.
      await Promise.all(instances.map((i) => i.refresh([])));
      const owned = await Promise.all(instances.map((i) => i.refresh(mailboxes)));
      const all = owned.flat();
      assert.equal(new Set(all).size, all.length, 'no mailbox owned twice');
      // Fair share is 2 each; a second round fills what a race left over.
      const again = await Promise.all(instances.map((i) => i.refresh(mailboxes)));
      assert.deepEqual(again.map((o) => o.length), [2, 2]);
      assert.deepEqual(again.flat().sort(), mailboxes);
    } finally {
      await h.cleanup();
    }
  });
  it('rebalances: an instance above its fair share drains the surplus (not owned for the worker, row kept) and hands it over; the newcomer takes it', async () => {
    const h = await freshPgStore();
    const now = 1_700_000_000_000;
    try {
      const mailboxes = ['m1@example.com', 'm2@example.com', 'm3@example.com', 'm4@example.com'];
      const a = new MailboxOwnership(h.store.db, { owner: 'a', leaseMs: 10_000, now: () => now });
      const b = new MailboxOwnership(h.store.db, { owner: 'b', leaseMs: 10_000, now: () => now });
      assert.deepEqual((await a.refresh(mailboxes)).sort(), mailboxes, 'alone, a takes every mailbox');
      assert.deepEqual(a.surplus(), []);
      assert.deepEqual(await b.refresh(mailboxes), [], 'b starts: every row is a\'s and unexpired');
      await a.refresh(mailboxes);
      assert.deepEqual(a.surplus().sort(), ['m3@example.com', 'm4@example.com'], 'two beyond the share of 2');
      assert.equal(a.owns('m3@example.com'), false, 'draining: no longer a\'s for the worker');
      assert.equal(a.draining('m4@example.com'), true);
      assert.deepEqual(a.owned().sort(), ['m1@example.com', 'm2@example.com']);
      await a.refresh(mailboxes);
      assert.deepEqual(await b.refresh(mailboxes), [], 'a keeps renewing the draining rows until it hands them over');
      assert.deepEqual(a.surplus().sort(), ['m3@example.com', 'm4@example.com'], 'still draining after a renewal');
      await a.handOver('m3@example.com');
      await a.handOver('m4@example.com');
      assert.deepEqual((await b.refresh(mailboxes)).sort(), ['m3@example.com', 'm4@example.com']);
      assert.deepEqual((await a.refresh(mailboxes)).sort(), ['m1@example.com', 'm2@example.com']);
      assert.deepEqual(a.surplus(), []);
      assert.deepEqual(b.surplus(), []);
    } finally {
      await h.cleanup();
    }
  });

  it('a mailbox nobody takes for a whole lease (instances disagree on the mailboxes) is taken beyond the share and kept', async () => {
    const h = await freshPgStore();
    let now = 1_700_000_000_000;
    try {
      const a = new MailboxOwnership(h.store.db, { owner: 'a', leaseMs: 10_000, now: () => now });
      const b = new MailboxOwnership(h.store.db, { owner: 'b', leaseMs: 10_000, now: () => now });
      await b.refresh(['m1@example.com']);
      await a.refresh([]);
      // a wants two mailboxes, b (another configuration) only m1, which b owns: a's share is 1.
      const both = ['m1@example.com', 'm2@example.com'];
      assert.deepEqual(await a.refresh(both), ['m2@example.com']);
      await b.release();
      await b.refresh([]); // b stays live but wants nothing
      assert.deepEqual(await a.refresh(both), ['m2@example.com'], 'a is at its share (1 of 2 with 2 live): m1 stays free');
      now += 5_000;
      await b.refresh([]);
      assert.deepEqual(await a.refresh(both), ['m2@example.com']);
      now += 5_001;
      await b.refresh([]);
      assert.deepEqual((await a.refresh(both)).sort(), both, 'free for a whole lease: taken beyond the share');
      assert.deepEqual(a.surplus(), [], 'and not handed over again');
    } finally {
      await h.cleanup();
    }
  });
});
