/**
 * Fair delivery across senders (issue 16, item 7), the worker on a real SQLite store with a fake
 * clock and scripted mailers, one per signed-in mailbox: a slow mailbox never holds up the
 * others, a configuration failure pauses only the senders of that mailbox (or of that
 * credential), each mailbox keeps its own connection cap and rate, senders on one credential
 * share one token provider, and a Send As sender's From is its own address.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { MailgateError } from '../../src/core/errors.js';
import type { Mailer, TokenProvider } from '../../src/core/ports.js';
import { parseSettings, type EmailSettings } from '../../src/core/settings.js';
import { silentLogger } from '../../src/log/logger.js';
import { openSqliteStore, type SqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { MailerSource, type SendersSnapshotView } from '../../src/service/delivery/mailer-source.js';
import { DeliveryWorker, type RetryClassification } from '../../src/service/delivery/worker.js';
import { FakeClock, FakeMailer, settle, tempDir, waitFor } from './helpers.js';
import { newMessage } from './store-contract.js';

const CRED_X = { clientId: '11111111-2222-3333-4444-555555555555', tenantId: '66666666-7777-8888-9999-000000000000', clientSecret: 'x-secret-value~1' };
const CRED_Y = { clientId: '22222222-2222-3333-4444-555555555555', tenantId: 'fabrikam.onmicrosoft.com', clientSecret: 'y-secret-value~2' };

function settings(cred: Record<string, string>, mailbox: string): EmailSettings {
  const r = parseSettings({ ...cred, authorizedFrom: mailbox });
  assert.ok(r.ok);
  return r.settings;
}

const classify = (e: unknown): RetryClassification => (e instanceof MailgateError && e.retryable ? { retryable: true, reason: 'transient' } : { retryable: false, reason: 'permanent' });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

interface Sender { address: string; signInAs: string; settings: EmailSettings; ratePerMinute?: number; maxConnections?: number }

async function harness(senders: Sender[]) {
  const t = tempDir();
  const store = openSqliteStore(t.dir);
  const clock = new FakeClock();
  /** One fake mailer per signed-in mailbox. */
  const mailers = new Map<string, FakeMailer>();
  const mailerOf = (mailbox: string) => {
    let m = mailers.get(mailbox);
    if (!m) mailers.set(mailbox, (m = new FakeMailer()));
    return m;
  };
  const providers: TokenProvider[] = [];
  const snap: SendersSnapshotView = { senders: new Map(senders.map((s) => [s.address, s])), defaultSender: senders[0].address };
  const source = new MailerSource(() => ({ version: 1, settings: senders[0].settings }), (s, reuse) => {
    const tp: TokenProvider = reuse.tokenProvider ?? { requestCount: 1, getToken: async () => ({ token: 't', expiresAt: 0 }), invalidate: () => undefined };
    if (!reuse.tokenProvider) providers.push(tp);
    const fake = mailerOf(s.authorizedFrom);
    return Object.assign(Object.create(fake) as Mailer, { tokenProvider: tp, send: fake.send.bind(fake), close: fake.close.bind(fake) });
  }, undefined, () => snap);
  const worker = new DeliveryWorker(
    { owner: 'w1', leaseMs: 30_000, maxInFlight: 3, ratePerMinute: 600_000, rateBurst: 1000, pollIntervalMs: 1000, prefetch: 16, backoff: { baseMs: 1000, maxMs: 60_000 } },
    { store, mailers: source, scheduler: clock, logger: silentLogger(), classify, random: () => 0 },
  );
  cleanups.push(async () => {
    for (const m of mailers.values()) m.releaseAll();
    await worker.stop(0);
    await source.close();
    await store.close();
    t.remove();
  });
  const enqueue = async (sender: Sender, n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const m = newMessage({ createdAt: clock.now(), expiresAt: clock.now() + 3_600_000, mailbox: sender.signInAs, sender: sender.address });
      await store.enqueue(m);
      ids.push(m.id);
    }
    worker.wake();
    return ids;
  };
  const statuses = async (ids: string[]) => Promise.all(ids.map(async (id) => (await store.get(id))!.status));
  return { store, clock, worker, source, mailerOf, providers, enqueue, statuses };
}

const A: Sender = { address: 'a@contoso.com', signInAs: 'a@contoso.com', settings: settings(CRED_X, 'a@contoso.com') };
const B: Sender = { address: 'b@contoso.com', signInAs: 'b@contoso.com', settings: settings(CRED_X, 'b@contoso.com') };
const C: Sender = { address: 'c@fabrikam.com', signInAs: 'c@fabrikam.com', settings: settings(CRED_Y, 'c@fabrikam.com') };

describe('fair delivery across senders', () => {
  it('a slow mailbox (its 3 connections stuck) never holds up the other senders, queued behind it', async () => {
    const h = await harness([A, B, C]);
    h.mailerOf('a@contoso.com').hold(); // every send of A hangs
    const a = await h.enqueue(A, 40); // far more than the prefetch, all older than B's and C's
    const b = await h.enqueue(B, 5);
    const c = await h.enqueue(C, 5);
    h.worker.start();
    await waitFor(async () => (await h.statuses([...b, ...c])).every((s) => s === 'sent'), 10_000, 'B and C delivered');
    assert.equal(h.mailerOf('a@contoso.com').peakInFlight, 3, 'A kept to its 3 connections');
    assert.equal((await h.statuses(a)).filter((s) => s === 'sent').length, 0);
    h.mailerOf('a@contoso.com').releaseAll();
  });

  it('a refused mailbox (535 5.7.3) pauses only its senders; a refused credential only the senders using it', async () => {
    const h = await harness([A, B, C]);
    h.mailerOf('a@contoso.com').behaviour = () => {
      throw new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: '535', smtp: { code: 535, enhanced: '5.7.3', raw: '535 5.7.3 Authentication unsuccessful' } });
    };
    const a = await h.enqueue(A, 6);
    const b = await h.enqueue(B, 4);
    h.worker.start();
    await waitFor(async () => (await h.statuses(b)).every((s) => s === 'sent'), 10_000, 'B (same credential, another mailbox) delivered');
    await settle();
    const sa = await h.statuses(a);
    assert.equal(sa.filter((s) => s === 'failed').length, 1, 'one message of A fails');
    assert.ok(sa.filter((s) => s === 'queued' || s === 'retrying').length >= 5 - 2, `the rest of A waits: ${sa}`);
    assert.ok(h.worker.activity().paused, 'A is paused');
    // C's credential refused by the token endpoint: C pauses, B still delivers.
    h.mailerOf('c@fabrikam.com').behaviour = () => {
      throw new MailgateError({ code: 'TOKEN_REJECTED', phase: 'token', message: 'AADSTS7000215' });
    };
    const c = await h.enqueue(C, 3);
    const b2 = await h.enqueue(B, 3);
    await waitFor(async () => (await h.statuses(b2)).every((s) => s === 'sent'), 10_000, 'B delivered while C is paused');
    await waitFor(async () => (await h.statuses(c)).filter((s) => s === 'failed').length === 1, 10_000, 'one C failed');
    assert.ok((await h.statuses(c)).filter((s) => s !== 'failed').every((s) => s === 'queued' || s === 'retrying'));
  });

  it('senders on one credential share one token provider; another credential has its own', async () => {
    const h = await harness([A, B, C]);
    await h.enqueue(A, 1);
    await h.enqueue(B, 1);
    await h.enqueue(C, 1);
    h.worker.start();
    await waitFor(() => h.mailerOf('a@contoso.com').calls.length + h.mailerOf('b@contoso.com').calls.length + h.mailerOf('c@fabrikam.com').calls.length === 3, 10_000, 'all sent');
    assert.equal(h.providers.length, 2, 'one token provider per credential');
  });

  it('Send As: the message goes through the signed-in mailbox, From the sender\'s address; each mailbox its own connection cap', async () => {
    const support: Sender = { address: 'support@contoso.com', signInAs: 'a@contoso.com', settings: A.settings, maxConnections: 1 };
    const h = await harness([A, support]);
    const fake = h.mailerOf('a@contoso.com');
    fake.hold();
    const ids = await h.enqueue(support, 4);
    h.worker.start();
    await waitFor(() => fake.calls.length >= 1, 5000, 'first send');
    await settle(20);
    assert.equal(fake.inFlight, 1, 'the sender\'s maxConnections 1 is kept');
    fake.releaseAll();
    await waitFor(async () => (await h.statuses(ids)).every((s) => s === 'sent'), 10_000, 'sent');
    assert.ok(fake.calls.every((m) => m.from === 'support@contoso.com'));
    assert.equal(fake.peakInFlight, 1);
  });
});
