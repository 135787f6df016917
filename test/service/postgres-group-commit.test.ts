/**
 * Group commit in the PostgreSQL store (pg-group-commit.ts): concurrent enqueues share one
 * durable statement and commit, concurrent delivery results one bookkeeping statement, a claim
 * is one statement; a bad message in a group fails alone; an answer still means committed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { newMessage } from './store-contract.js';
import { countPostgresTests, freshPgStore, pgSkip, pgUrl } from '../helpers/postgres.js';
import { listenForConfigChanges, type ConfigChange } from '../../src/service/outbox/postgres/pg-notifications.js';

const T0 = 1_700_000_000_000;

if (pgSkip) {
  describe('PostgreSQL group commit', () => {
    it('runs on PostgreSQL', { skip: pgSkip }, () => undefined);
  });
} else {
  countPostgresTests();

  describe('PostgreSQL group commit', () => {
    it('concurrent enqueues share one durable commit, and each is committed when it resolves', async () => {
      const h = await freshPgStore();
      const c = new pg.Client({ connectionString: pgUrl, options: `-c search_path=${h.schema}` });
      await c.connect();
      try {
        const before = { ...h.store.writeStats };
        const ms = Array.from({ length: 20 }, (_, i) => newMessage({ subject: `m${i}` }));
        const rs = await Promise.all(ms.map((m) => h.store.enqueue(m)));
        assert.deepEqual(rs.map((r) => r.outcome), ms.map(() => 'created'));
        assert.equal(h.store.writeStats.writes - before.writes, 20, 'every enqueue counted as a write');
        assert.equal(h.store.writeStats.durableBatches - before.durableBatches, 1, 'one durable commit for the 20 enqueues of one event-loop turn');
        // Visible to another session as soon as the answers came: committed, not pending.
        const seen = (await c.query('SELECT count(*)::int AS n FROM messages m JOIN message_payloads p USING (seq) WHERE m.id = ANY($1::text[])', [ms.map((m) => m.id)])).rows[0].n;
        assert.equal(seen, 20);
        // In the order they were enqueued (oldest due first, then by seq).
        const claimed = await h.store.claim({ owner: 'w', limit: 20, now: T0, leaseMs: 60_000 });
        assert.deepEqual(claimed.map((m) => m.id), ms.map((m) => m.id));
        assert.equal(claimed[3].payload, ms[3].payload);
      } finally {
        await c.end();
        await h.cleanup();
      }
    });

    it('payloads are compressed with lz4 where the server has it (less server CPU than pglz)', async () => {
      const h = await freshPgStore();
      const c = new pg.Client({ connectionString: pgUrl, options: `-c search_path=${h.schema}` });
      await c.connect();
      try {
        const has = (await c.query(`SELECT 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'`)).rows[0]?.lz4 === true;
        // Large enough to be compressed (over the 2 KB TOAST threshold); several connections of the pool.
        const big = (i: number) => newMessage({ payload: JSON.stringify({ to: ['a@example.com'], subject: 's', text: `line ${i} of a long body\r\n`.repeat(400) }) });
        const ms = Array.from({ length: 4 }, (_, i) => big(i));
        for (const m of ms) await h.store.enqueue(m);
        await Promise.all(ms.map(() => h.store.enqueue(big(9))));
        const methods = (await c.query('SELECT DISTINCT pg_column_compression(payload) AS m FROM message_payloads')).rows.map((r) => r.m);
        assert.deepEqual(methods, [has ? 'lz4' : 'pglz']);
        assert.equal((await h.store.claim({ owner: 'w', limit: 1, now: T0, leaseMs: 1000 }))[0].payload, ms[0].payload);
      } finally {
        await c.end();
        await h.cleanup();
      }
    });

    it('committed enqueues (grouped, or with an idempotency key) are announced to every instance (`queued`), so the one delivering claims them at once', { timeout: 15_000 }, async () => {
      const h = await freshPgStore();
      const heard: ConfigChange[] = [];
      let ready!: () => void;
      const listening = new Promise<void>((r) => (ready = r));
      const listener = listenForConfigChanges({ url: pgUrl!, schema: h.schema }, (what) => {
        if (what === 'all') ready();
        else heard.push(what);
      });
      try {
        await listening;
        const got = new Promise<void>((resolve) => {
          const check = setInterval(() => {
            if (heard.includes('queued')) {
              clearInterval(check);
              resolve();
            }
          }, 10);
        });
        await Promise.all([newMessage(), newMessage()].map((m) => h.store.enqueue(m)));
        await got;
        assert.ok(heard.includes('queued'));
        // An enqueue with an idempotency key (its own transaction, not a group) is announced too.
        heard.length = 0;
        const again = new Promise<void>((resolve) => {
          const check = setInterval(() => {
            if (heard.includes('queued')) {
              clearInterval(check);
              resolve();
            }
          }, 10);
        });
        assert.equal((await h.store.enqueue({ ...newMessage(), idempotencyKey: 'announce-me' })).outcome, 'created');
        await again;
        assert.ok(heard.includes('queued'));
      } finally {
        await listener.stop();
        await h.cleanup();
      }
    });

    it('a message the database refuses fails alone; the rest of its group is stored', async () => {
      const h = await freshPgStore();
      try {
        const good = Array.from({ length: 5 }, () => newMessage());
        // recipient_count is an integer column: 2^31 is out of range, so the group statement fails.
        const bad = newMessage({ recipientCount: 2 ** 31 });
        const rs = await Promise.allSettled([...good.slice(0, 2), bad, ...good.slice(2)].map((m) => h.store.enqueue(m)));
        assert.equal(rs[2].status, 'rejected');
        assert.match(String((rs[2] as PromiseRejectedResult).reason), /out of range/);
        assert.deepEqual(rs.filter((_, i) => i !== 2).map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
        for (const m of good) assert.equal((await h.store.get(m.id))?.status, 'queued');
        assert.equal(await h.store.get(bad.id), undefined);
        // A duplicate id (a UUID reused) is refused for that message only, without replaying the group.
        const again = await Promise.allSettled([newMessage(), { ...good[0] }].map((m) => h.store.enqueue(m)));
        assert.equal(again[0].status, 'fulfilled');
        assert.equal(again[1].status, 'rejected');
        assert.match(String((again[1] as PromiseRejectedResult).reason), /already exists/);
      } finally {
        await h.cleanup();
      }
    });

    it('delivery results of the moment share one bookkeeping statement, each still guarded by its lease', async () => {
      const h = await freshPgStore();
      try {
        const ms = Array.from({ length: 6 }, () => newMessage());
        await Promise.all(ms.map((m) => h.store.enqueue(m)));
        const claimed = await h.store.claim({ owner: 'w', limit: 6, now: T0, leaseMs: 1000 });
        assert.equal(claimed.length, 6);
        // One lease expires and another worker takes that message over: our result for it must not count.
        const [taken] = await h.store.claim({ owner: 'other', limit: 1, now: T0 + 1000, leaseMs: 60_000 });
        assert.ok(taken?.reclaimed);
        const before = { ...h.store.writeStats };
        const held = await Promise.all(claimed.map((m) => h.store.markSent(m.lease, { at: T0 + 2000, response: `250 ${m.id}`, mailbox: 'sender@example.com' })));
        assert.deepEqual(held, claimed.map((m) => m.id !== taken.id));
        assert.equal(h.store.writeStats.batches - before.batches, 1, 'one statement for the 6 results');
        assert.equal(h.store.writeStats.durableBatches, before.durableBatches, 'a bookkeeping commit');
        for (const m of claimed) {
          const d = await h.store.get(m.id);
          if (m.id === taken.id) {
            assert.equal(d?.status, 'sending');
            assert.equal(d?.leaseOwner, 'other');
            assert.deepEqual(d?.attempts.map((a) => a.outcome), ['interrupted']);
          } else {
            assert.equal(d?.status, 'sent');
            assert.equal(d?.response, `250 ${m.id}`);
            assert.deepEqual(d?.attempts.map((a) => [a.attempt, a.outcome, a.reply]), [[1, 'sent', `250 ${m.id}`]]);
          }
        }
      } finally {
        await h.cleanup();
      }
    });

    it('a claim is one statement: expired leases first, then due messages, with their payloads', async () => {
      const h = await freshPgStore();
      try {
        const early = newMessage();
        await h.store.enqueue(early);
        const [first] = await h.store.claim({ owner: 'dead', limit: 1, now: T0, leaseMs: 1000 });
        const later = Array.from({ length: 3 }, () => newMessage());
        for (const m of later) await h.store.enqueue(m);
        const before = { ...h.store.writeStats };
        const got = await h.store.claim({ owner: 'w', limit: 3, now: T0 + 5000, leaseMs: 60_000 });
        assert.equal(h.store.writeStats.batches - before.batches, 1);
        assert.deepEqual(got.map((m) => [m.id, m.reclaimed, m.lease.attempt]), [[first.id, true, 2], [later[0].id, false, 1], [later[1].id, false, 1]]);
        assert.equal(got[1].payload, later[1].payload);
        assert.deepEqual((await h.store.get(first.id))?.attempts.map((a) => [a.attempt, a.outcome, a.code]), [[1, 'interrupted', 'LEASE_EXPIRED']]);
      } finally {
        await h.cleanup();
      }
    });
  });
}
