/**
 * Rebalancing on PostgreSQL (review of round 6): a handover that lands while a renewal of the
 * same instance is between its renewing UPDATE and its bookkeeping must not bring the handed
 * over mailbox back as "ours" (the instance would deliver for it while its row is gone, so
 * another instance takes it too: two owners, more than 3 connections at the mailbox).
 *
 * The database is real; the renewal's UPDATE is held back once (a gate around the real query)
 * to place the handover deterministically inside the renewal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { PgDb } from '../../src/service/outbox/postgres/pg-db.js';
import { MailboxOwnership } from '../../src/service/outbox/postgres/pg-ownership.js';
import { countPostgresTests, freshPgStore, pgSkip } from '../helpers/postgres.js';

if (!pgSkip) countPostgresTests();

describe('delivery ownership: handover during a renewal (PostgreSQL)', { skip: pgSkip }, () => {
  it('a mailbox handed over while a renewal runs is not owned again by the renewal', async () => {
    const h = await freshPgStore();
    const now = 1_700_000_000_000;
    try {
      const db = h.store.db;
      let hold: { reached: () => void; release: Promise<void> } | undefined;
      const gated = new Proxy(db, {
        get(target, prop, receiver) {
          if (prop !== 'query') return Reflect.get(target, prop, receiver);
          return async (sql: string | { text: string }, params?: unknown[], write?: { durable: boolean }) => {
            const r = await target.query(sql as string, params, write);
            const text = typeof sql === 'string' ? sql : sql.text;
            if (hold && /^UPDATE delivery_owners SET expires_at/.test(text.trim())) {
              const g = hold;
              hold = undefined;
              g.reached();
              await g.release;
            }
            return r;
          };
        },
      }) as PgDb;
      const mailboxes = ['m1@example.com', 'm2@example.com', 'm3@example.com', 'm4@example.com'];
      const a = new MailboxOwnership(gated, { owner: 'a', leaseMs: 10_000, now: () => now });
      const b = new MailboxOwnership(db, { owner: 'b', leaseMs: 10_000, now: () => now });
      await a.refresh(mailboxes);
      await b.refresh(mailboxes);
      await a.refresh(mailboxes);
      assert.deepEqual(a.surplus().sort(), ['m3@example.com', 'm4@example.com']);

      let open!: () => void;
      const reached = new Promise<void>((resolve) => {
        hold = { reached: resolve, release: new Promise<void>((r) => (open = r)) };
      });
      const renewal = a.refresh(mailboxes);
      await reached; // the renewal has renewed m3's row and is paused before its bookkeeping
      let handedOver = false;
      const handover = a.handOver('m3@example.com').then(() => void (handedOver = true));
      // Let a handover that does not wait for the renewal finish first (the old behaviour).
      for (let i = 0; i < 20 && !handedOver; i++) await delay(10);
      open();
      await renewal;
      await handover;
      assert.equal(a.owns('m3@example.com'), false, 'the handed-over mailbox must not be ours again');
      assert.ok(!a.owned().includes('m3@example.com'));
      assert.deepEqual((await b.refresh(mailboxes)).sort(), ['m3@example.com'], 'b takes it');
      assert.equal(a.owns('m3@example.com'), false);
    } finally {
      await h.cleanup();
    }
  });
});
