/**
 * The worker and delivery ownership with several senders (WorkerDeps.notOwnedSenders): the
 * senders whose signed-in mailbox another instance owns are left out of the claims, their
 * expired leases too (the lease's holder may still record its result late, and the owner takes
 * them over), so nothing of theirs is sent by an instance that does not own the mailbox. Real SQLite store,
 * fake clock, one fake mailer per signed-in mailbox.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { parseSettings, type EmailSettings } from '../../src/core/settings.js';
import type { Mailer, TokenProvider } from '../../src/core/ports.js';
import { silentLogger } from '../../src/log/logger.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { MailerSource, type SendersSnapshotView } from '../../src/service/delivery/mailer-source.js';
import { DeliveryWorker } from '../../src/service/delivery/worker.js';
import { FakeClock, FakeMailer, settle, tempDir, waitFor } from './helpers.js';
import { newMessage } from './store-contract.js';

const CRED = { clientId: '11111111-2222-3333-4444-555555555555', tenantId: '66666666-7777-8888-9999-000000000000', clientSecret: 'x-secret-value~1' };

function settings(mailbox: string): EmailSettings {
  const r = parseSettings({ ...CRED, authorizedFrom: mailbox });
  assert.ok(r.ok);
  return r.settings;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('the worker leaves the senders of mailboxes it does not own to their owner', () => {
  it('claims only owned senders; another owner\'s sender\'s expired lease is left alone, for its holder\'s late result or the owner', async () => {
    const t = tempDir();
    const store = openSqliteStore(t.dir);
    const clock = new FakeClock();
    const senders = [
      { address: 'a@contoso.com', signInAs: 'a@contoso.com', settings: settings('a@contoso.com') },
      { address: 'b@contoso.com', signInAs: 'b@contoso.com', settings: settings('b@contoso.com') },
    ];
    const mailers = new Map<string, FakeMailer>();
    const mailerOf = (box: string) => {
      let m = mailers.get(box);
      if (!m) mailers.set(box, (m = new FakeMailer()));
      return m;
    };
    const snap: SendersSnapshotView = { senders: new Map(senders.map((s) => [s.address, s])), defaultSender: 'a@contoso.com' };
    const source = new MailerSource(() => ({ version: 1, settings: senders[0].settings }), (s, reuse) => {
      const tp: TokenProvider = reuse.tokenProvider ?? { requestCount: 1, getToken: async () => ({ token: 't', expiresAt: 0 }), invalidate: () => undefined };
      const fake = mailerOf(s.authorizedFrom);
      return Object.assign(Object.create(fake) as Mailer, { tokenProvider: tp, send: fake.send.bind(fake), close: fake.close.bind(fake) });
    }, undefined, () => snap);
    // b@'s mailbox is owned by another instance; a@ (the default sender) by this one.
    let notOwned = ['b@contoso.com'];
    const worker = new DeliveryWorker(
      { owner: 'here', leaseMs: 30_000, maxInFlight: 3, ratePerMinute: 600_000, rateBurst: 1000, pollIntervalMs: 1000, prefetch: 16, backoff: { baseMs: 1000, maxMs: 60_000 } },
      { store, mailers: source, scheduler: clock, logger: silentLogger(), classify: () => ({ retryable: true, reason: 'transient' }), random: () => 0, mayClaim: () => true, notOwnedSenders: () => notOwned },
    );
    cleanups.push(async () => {
      await worker.stop(0);
      await source.close();
      await store.close();
      t.remove();
    });
    const enqueue = async (sender: string, n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const m = newMessage({ createdAt: clock.now(), expiresAt: clock.now() + 3_600_000, mailbox: sender, sender });
        await store.enqueue(m);
        ids.push(m.id);
      }
      return ids;
    };
    // A message of b@ that a dead instance had claimed: its lease has expired.
    const [stale] = await enqueue('b@contoso.com', 1);
    const dead = await store.claim({ owner: 'dead', limit: 1, now: clock.now(), leaseMs: 1000 });
    assert.equal(dead.length, 1);
    clock.advance(2000);
    const b = await enqueue('b@contoso.com', 3);
    const a = await enqueue('a@contoso.com', 3);
    worker.start();
    await waitFor(async () => (await Promise.all(a.map(async (id) => (await store.get(id))!.status))).every((s) => s === 'sent'), 10_000, 'a@ delivered');
    await settle();
    assert.equal(mailerOf('b@contoso.com').calls.length, 0, 'nothing sent as b@ by an instance that does not own its mailbox');
    for (const id of b) assert.equal((await store.get(id))!.status, 'queued', 'left in the queue for the owner');
    const s = await store.get(stale);
    assert.equal(s!.status, 'sending', 'the expired lease is not taken over by an instance that does not own the mailbox');
    assert.equal(s!.leaseOwner, 'dead');
    assert.deepEqual(s!.attempts, [], 'no interrupted attempt recorded by this instance');
    // Ownership of b@'s mailbox comes here: its messages are delivered.
    notOwned = [];
    worker.wake();
    await waitFor(async () => (await Promise.all([...b, stale].map(async (id) => (await store.get(id))!.status))).every((x) => x === 'sent'), 10_000, 'b@ delivered once owned');
    assert.equal(mailerOf('b@contoso.com').calls.length, 4);
  });
});
