/**
 * The Store contract suite: what every store implementation (SQLite today, PostgreSQL later)
 * must do, run unchanged against each. It uses only the `Store` interface and a factory that
 * gives a fresh, empty store; times are explicit numbers, never the wall clock.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { SettingsConflictError, type NewMessage, type Store } from '../../src/service/outbox/store.js';

export interface StoreHandle {
  store: Store;
  /** Closes the store and removes its data. */
  cleanup(): Promise<void>;
  /** Opens a second, independent connection to the same data (another process or machine). */
  reopen?(): Promise<Store>;
}

export type StoreFactory = () => Promise<StoreHandle>;

const T0 = 1_700_000_000_000;
const DAY = 86_400_000;

export function newMessage(over: Partial<NewMessage> = {}): NewMessage {
  const id = randomUUID();
  return {
    id,
    messageIdHeader: `<${id}@example.com>`,
    mailbox: 'sender@example.com',
    payload: JSON.stringify({ to: ['a@example.com'], subject: 's', text: 't' }),
    toSummary: 'a@example.com',
    subject: 's',
    recipientCount: 1,
    createdAt: T0,
    expiresAt: T0 + DAY,
    ...over,
  };
}

async function withStore(factory: StoreFactory, fn: (h: StoreHandle) => Promise<void>): Promise<void> {
  const h = await factory();
  try {
    await fn(h);
  } finally {
    await h.cleanup();
  }
}

export function runStoreContract(name: string, factory: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    it('enqueues a message as queued and due at once', async () => {
      await withStore(factory, async ({ store }) => {
        const m = newMessage();
        const r = await store.enqueue(m);
        assert.equal(r.outcome, 'created');
        const got = await store.get(m.id);
        assert.ok(got);
        assert.equal(got.status, 'queued');
        assert.equal(got.messageIdHeader, m.messageIdHeader);
        assert.equal(got.nextAttemptAt, T0);
        assert.equal(got.attemptCount, 0);
        assert.deepEqual(got.attempts, []);
        assert.equal(await store.get(randomUUID()), undefined);
      });
    });

    it('idempotency: same key + same hash is a duplicate, a different hash a conflict', async () => {
      await withStore(factory, async ({ store }) => {
        const a = newMessage({ idempotencyKey: 'k1', requestHash: 'h1' });
        assert.equal((await store.enqueue(a)).outcome, 'created');
        const dup = await store.enqueue(newMessage({ idempotencyKey: 'k1', requestHash: 'h1' }));
        assert.equal(dup.outcome, 'duplicate');
        assert.equal(dup.message.id, a.id);
        const conflict = await store.enqueue(newMessage({ idempotencyKey: 'k1', requestHash: 'h2' }));
        assert.equal(conflict.outcome, 'conflict');
        assert.equal(conflict.message.id, a.id);
        // Concurrent enqueues with one key create exactly one message.
        const results = await Promise.all([1, 2, 3].map(() => store.enqueue(newMessage({ idempotencyKey: 'k2', requestHash: 'h' }))));
        assert.equal(results.filter((r) => r.outcome === 'created').length, 1);
        assert.equal(new Set(results.map((r) => r.message.id)).size, 1);
      });
    });

    it('idempotency keys are scoped per API key: the same string from two keys names two messages', async () => {
      await withStore(factory, async ({ store }) => {
        await store.createApiKey({ name: 'billing', scope: 'send', hash: 'hb', prefix: 'mg_b', createdAt: T0 });
        await store.createApiKey({ name: 'signup', scope: 'send', hash: 'hs', prefix: 'mg_s', createdAt: T0 });
        const billing = (await store.findApiKey('hb'))!.id;
        const signup = (await store.findApiKey('hs'))!.id;
        const a = newMessage({ apiKeyId: billing, idempotencyKey: 'order-1', requestHash: 'h-billing' });
        const b = newMessage({ apiKeyId: signup, idempotencyKey: 'order-1', requestHash: 'h-signup' });
        assert.equal((await store.enqueue(a)).outcome, 'created');
        assert.equal((await store.enqueue(b)).outcome, 'created', 'another key, same string: a new message, not a conflict');
        assert.equal((await store.get(a.id))?.apiKeyId, billing);
        assert.equal((await store.get(b.id))?.apiKeyId, signup);
        // Within one key the usual rules hold.
        const dup = await store.enqueue(newMessage({ apiKeyId: signup, idempotencyKey: 'order-1', requestHash: 'h-signup' }));
        assert.equal(dup.outcome, 'duplicate');
        assert.equal(dup.message.id, b.id);
        const conflict = await store.enqueue(newMessage({ apiKeyId: billing, idempotencyKey: 'order-1', requestHash: 'h-other' }));
        assert.equal(conflict.outcome, 'conflict');
        assert.equal(conflict.message.id, a.id);
        // A submission without an API key has its own scope too.
        assert.equal((await store.enqueue(newMessage({ idempotencyKey: 'order-1', requestHash: 'h-none' }))).outcome, 'created');
        // Concurrent enqueues from two keys with one string: exactly one message per key.
        const results = await Promise.all([billing, signup, billing, signup].map((k) => store.enqueue(newMessage({ apiKeyId: k, idempotencyKey: 'k9', requestHash: 'h' }))));
        assert.equal(results.filter((r) => r.outcome === 'created').length, 2);
        assert.equal(new Set(results.map((r) => r.message.id)).size, 2);
      });
    });

    it('lists only the messages of one API key when asked to', async () => {
      await withStore(factory, async ({ store }) => {
        const own = [newMessage({ apiKeyId: 'key-a', createdAt: T0 }), newMessage({ apiKeyId: 'key-a', createdAt: T0 + 1 }), newMessage({ apiKeyId: 'key-a', createdAt: T0 + 2 })];
        const other = newMessage({ apiKeyId: 'key-b', createdAt: T0 + 3 });
        const none = newMessage({ createdAt: T0 + 4 });
        for (const m of [own[0], other, own[1], none, own[2]]) await store.enqueue(m);
        const first = await store.list({ apiKeyId: 'key-a', limit: 2 });
        assert.deepEqual(first.items.map((m) => m.id), [own[2].id, own[1].id]);
        assert.ok(first.items.every((m) => m.apiKeyId === 'key-a'));
        const second = await store.list({ apiKeyId: 'key-a', limit: 2, cursor: first.nextCursor });
        assert.deepEqual(second.items.map((m) => m.id), [own[0].id]);
        assert.equal(second.nextCursor, undefined);
        assert.deepEqual((await store.list({ apiKeyId: 'key-b', status: 'queued', limit: 10 })).items.map((m) => m.id), [other.id]);
        assert.deepEqual((await store.list({ apiKeyId: 'key-c', limit: 10 })).items, []);
        assert.equal((await store.list({ limit: 10 })).items.length, 5, 'without the filter: every message');
        assert.equal((await store.get(none.id))?.apiKeyId, undefined);
      });
    });

    it('senders (issue 16): each message records its sender, the list filters by it, the claim can leave senders out', async () => {
      await withStore(factory, async ({ store }) => {
        const a1 = newMessage({ sender: 'a@contoso.com', mailbox: 'a@contoso.com', createdAt: T0 });
        const b1 = newMessage({ sender: 'b@contoso.com', mailbox: 'a@contoso.com', createdAt: T0 + 1 });
        const a2 = newMessage({ sender: 'a@contoso.com', mailbox: 'a@contoso.com', createdAt: T0 + 2 });
        const none = newMessage({ createdAt: T0 + 3 });
        for (const m of [a1, b1, a2, none]) await store.enqueue(m);
        assert.equal((await store.get(b1.id))?.sender, 'b@contoso.com');
        assert.equal((await store.get(b1.id))?.mailbox, 'a@contoso.com');
        assert.equal((await store.get(none.id))?.sender, undefined);
        assert.deepEqual((await store.list({ sender: 'a@contoso.com', limit: 10 })).items.map((m) => m.id), [a2.id, a1.id]);
        assert.deepEqual((await store.list({ sender: 'A@Contoso.com', status: 'queued', limit: 10 })).items.map((m) => m.id), [a2.id, a1.id], 'case-insensitive');
        const claimed = await store.claim({ owner: 'w', limit: 10, now: T0 + 10, leaseMs: 60_000, excludeSenders: ['a@contoso.com', ''] });
        assert.deepEqual(claimed.map((m) => m.id), [b1.id], 'a@ and the messages without a sender left out');
        assert.equal(claimed[0].sender, 'b@contoso.com');
        const rest = await store.claim({ owner: 'w', limit: 10, now: T0 + 10, leaseMs: 60_000 });
        assert.deepEqual(rest.map((m) => m.id), [a1.id, a2.id, none.id]);
        assert.equal(rest[2].sender, undefined);
      });
    });

    it('API keys may be limited to senders', async () => {
      await withStore(factory, async ({ store }) => {
        assert.ok(await store.createApiKey({ name: 'billing', scope: 'send', hash: 'h-billing', prefix: 'mg_bill', createdAt: T0, senders: ['billing@contoso.com'] }));
        assert.ok(await store.createApiKey({ name: 'any', scope: 'send', hash: 'h-any', prefix: 'mg_anyy', createdAt: T0 }));
        assert.deepEqual((await store.findApiKey('h-billing'))?.senders, ['billing@contoso.com']);
        assert.equal((await store.findApiKey('h-any'))?.senders, undefined);
        assert.deepEqual((await store.listApiKeys()).map((k) => k.senders), [['billing@contoso.com'], undefined]);
      });
    });

    it('claim takes due messages oldest first, sets the lease and counts the attempt', async () => {
      await withStore(factory, async ({ store }) => {
        const a = newMessage({ createdAt: T0 });
        const b = newMessage({ createdAt: T0 + 10 });
        const later = newMessage({ createdAt: T0 + 5000 });
        for (const m of [b, a, later]) await store.enqueue(m);
        const claimed = await store.claim({ owner: 'w1', limit: 10, now: T0 + 100, leaseMs: 1000 });
        assert.deepEqual(claimed.map((c) => c.id), [a.id, b.id]);
        assert.equal(claimed[0].lease.attempt, 1);
        assert.equal(claimed[0].lease.owner, 'w1');
        assert.equal(claimed[0].payload, a.payload);
        assert.equal(claimed[0].reclaimed, false);
        const rec = await store.get(a.id);
        assert.equal(rec?.status, 'sending');
        assert.equal(rec?.leaseOwner, 'w1');
        assert.equal(rec?.leaseExpiresAt, T0 + 1100);
        // Nothing else is due for another worker.
        assert.deepEqual(await store.claim({ owner: 'w2', limit: 10, now: T0 + 200, leaseMs: 1000 }), []);
      });
    });

    it('respects the claim limit', async () => {
      await withStore(factory, async ({ store }) => {
        for (let i = 0; i < 5; i++) await store.enqueue(newMessage({ createdAt: T0 + i }));
        const c = await store.claim({ owner: 'w', limit: 3, now: T0 + 10, leaseMs: 1000 });
        assert.equal(c.length, 3);
        const d = await store.claim({ owner: 'w', limit: 3, now: T0 + 10, leaseMs: 1000 });
        assert.equal(d.length, 2);
      });
    });

    it('concurrent claims never hand one message to two workers', async () => {
      await withStore(factory, async (h) => {
        for (let i = 0; i < 50; i++) await h.store.enqueue(newMessage({ createdAt: T0 + i }));
        const other = h.reopen ? await h.reopen() : h.store;
        const claims = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 ? other : h.store).claim({ owner: `w${i}`, limit: 7, now: T0 + 100, leaseMs: 1000 })),
        );
        const ids = claims.flat().map((c) => c.id);
        assert.equal(ids.length, 50);
        assert.equal(new Set(ids).size, 50);
        if (other !== h.store) await other.close();
      });
    });

    it('markSent needs the current lease; a stale owner changes nothing', async () => {
      await withStore(factory, async ({ store }) => {
        const m = newMessage();
        await store.enqueue(m);
        const [c] = await store.claim({ owner: 'w1', limit: 1, now: T0, leaseMs: 1000 });
        assert.equal(await store.markSent({ ...c.lease, owner: 'other' }, { at: T0 + 1, response: '250 ok', mailbox: 'x@example.com' }), false);
        assert.equal(await store.markSent({ ...c.lease, attempt: 2 }, { at: T0 + 1, response: '250 ok', mailbox: 'x@example.com' }), false);
        assert.equal(await store.markSent(c.lease, { at: T0 + 5, response: '250 2.0.0 OK', mailbox: 'x@example.com' }), true);
        const got = await store.get(m.id);
        assert.equal(got?.status, 'sent');
        assert.equal(got?.response, '250 2.0.0 OK');
        assert.equal(got?.sentAt, T0 + 5);
        assert.equal(got?.leaseOwner, undefined);
        assert.deepEqual(got?.attempts, [{ attempt: 1, at: T0 + 5, outcome: 'sent', reply: '250 2.0.0 OK' }]);
        // A second completion of the same lease is refused.
        assert.equal(await store.markSent(c.lease, { at: T0 + 6, response: '250', mailbox: 'x@example.com' }), false);
      });
    });

    it('an expired lease is reclaimed with an interrupted attempt; the old owner can no longer complete', async () => {
      await withStore(factory, async ({ store }) => {
        const m = newMessage();
        await store.enqueue(m);
        const [c1] = await store.claim({ owner: 'w1', limit: 1, now: T0, leaseMs: 1000 });
        assert.deepEqual(await store.claim({ owner: 'w2', limit: 1, now: T0 + 999, leaseMs: 1000 }), []);
        const [c2] = await store.claim({ owner: 'w2', limit: 1, now: T0 + 1000, leaseMs: 1000 });
        assert.equal(c2.id, m.id);
        assert.equal(c2.reclaimed, true);
        assert.equal(c2.lease.attempt, 2);
        assert.equal(c2.messageIdHeader, m.messageIdHeader);
        assert.equal(await store.markSent(c1.lease, { at: T0 + 1001, response: '250', mailbox: 'm' }), false);
        assert.equal(await store.markSent(c2.lease, { at: T0 + 1002, response: '250 b', mailbox: 'm' }), true);
        const got = await store.get(m.id);
        assert.deepEqual(got?.attempts.map((a) => [a.attempt, a.outcome, a.code]), [[1, 'interrupted', 'LEASE_EXPIRED'], [2, 'sent', undefined]]);
      });
    });

    it('a late result (the store was unreachable when the send finished) is guarded by the claim, not by the lease\'s expiry: a lapsed lease nobody claimed again accepts it', async () => {
      await withStore(factory, async ({ store }) => {
        const [a, b, c] = [newMessage(), newMessage({ createdAt: T0 + 1 }), newMessage({ createdAt: T0 + 2 })];
        for (const m of [a, b, c]) await store.enqueue(m);
        const claimed = await store.claim({ owner: 'w1', limit: 3, now: T0 + 10, leaseMs: 1000 });
        const lease = (id: string) => claimed.find((x) => x.id === id)!.lease;
        // Long after the leases lapsed, nobody having claimed since: each result kind is recorded.
        assert.equal(await store.markSent(lease(a.id), { at: T0 + 60_000, response: '250 late', mailbox: 'm' }), true);
        assert.equal(await store.markRetrying(lease(b.id), { at: T0 + 60_000, outcome: 'retry', code: 'SMTP_TRANSIENT' }, T0 + 70_000), true);
        assert.equal(await store.markFailed(lease(c.id), { at: T0 + 60_000, outcome: 'failed', code: 'SMTP_REJECTED' }), true);
        assert.equal((await store.get(a.id))?.status, 'sent');
        assert.deepEqual((await store.get(a.id))?.attempts.map((x) => [x.attempt, x.outcome]), [[1, 'sent']]);
        assert.equal((await store.get(b.id))?.status, 'retrying');
        assert.equal((await store.get(c.id))?.status, 'failed');
        // Recorded once: the same late result again changes nothing.
        assert.equal(await store.markSent(lease(a.id), { at: T0 + 61_000, response: '250 again', mailbox: 'm' }), false);
        assert.equal((await store.get(a.id))?.response, '250 late');
      });
    });

    it('a late result for a message another instance claimed meanwhile is refused and never overwrites that instance\'s outcome', async () => {
      await withStore(factory, async ({ store }) => {
        const [a, b, c] = [newMessage(), newMessage({ createdAt: T0 + 1 }), newMessage({ createdAt: T0 + 2 })];
        for (const m of [a, b, c]) await store.enqueue(m);
        const mine = await store.claim({ owner: 'w1', limit: 3, now: T0 + 10, leaseMs: 1000 });
        const lease = (id: string) => mine.find((x) => x.id === id)!.lease;
        const theirs = await store.claim({ owner: 'w2', limit: 3, now: T0 + 5000, leaseMs: 60_000 });
        assert.equal(theirs.length, 3);
        const their = (id: string) => theirs.find((x) => x.id === id)!.lease;
        // a: the other instance sent it and recorded that; b: it is still sending it; c: it gave it back to the queue.
        assert.equal(await store.markSent(their(a.id), { at: T0 + 5100, response: '250 theirs', mailbox: 'm' }), true);
        assert.equal(await store.release(their(c.id), T0 + 5200), true);
        for (const id of [a.id, b.id, c.id]) {
          assert.equal(await store.markSent(lease(id), { at: T0 + 6000, response: '250 late', mailbox: 'm' }), false, `late sent for ${id} refused`);
          assert.equal(await store.markRetrying(lease(id), { at: T0 + 6000, outcome: 'retry', code: 'SMTP_TRANSIENT' }, T0 + 9000), false);
          assert.equal(await store.markFailed(lease(id), { at: T0 + 6000, outcome: 'failed', code: 'SMTP_REJECTED' }), false);
        }
        const ga = await store.get(a.id);
        assert.equal(ga?.status, 'sent');
        assert.equal(ga?.response, '250 theirs');
        assert.deepEqual(ga?.attempts.map((x) => [x.attempt, x.outcome]), [[1, 'interrupted'], [2, 'sent']]);
        const gb = await store.get(b.id);
        assert.equal(gb?.status, 'sending');
        assert.equal(gb?.leaseOwner, 'w2');
        assert.equal(await store.markSent(their(b.id), { at: T0 + 7000, response: '250 theirs b', mailbox: 'm' }), true, 'the other instance\'s own result still goes through');
        const gc = await store.get(c.id);
        assert.equal(gc?.status, 'retrying', 'back in the queue (its attempt count back at 1: only the lease owner tells the claims apart)');
        assert.equal(gc?.attemptCount, 1);
        assert.equal(gc?.leaseOwner, undefined);
      });
    });

    it('the claim leaves the excluded senders\' expired leases alone (their holder may still record its result)', async () => {
      await withStore(factory, async ({ store }) => {
        const a = newMessage({ sender: 'a@contoso.com', mailbox: 'a@contoso.com' });
        const b = newMessage({ sender: 'b@contoso.com', mailbox: 'b@contoso.com', createdAt: T0 + 1 });
        await store.enqueue(a);
        await store.enqueue(b);
        const held = await store.claim({ owner: 'w1', limit: 2, now: T0 + 10, leaseMs: 1000 });
        assert.equal(held.length, 2);
        const taken = await store.claim({ owner: 'w2', limit: 5, now: T0 + 5000, leaseMs: 1000, excludeSenders: ['a@contoso.com'] });
        assert.deepEqual(taken.map((x) => [x.id, x.reclaimed]), [[b.id, true]]);
        const ga = await store.get(a.id);
        assert.equal(ga?.leaseOwner, 'w1');
        assert.deepEqual(ga?.attempts, []);
        assert.equal(await store.markSent(held.find((x) => x.id === a.id)!.lease, { at: T0 + 6000, response: '250', mailbox: 'm' }), true);
      });
    });

    it('renewLeases extends only leases still held', async () => {
      await withStore(factory, async ({ store }) => {
        const a = newMessage();
        const b = newMessage({ createdAt: T0 + 1 });
        await store.enqueue(a);
        await store.enqueue(b);
        await store.claim({ owner: 'w1', limit: 2, now: T0 + 1, leaseMs: 1000 });
        assert.deepEqual(await store.renewLeases('w1', [a.id], T0 + 5000), [a.id]);
        // b's lease expires and another worker takes it.
        const taken = await store.claim({ owner: 'w2', limit: 5, now: T0 + 2000, leaseMs: 1000 });
        assert.deepEqual(taken.map((c) => c.id), [b.id]);
        assert.deepEqual(await store.renewLeases('w1', [a.id, b.id], T0 + 9000), [a.id]);
        assert.equal((await store.get(a.id))?.leaseExpiresAt, T0 + 9000);
      });
    });

    it('markRetrying records the attempt and makes the message due later', async () => {
      await withStore(factory, async ({ store }) => {
        const m = newMessage();
        await store.enqueue(m);
        const [c] = await store.claim({ owner: 'w', limit: 1, now: T0, leaseMs: 1000 });
        const diagnosis = { id: 'smtp-432', summary: 'too many connections', causes: ['c'], fixes: ['f'] };
        assert.equal(await store.markRetrying(c.lease, { at: T0 + 1, outcome: 'retry', reply: '432 4.3.2 limit', code: 'SMTP_TRANSIENT', diagnosis }, T0 + 5000), true);
        const got = await store.get(m.id);
        assert.equal(got?.status, 'retrying');
        assert.equal(got?.nextAttemptAt, T0 + 5000);
        assert.equal(got?.lastCode, 'SMTP_TRANSIENT');
        assert.deepEqual(got?.attempts[0], { attempt: 1, at: T0 + 1, outcome: 'retry', reply: '432 4.3.2 limit', code: 'SMTP_TRANSIENT', diagnosis });
        assert.deepEqual(await store.claim({ owner: 'w', limit: 1, now: T0 + 4999, leaseMs: 1000 }), []);
        const [again] = await store.claim({ owner: 'w', limit: 1, now: T0 + 5000, leaseMs: 1000 });
        assert.equal(again.lease.attempt, 2);
      });
    });

    it('markFailed is final; requeue brings a failed message back', async () => {
      await withStore(factory, async ({ store }) => {
        const m = newMessage();
        await store.enqueue(m);
        const [c] = await store.claim({ owner: 'w', limit: 1, now: T0, leaseMs: 1000 });
        assert.equal(await store.markFailed(c.lease, { at: T0 + 1, outcome: 'failed', reply: '550 5.7.60 SendAsDenied', code: 'SMTP_REJECTED' }), true);
        assert.equal((await store.get(m.id))?.status, 'failed');
        assert.deepEqual(await store.claim({ owner: 'w', limit: 1, now: T0 + DAY, leaseMs: 1000 }), []);
        assert.equal((await store.requeue(randomUUID(), T0, T0)).outcome, 'not-found');
        const r = await store.requeue(m.id, T0 + 10, T0 + 2 * DAY);
        assert.equal(r.outcome, 'requeued');
        const got = await store.get(m.id);
        assert.equal(got?.status, 'queued');
        assert.equal(got?.expiresAt, T0 + 2 * DAY);
        assert.equal((await store.requeue(m.id, T0 + 10, T0)).outcome, 'not-failed');
        const [c2] = await store.claim({ owner: 'w', limit: 1, now: T0 + 10, leaseMs: 1000 });
        assert.equal(c2.lease.attempt, 2);
      });
    });

    it('markFailed can set a message code different from the attempt code (EXPIRED)', async () => {
      await withStore(factory, async ({ store }) => {
        const m = newMessage();
        await store.enqueue(m);
        const [c] = await store.claim({ owner: 'w', limit: 1, now: T0, leaseMs: 1000 });
        await store.markFailed(c.lease, { at: T0, outcome: 'expired', code: 'EXPIRED' }, 'EXPIRED');
        const got = await store.get(m.id);
        assert.equal(got?.lastCode, 'EXPIRED');
        assert.equal(got?.attempts[0].outcome, 'expired');
      });
    });

    it('release gives a message back without counting an attempt', async () => {
      await withStore(factory, async ({ store }) => {
        const m = newMessage();
        await store.enqueue(m);
        const [c] = await store.claim({ owner: 'w', limit: 1, now: T0, leaseMs: 1000 });
        assert.equal(await store.release(c.lease, T0 + 50), true);
        const got = await store.get(m.id);
        assert.equal(got?.status, 'queued');
        assert.equal(got?.attemptCount, 0);
        assert.equal(got?.nextAttemptAt, T0 + 50);
        assert.deepEqual(got?.attempts, []);
        assert.equal(await store.release(c.lease, T0), false);
      });
    });

    it('lists newest first with keyset paging and a status filter', async () => {
      await withStore(factory, async ({ store }) => {
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) {
          const m = newMessage({ createdAt: T0 + i });
          ids.push(m.id);
          await store.enqueue(m);
        }
        const [c] = await store.claim({ owner: 'w', limit: 1, now: T0 + 100, leaseMs: 1000 });
        await store.markFailed(c.lease, { at: T0 + 101, outcome: 'failed', code: 'SMTP_REJECTED' });
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.list({ limit: 3, cursor });
          assert.ok(page.items.length <= 3);
          seen.push(...page.items.map((m) => m.id));
          cursor = page.nextCursor;
        } while (cursor);
        assert.deepEqual(seen, [...ids].reverse());
        const failed = await store.list({ status: 'failed', limit: 10 });
        assert.deepEqual(failed.items.map((m) => m.id), [ids[0]]);
        assert.equal(failed.nextCursor, undefined);
        const counts = await store.countByStatus();
        assert.deepEqual(counts, { queued: 6, sending: 0, sent: 0, retrying: 0, failed: 1 });
      });
    });

    it('sums recipients sent per mailbox in a window and builds a histogram', async () => {
      await withStore(factory, async ({ store }) => {
        for (let i = 0; i < 3; i++) await store.enqueue(newMessage({ recipientCount: 10 + i, createdAt: T0 + i }));
        const cs = await store.claim({ owner: 'w', limit: 3, now: T0 + 10, leaseMs: 1000 });
        await store.markSent(cs[0].lease, { at: T0 + 100, response: '250', mailbox: 'a@example.com' });
        await store.markSent(cs[1].lease, { at: T0 + 3_600_100, response: '250', mailbox: 'a@example.com' });
        await store.markFailed(cs[2].lease, { at: T0 + 3_600_200, outcome: 'failed', code: 'SMTP_REJECTED' });
        assert.equal(await store.recipientsSentSince('a@example.com', T0), 21);
        assert.equal(await store.recipientsSentSince('a@example.com', T0 + 1000), 11);
        assert.equal(await store.recipientsSentSince('b@example.com', T0), 0);
        const h = await store.deliveryHistogram(T0, 3_600_000);
        assert.deepEqual(h, [{ start: T0, sent: 1, failed: 0 }, { start: T0 + 3_600_000, sent: 1, failed: 1 }]);
      });
    });

    it('stores settings with a version and an audit entry in one step', async () => {
      await withStore(factory, async ({ store }) => {
        assert.equal(await store.settingsVersion(), 0);
        assert.deepEqual(await store.getSettings(), {});
        const v1 = await store.saveSettings({ clientId: 'abc', smtpPort: '587' }, { at: T0, actor: 'admin', action: 'settings.update', detail: { keys: ['clientId', 'smtpPort'] } });
        assert.equal(v1, 1);
        const v2 = await store.saveSettings({ smtpPort: null, tenantId: 't' }, { at: T0 + 1, actor: 'cli', action: 'settings.update', detail: { keys: ['smtpPort', 'tenantId'] } });
        assert.equal(v2, 2);
        assert.deepEqual(await store.getSettings(), { clientId: 'abc', tenantId: 't' });
        assert.equal(await store.settingsVersion(), 2);
        const audit = await store.listAudit(10);
        assert.deepEqual(audit.map((a) => [a.actor, a.detail]), [['cli', { keys: ['smtpPort', 'tenantId'] }], ['admin', { keys: ['clientId', 'smtpPort'] }]]);
        await store.appendAudit({ at: T0 + 2, actor: 'cli', action: 'apikey.create', detail: { name: 'x' } });
        assert.equal((await store.listAudit(1))[0].action, 'apikey.create');
      });
    });

    it('saveSettings with an expected version (compare-and-set): written while the version is that one, else a typed conflict and nothing written', async () => {
      await withStore(factory, async (h) => {
        const { store } = h;
        const audit = (n: number) => ({ at: T0 + n, actor: 'admin', action: 'settings.update', detail: { n } });
        // Version 0 (no version row yet) is a version like any other.
        assert.equal(await store.saveSettings({ clientId: 'a' }, audit(1), { expectedVersion: 0 }), 1);
        assert.equal(await store.saveSettings({ clientId: 'b' }, audit(2), { expectedVersion: 1 }), 2);
        // A writer that decided on version 1 (someone saved version 2 since) writes nothing.
        await assert.rejects(store.saveSettings({ clientId: 'stale', tenantId: 't' }, audit(3), { expectedVersion: 1 }), (e: unknown) => {
          assert.ok(e instanceof SettingsConflictError, String(e));
          assert.equal(e.code, 'SETTINGS_CONFLICT');
          assert.equal(e.expected, 1);
          assert.equal(e.actual, 2);
          return true;
        });
        assert.equal(await store.settingsVersion(), 2);
        assert.deepEqual(await store.getSettings(), { clientId: 'b' });
        assert.deepEqual((await store.listAudit(10)).map((a) => a.detail), [{ n: 2 }, { n: 1 }]);
        // A version ahead of the store's is a conflict too; without one, the save is unconditional.
        await assert.rejects(store.saveSettings({ clientId: 'x' }, audit(4), { expectedVersion: 7 }), SettingsConflictError);
        assert.equal(await store.saveSettings({ clientId: 'c' }, audit(5)), 3);
        // Two writers that both read version 3, at once (another connection when the store has
        // one): exactly one is written, the other is refused.
        const other = h.reopen ? await h.reopen() : store;
        try {
          const results = await Promise.allSettled([
            store.saveSettings({ clientId: 'one' }, audit(6), { expectedVersion: 3 }),
            other.saveSettings({ clientId: 'two' }, audit(7), { expectedVersion: 3 }),
          ]);
          const won = results.findIndex((r) => r.status === 'fulfilled');
          assert.ok(won >= 0, 'one writer wins');
          const lost = results[1 - won]!;
          assert.equal(lost.status, 'rejected');
          assert.ok((lost as PromiseRejectedResult).reason instanceof SettingsConflictError);
          assert.equal(await store.settingsVersion(), 4);
          assert.deepEqual(await store.getSettings(), { clientId: won === 0 ? 'one' : 'two' });
        } finally {
          if (other !== store) await other.close();
        }
      });
    });

    it('keeps metadata, with set-if-absent', async () => {
      await withStore(factory, async ({ store }) => {
        assert.equal(await store.getMeta('x'), undefined);
        await store.setMeta('x', '1');
        await store.setMeta('x', '2');
        assert.equal(await store.getMeta('x'), '2');
        assert.equal(await store.setMetaIfAbsent('y', 'first'), 'first');
        assert.equal(await store.setMetaIfAbsent('y', 'second'), 'first');
      });
    });

    it('manages API keys by hash, with unique active names and revocation', async () => {
      await withStore(factory, async ({ store }) => {
        assert.equal(await store.createApiKey({ name: 'app', scope: 'send', hash: 'h1', prefix: 'mg_ab', createdAt: T0 }), true);
        assert.equal(await store.createApiKey({ name: 'app', scope: 'admin', hash: 'h2', prefix: 'mg_cd', createdAt: T0 }), false);
        const { id: firstId, ...first } = (await store.findApiKey('h1'))!;
        assert.deepEqual(first, { name: 'app', scope: 'send', prefix: 'mg_ab', createdAt: T0 });
        assert.equal(typeof firstId, 'string');
        assert.equal(await store.findApiKey('h2'), undefined);
        assert.equal(await store.revokeApiKey('app', T0 + 1), true);
        assert.equal(await store.revokeApiKey('app', T0 + 2), false);
        assert.equal(await store.findApiKey('h1'), undefined);
        assert.equal(await store.createApiKey({ name: 'app', scope: 'admin', hash: 'h3', prefix: 'mg_ef', createdAt: T0 + 3 }), true);
        const keys = await store.listApiKeys();
        assert.deepEqual(keys.map((k) => [k.name, k.scope, k.revokedAt]), [['app', 'send', T0 + 1], ['app', 'admin', undefined]]);
        // A name is reused after a revocation; an id never is (messages and idempotency keys belong to the id).
        assert.equal(keys[0].id, firstId);
        assert.notEqual(keys[1].id, firstId);
        assert.equal((await store.findApiKey('h3'))?.id, keys[1].id);
      });
    });

    it('records when an API key was last used (never earlier than already recorded)', async () => {
      await withStore(factory, async ({ store }) => {
        await store.createApiKey({ name: 'app', scope: 'send', hash: 'h1', prefix: 'mg_ab', createdAt: T0 });
        assert.equal((await store.listApiKeys())[0]!.lastUsedAt, undefined);
        await store.touchApiKey('h1', T0 + 10);
        await store.touchApiKey('h1', T0 + 5);
        assert.equal((await store.listApiKeys())[0]!.lastUsedAt, T0 + 10);
        assert.equal((await store.findApiKey('h1'))!.lastUsedAt, T0 + 10);
      });
    });

    it('manages relay clients: unique active names and usernames, verifiers only for the active list, revocation', async () => {
      await withStore(factory, async ({ store }) => {
        const base = { allowFrom: ['scanner@example.com'], allowIp: [], fromPolicy: 'reject' as const, noAuth: false, createdAt: T0 };
        assert.equal(await store.createRelayClient({ ...base, name: 'scanner', username: 'u1', passwordHash: 'scrypt$x' }), true);
        assert.equal(await store.createRelayClient({ ...base, name: 'scanner', username: 'u2', passwordHash: 'scrypt$y' }), false, 'name taken');
        assert.equal(await store.createRelayClient({ ...base, name: 'other', username: 'u1', passwordHash: 'scrypt$y' }), false, 'username taken');
        assert.equal(await store.createRelayClient({ ...base, name: 'printer', username: 'u3', noAuth: true, allowIp: ['192.168.1.0/24'], fromPolicy: 'rewrite' }), true);
        const active = await store.activeRelayClients();
        assert.deepEqual(active.map((c) => [c.name, c.username, c.passwordHash, c.noAuth, c.allowIp, c.fromPolicy]), [
          ['scanner', 'u1', 'scrypt$x', false, [], 'reject'],
          ['printer', 'u3', undefined, true, ['192.168.1.0/24'], 'rewrite'],
        ]);
        const listed = await store.listRelayClients();
        assert.ok(listed.every((c) => !('passwordHash' in c)), 'the listing never carries a verifier');
        assert.deepEqual(listed.map((c) => [c.name, c.allowFrom, c.messagesSent, c.messagesFailed, c.lastUsedAt]), [
          ['scanner', ['scanner@example.com'], 0, 0, undefined],
          ['printer', ['scanner@example.com'], 0, 0, undefined],
        ]);
        const scannerId = listed[0]!.id;
        await store.touchRelayClient(scannerId, T0 + 10);
        await store.touchRelayClient(scannerId, T0 + 5);
        assert.equal((await store.listRelayClients())[0]!.lastUsedAt, T0 + 10);
        // Counters come from the messages the client submitted; source is kept for the log.
        const m = newMessage({ relayClientId: scannerId, source: 'scanner' });
        await store.enqueue(m);
        const got = await store.get(m.id);
        assert.equal(got!.relayClientId, scannerId);
        assert.equal(got!.source, 'scanner');
        assert.equal((await store.list({ limit: 10 })).items[0]!.source, 'scanner');
        const [claimed] = await store.claim({ owner: 'w', limit: 1, now: T0, leaseMs: 1000 });
        await store.markSent(claimed!.lease, { at: T0 + 1, response: '250 ok', mailbox: 'sender@example.com' });
        assert.equal((await store.listRelayClients())[0]!.messagesSent, 1);
        assert.equal(await store.revokeRelayClient('scanner', T0 + 20), true);
        assert.equal(await store.revokeRelayClient('scanner', T0 + 21), false);
        assert.deepEqual((await store.activeRelayClients()).map((c) => c.name), ['printer']);
        assert.equal(await store.createRelayClient({ ...base, name: 'scanner', username: 'u1', passwordHash: 'scrypt$z' }), true, 'name and username reusable after revocation');
        const again = await store.listRelayClients();
        assert.deepEqual(again.map((c) => [c.name, c.revokedAt]), [['scanner', T0 + 20], ['printer', undefined], ['scanner', undefined]]);
        assert.notEqual(again[2]!.id, scannerId);
        assert.equal(again[2]!.messagesSent, 0, 'a new client with a reused name starts its own counters');
      });
    });

    it('records a test email as sent or failed with its attempt, marked as a test and never claimed', async () => {
      await withStore(factory, async ({ store }) => {
        const base = { mailbox: 'sender@example.com', payload: JSON.stringify({ to: ['t@example.com'], subject: 'Mailgate test message', text: 'x' }), toSummary: 't@example.com', subject: 'Mailgate test message', at: T0, expiresAt: T0 + DAY };
        const ok = randomUUID();
        await store.recordTest({ ...base, id: ok, messageIdHeader: `<${ok}@example.com>`, outcome: 'sent', response: '250 2.0.0 OK' });
        const bad = randomUUID();
        const diagnosis = { id: 'smtp-535-5.7.3', summary: 'refused', causes: [], fixes: [] };
        await store.recordTest({ ...base, id: bad, messageIdHeader: `<${bad}@example.com>`, outcome: 'failed', reply: '535 5.7.3 Authentication unsuccessful', code: 'AUTH_FAILED', diagnosis });
        const sent = await store.get(ok);
        assert.equal(sent!.status, 'sent');
        assert.equal(sent!.test, true);
        assert.equal(sent!.response, '250 2.0.0 OK');
        assert.equal(sent!.sentAt, T0);
        assert.deepEqual(sent!.attempts.map((a) => [a.attempt, a.outcome, a.reply]), [[1, 'sent', '250 2.0.0 OK']]);
        const failed = await store.get(bad);
        assert.equal(failed!.status, 'failed');
        assert.equal(failed!.lastCode, 'AUTH_FAILED');
        assert.deepEqual(failed!.attempts[0], { attempt: 1, at: T0, outcome: 'failed', reply: '535 5.7.3 Authentication unsuccessful', code: 'AUTH_FAILED', diagnosis });
        assert.equal((await store.list({ limit: 10 })).items.filter((m) => m.test).length, 2);
        assert.deepEqual(await store.claim({ owner: 'w', limit: 10, now: T0 + 1, leaseMs: 1000 }), []);
        // A failed test can be retried like any message: its payload is there.
        assert.equal((await store.requeue(bad, T0 + 2, T0 + DAY)).outcome, 'requeued');
        const [claimed] = await store.claim({ owner: 'w', limit: 10, now: T0 + 3, leaseMs: 1000 });
        assert.equal(claimed!.id, bad);
        assert.equal(JSON.parse(claimed!.payload).subject, 'Mailgate test message');
        const normal = newMessage();
        await store.enqueue(normal);
        assert.equal((await store.get(normal.id))!.test, undefined);
      });
    });

    it('keeps admin sessions by key hash with expiry, flash, purge of expired ones and a cap that drops anonymous sessions first', async () => {
      await withStore(factory, async ({ store, reopen }) => {
        const row = (keyHash: string, authenticated: boolean, at: number) => ({ keyHash, authenticated, createdAt: at, lastSeenAt: at, expiresAt: at + 1000 });
        await store.createAdminSession(row('admin', true, T0), 3);
        assert.deepEqual(await store.getAdminSession('admin', T0 + 1000), row('admin', true, T0), 'live until its expiry');
        assert.equal(await store.getAdminSession('admin', T0 + 1001), undefined, 'expired');
        assert.equal(await store.getAdminSession('nope', T0), undefined);
        assert.equal(await store.updateAdminSession('admin', { lastSeenAt: T0 + 500, expiresAt: T0 + 5000, flash: '{"kind":"info","text":"hi"}' }), true);
        // Another connection (another instance) sees the same session.
        const other = reopen ? await reopen() : store;
        assert.deepEqual(await other.getAdminSession('admin', T0 + 2000), { ...row('admin', true, T0), lastSeenAt: T0 + 500, expiresAt: T0 + 5000, flash: '{"kind":"info","text":"hi"}' });
        assert.equal(await other.updateAdminSession('admin', { flash: null }), true);
        assert.equal((await store.getAdminSession('admin', T0 + 2000))?.flash, undefined);
        assert.equal(await store.updateAdminSession('nope', { flash: null }), false);
        // The cap: anonymous sessions go first, least recently used first.
        await store.createAdminSession(row('anon1', false, T0 + 1), 3);
        await store.createAdminSession(row('anon2', false, T0 + 2), 3);
        await store.createAdminSession(row('anon3', false, T0 + 3), 3);
        assert.equal(await store.getAdminSession('anon1', T0 + 10), undefined, 'the least recently used anonymous session dropped');
        assert.ok(await store.getAdminSession('admin', T0 + 10), 'the signed-in session kept');
        assert.ok(await store.getAdminSession('anon3', T0 + 10));
        // Expired sessions are purged when a session is created.
        await store.createAdminSession(row('late', false, T0 + 4000), 3);
        assert.ok(await store.getAdminSession('admin', T0 + 4000));
        assert.equal(await store.getAdminSession('anon2', 0), undefined, 'an expired session is removed, not only hidden');
        await other.deleteAdminSession('admin');
        assert.equal(await store.getAdminSession('admin', T0), undefined, 'deleted everywhere');
        if (other !== store) await other.close();
      });
    });

    it('ping writes; close is idempotent', async () => {
      const h = await factory();
      await h.store.ping(T0);
      assert.deepEqual(h.store.storageHealth(), { full: false, fullWrites: 0 });
      await h.store.close();
      await h.store.close();
      await h.cleanup();
    });
  });
}
