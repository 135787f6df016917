/**
 * The delivery worker on a real SQLite store, with a fake clock and a scripted fake Mailer:
 * sending, in-flight cap, rate limit, backoff with jitter, permanent failures with diagnosis,
 * expired leases reclaimed, lease renewal, maximum age, recipient budget, settings changes.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { MailgateError } from '../../src/core/errors.js';
import type { Mailer, TokenProvider } from '../../src/core/ports.js';
import { parseSettings, type EmailSettings } from '../../src/core/settings.js';
import { silentLogger } from '../../src/log/logger.js';
import { openSqliteStore, type SqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { StorageFullError, StoreUnavailableError, type ClaimedMessage, type NewMessage } from '../../src/service/outbox/store.js';
import { MailerSource, type SettingsSnapshot } from '../../src/service/delivery/mailer-source.js';
import { DeliveryWorker, type RetryClassification, type WorkerOptions } from '../../src/service/delivery/worker.js';
import { isTransientStoreError } from '../../src/service/delivery/attempt.js';
import { pino } from 'pino';
import { retryDelayMs } from '../../src/service/delivery/backoff.js';
import { TokenBucket } from '../../src/service/delivery/rate-limiter.js';
import { FakeClock, FakeMailer, settle, tempDir, waitFor } from './helpers.js';
import { newMessage } from './store-contract.js';

const SETTINGS_RAW = {
  clientId: '11111111-2222-3333-4444-555555555555',
  tenantId: '66666666-7777-8888-9999-000000000000',
  clientSecret: 'a-very-secret-value~123',
  authorizedFrom: 'sender@contoso.com',
};

function settings(over: Record<string, unknown> = {}): EmailSettings {
  const r = parseSettings({ ...SETTINGS_RAW, ...over });
  assert.ok(r.ok);
  return r.settings;
}

const transient = (minDelayMs?: number) =>
  new MailgateError({ code: 'SMTP_TRANSIENT', phase: 'send', message: '432', retryable: true, smtp: { code: 432, enhanced: '4.3.2', raw: '432 4.3.2 Concurrent connections limit exceeded' }, context: { minDelayMs } });
const permanent = () =>
  new MailgateError({ code: 'SMTP_REJECTED', phase: 'send', message: '550', smtp: { code: 550, enhanced: '5.7.60', raw: '550 5.7.60 SMTP; Client does not have permissions to send as this sender' } });

const classify = (e: unknown): RetryClassification => {
  if (e instanceof MailgateError && e.retryable) return { retryable: true, reason: 'transient', minDelayMs: e.context.minDelayMs as number | undefined };
  return { retryable: false, reason: 'permanent' };
};

interface Harness {
  store: SqliteStore;
  clock: FakeClock;
  mailer: FakeMailer;
  worker: DeliveryWorker;
  source: MailerSource;
  snapshot: SettingsSnapshot;
  built: { settings: EmailSettings; reused: boolean }[];
  enqueue(over?: Partial<NewMessage>): Promise<string>;
  idle(): Promise<void>;
  /** Advance the fake clock in steps of the poll interval, letting the worker run after each. */
  tick(ms: number): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function harness(opts: Partial<WorkerOptions> = {}, random = () => 0, logger = silentLogger()): Promise<Harness> {
  const t = tempDir();
  const store = openSqliteStore(t.dir);
  const clock = new FakeClock();
  const mailer = new FakeMailer();
  const snapshot: SettingsSnapshot = { version: 1, settings: settings() };
  const built: Harness['built'] = [];
  const source = new MailerSource(() => snapshot, (s, reuse) => {
    built.push({ settings: s, reused: !!reuse.tokenProvider });
    const tp: TokenProvider = reuse.tokenProvider ?? { requestCount: 1, getToken: async () => ({ token: 't', expiresAt: 0 }), invalidate: () => undefined };
    return Object.assign(Object.create(mailer) as Mailer, { tokenProvider: tp, send: mailer.send.bind(mailer), close: mailer.close.bind(mailer) });
  });
  const worker = new DeliveryWorker(
    { owner: 'w1', leaseMs: 30_000, maxInFlight: 3, ratePerMinute: 600_000, rateBurst: 1000, pollIntervalMs: 1000, backoff: { baseMs: 1000, maxMs: 60_000 }, ...opts },
    { store, mailers: source, scheduler: clock, logger, classify, random,
      diagnose: (e) => ({ id: e instanceof MailgateError ? `diag-${e.code}` : 'unknown', summary: 's', causes: [], fixes: ['fix it'] }) },
  );
  const h: Harness = {
    store, clock, mailer, worker, source, snapshot, built,
    async enqueue(over = {}) {
      const m = newMessage({ createdAt: clock.now(), expiresAt: clock.now() + 3_600_000, ...over });
      await store.enqueue(m);
      worker.wake();
      return m.id;
    },
    async idle() {
      await settle();
      await waitFor(() => worker.isIdle(), 5000, 'worker idle');
      await settle();
    },
    async tick(ms) {
      for (let left = ms; left > 0; left -= 1000) {
        clock.advance(Math.min(1000, left));
        await h.idle();
      }
    },
  };
  cleanups.push(async () => {
    await worker.stop(0);
    await source.close();
    await store.close();
    t.remove();
  });
  return h;
}

describe('delivery worker', () => {
  it('sends queued messages with their stable Message-ID and records the attempt', async () => {
    const h = await harness();
    h.worker.start();
    const id = await h.enqueue();
    await h.idle();
    const m = await h.store.get(id);
    assert.equal(m?.status, 'sent');
    assert.equal(m?.response, '250 2.0.0 OK');
    assert.equal(h.mailer.calls.length, 1);
    assert.equal(h.mailer.calls[0].messageId, m?.messageIdHeader);
    assert.deepEqual(m?.attempts.map((a) => a.outcome), ['sent']);
  });

  it('lets go of a claimed message\'s stored JSON once it is decoded, so it is not held through the send (issue 19)', async () => {
    const h = await harness();
    const claimed: ClaimedMessage[] = [];
    const claim = h.store.claim.bind(h.store);
    h.store.claim = async (o) => {
      const out = await claim(o);
      claimed.push(...out);
      return out;
    };
    h.worker.start();
    const id = await h.enqueue();
    await h.idle();
    assert.equal((await h.store.get(id))?.status, 'sent');
    assert.equal(h.mailer.calls.length, 1);
    assert.equal(claimed.length, 1);
    assert.equal(claimed[0].payload, '', 'the claim record no longer carries the ~11 KB JSON');
    assert.ok(h.mailer.calls[0].to.length > 0, 'the message was decoded and sent before that');
  });

  it('a sent message whose result cannot be written yet (disk full) stays sent, never failed, and is not sent twice', async () => {
    const h = await harness();
    const markSent = h.store.markSent.bind(h.store);
    let refusals = 3;
    h.store.markSent = async (...args) => {
      if (refusals > 0) {
        refusals--;
        throw new StorageFullError();
      }
      return markSent(...args);
    };
    h.worker.start();
    const id = await h.enqueue();
    await waitFor(() => h.mailer.calls.length === 1, 5000, 'the message handed to the mailer');
    for (let i = 0; i < 5; i++) {
      await settle();
      h.clock.advance(1000);
    }
    await h.idle();
    const m = await h.store.get(id);
    assert.equal(refusals, 0);
    assert.equal(m?.status, 'sent', JSON.stringify(m?.attempts));
    assert.deepEqual(m?.attempts.map((a) => a.outcome), ['sent']);
    assert.equal(h.mailer.calls.length, 1);
  });

  it('keeps the lease of a sent message while its result waits for disk space longer than the lease, so it is not claimed and sent again', async () => {
    const h = await harness({ leaseMs: 30_000 });
    const markSent = h.store.markSent.bind(h.store);
    let refusals = 45; // 45 s of a full disk, longer than the 30 s lease
    h.store.markSent = async (...args) => {
      if (refusals > 0) {
        refusals--;
        throw new StorageFullError();
      }
      return markSent(...args);
    };
    h.worker.start();
    const id = await h.enqueue();
    await waitFor(() => h.mailer.calls.length === 1, 5000, 'the message handed to the mailer');
    for (let i = 0; i < 40; i++) {
      await settle();
      h.clock.advance(1000);
    }
    await settle();
    assert.ok(refusals > 0, 'still recording after 40 s');
    // Another worker polling now finds nothing to claim: the lease was renewed.
    assert.deepEqual(await h.store.claim({ owner: 'w2', limit: 10, now: h.clock.now(), leaseMs: 30_000 }), []);
    for (let i = 0; i < 10; i++) {
      await settle();
      h.clock.advance(1000);
    }
    await h.idle();
    assert.equal(refusals, 0);
    const m = await h.store.get(id);
    assert.equal(m?.status, 'sent', JSON.stringify(m?.attempts));
    assert.deepEqual(m?.attempts.map((a) => a.outcome), ['sent']);
    assert.equal(h.mailer.calls.length, 1, 'sent once');
  });

  it('a sent message whose result fails to record for a reason other than a full or busy store is not retried', async () => {
    const h = await harness();
    let tries = 0;
    h.store.markSent = async () => {
      tries++;
      throw new Error('SQLITE_CORRUPT: database disk image is malformed');
    };
    h.worker.start();
    const id = await h.enqueue();
    await waitFor(() => h.mailer.calls.length === 1, 5000, 'the message handed to the mailer');
    for (let i = 0; i < 5; i++) {
      await settle();
      h.clock.advance(1000);
    }
    await h.idle();
    assert.equal(tries, 1, 'recorded once, not retried');
    const m = await h.store.get(id);
    assert.equal(m?.status, 'sending', 'left to the lease, never failed');
  });

  it('retries recording only a full disk or a busy/locked database', () => {
    assert.equal(isTransientStoreError(new StorageFullError()), true);
    assert.equal(isTransientStoreError(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })), true);
    assert.equal(isTransientStoreError(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'SQLITE_BUSY_SNAPSHOT' }) })), true);
    assert.equal(isTransientStoreError(Object.assign(new Error('locked'), { code: 'SQLITE_LOCKED' })), true);
    assert.equal(isTransientStoreError(Object.assign(new Error('malformed'), { code: 'SQLITE_CORRUPT' })), false);
    assert.equal(isTransientStoreError(new TypeError('bug')), false);
  });

  it('when the lease renewal of a message being recorded fails too (full disk), the log says another instance may send it again', async () => {
    const lines: string[] = [];
    const h = await harness({}, () => 0, pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }));
    const markSent = h.store.markSent.bind(h.store);
    const renewLeases = h.store.renewLeases.bind(h.store);
    let full = true;
    h.store.markSent = async (...args) => {
      if (full) throw new StorageFullError();
      return markSent(...args);
    };
    h.store.renewLeases = async (...args) => {
      if (full) throw new StorageFullError();
      return renewLeases(...args);
    };
    h.worker.start();
    const id = await h.enqueue();
    await waitFor(() => h.mailer.calls.length === 1, 5000, 'the message handed to the mailer');
    for (let i = 0; i < 12; i++) {
      await settle();
      h.clock.advance(1000);
    }
    await settle();
    const renewal = lines.map((l) => JSON.parse(l) as { msg: string; messageIds?: string[] }).find((l) => l.msg.startsWith('could not renew leases'));
    assert.ok(renewal, lines.join(''));
    assert.match(renewal.msg, /recorded before this instance claims anything, but another instance taking their mailbox over after their lease expires may send them again \(at-least-once, same Message-ID\)/);
    assert.deepEqual(renewal.messageIds, [id]);
    full = false;
    await h.tick(2000);
    assert.equal((await h.store.get(id))?.status, 'sent');
  });

  /** Make the store unreachable (StoreUnavailableError, as PostgreSQL down) for the worker's writes and claims while `down()`. */
  function outage(h: Harness, down: () => boolean): { claimsWhileUp: { at: number; statuses: string[] }[]; watch: string[] } {
    const st = h.store;
    const claim = st.claim.bind(st);
    const out = { claimsWhileUp: [] as { at: number; statuses: string[] }[], watch: [] as string[] };
    const refuse = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
      if (down()) throw new StoreUnavailableError();
      return f(...a);
    };
    st.markSent = refuse(st.markSent.bind(st));
    st.markRetrying = refuse(st.markRetrying.bind(st));
    st.markFailed = refuse(st.markFailed.bind(st));
    st.renewLeases = refuse(st.renewLeases.bind(st));
    st.release = refuse(st.release.bind(st));
    st.claim = async (o) => {
      if (down()) throw new StoreUnavailableError();
      // What the watched messages looked like when the worker claimed again.
      out.claimsWhileUp.push({ at: h.clock.now(), statuses: await Promise.all(out.watch.map(async (id) => (await st.get(id))!.status)) });
      return claim(o);
    };
    return out;
  }

  it('keeps the results the store cannot record (database unreachable) and records them before claiming anything, so nothing is sent twice after an outage longer than the lease', async () => {
    const h = await harness({ leaseMs: 5000 });
    let down = false;
    const o = outage(h, () => down);
    h.mailer.behaviour = (m) => {
      if (m.subject === 'retry-me') throw transient();
      if (m.subject === 'fail-me') throw permanent();
      return { messageId: m.messageId ?? '<x@y>', response: '250 2.0.0 OK', accepted: m.to, rejected: [] };
    };
    h.mailer.hold();
    h.worker.start();
    const payload = (subject: string) => JSON.stringify({ to: ['a@example.com'], subject, text: 't' });
    const ids = [await h.enqueue(), await h.enqueue(), await h.enqueue({ payload: payload('retry-me') }), await h.enqueue({ payload: payload('fail-me') })];
    o.watch.push(...ids);
    await waitFor(() => h.mailer.calls.length === 3, 5000, 'three sends in flight');
    down = true;
    h.mailer.releaseAll();
    await waitFor(() => h.mailer.calls.length === 4, 5000, 'the fourth send');
    h.mailer.releaseAll();
    await waitFor(() => (h.worker.activity().unrecorded ?? 0) === 4, 5000, 'four results kept');
    // 20 s of outage: every lease lapses.
    for (let i = 0; i < 20; i++) {
      await settle();
      h.clock.advance(1000);
    }
    await settle();
    assert.equal(h.worker.activity().unrecorded, 4, 'still kept while the store refuses');
    assert.equal(h.worker.isIdle(), false, 'not idle while results are kept');
    o.claimsWhileUp.length = 0;
    down = false;
    await h.tick(2000);
    assert.ok(o.claimsWhileUp.length > 0, 'the worker claims again');
    assert.deepEqual(o.claimsWhileUp[0].statuses, ['sent', 'sent', 'retrying', 'failed'], 'every kept result was recorded before the first claim');
    const got = await Promise.all(ids.map((id) => h.store.get(id)));
    assert.deepEqual(got.slice(0, 2).map((m) => m?.attempts.map((a) => a.outcome)), [['sent'], ['sent']]);
    assert.equal(got[2]?.attempts[0].outcome, 'retry');
    assert.equal(got[3]?.status, 'failed');
    assert.deepEqual(h.worker.lateResults(), { recorded: 4, dropped: 0, kept: 0 });
    assert.equal(h.mailer.calls.filter((c) => c.subject !== 'retry-me').length, 3, 'nothing sent twice');
  });

  it('drops a kept result whose message another instance claimed meanwhile (logged), leaving that instance\'s outcome', async () => {
    const lines: string[] = [];
    const h = await harness({ leaseMs: 5000 }, () => 0, pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }));
    let down = false;
    const claim = h.store.claim.bind(h.store);
    const markSent = h.store.markSent.bind(h.store);
    outage(h, () => down);
    h.mailer.hold();
    h.worker.start();
    const [a, b] = [await h.enqueue(), await h.enqueue()];
    await waitFor(() => h.mailer.calls.length === 2, 5000, 'two sends in flight');
    down = true;
    h.mailer.releaseAll();
    await waitFor(() => (h.worker.activity().unrecorded ?? 0) === 2, 5000, 'two results kept');
    h.clock.advance(10_000);
    // Another instance (it reached the database first, and took the mailbox over) claims a and sends it.
    const theirs = await claim({ owner: 'other', limit: 1, now: h.clock.now(), leaseMs: 60_000, excludeSenders: [] });
    assert.equal(theirs.length, 1);
    const taken = theirs[0].id;
    assert.equal(await markSent(theirs[0].lease, { at: h.clock.now(), response: '250 theirs', mailbox: 'm' }), true);
    down = false;
    await h.tick(2000);
    const kept = [a, b].find((x) => x !== taken)!;
    assert.equal((await h.store.get(taken))?.response, '250 theirs', 'the other instance\'s outcome stays');
    assert.equal((await h.store.get(kept))?.status, 'sent', 'the lapsed lease nobody claimed accepted the late result');
    assert.deepEqual(h.worker.lateResults(), { recorded: 1, dropped: 1, kept: 0 });
    const dropped = lines.map((l) => JSON.parse(l) as { msg: string; messageId?: string }).filter((l) => l.msg.startsWith('late delivery result dropped'));
    assert.deepEqual(dropped.map((l) => l.messageId), [taken]);
    assert.match(dropped[0].msg, /may be delivered twice \(same Message-ID\)/);
  });

  it('counts a kept result as recorded when its first write did commit (the answer was lost with the connection)', async () => {
    const h = await harness({ leaseMs: 5000 });
    const markSent = h.store.markSent.bind(h.store);
    let lose = 1;
    h.store.markSent = async (...args) => {
      const r = await markSent(...args);
      if (lose-- > 0) throw new StoreUnavailableError('Connection terminated unexpectedly');
      return r;
    };
    h.worker.start();
    const id = await h.enqueue();
    await waitFor(() => h.worker.activity().unrecorded === 1, 5000, 'sent, its result kept');
    await h.tick(2000);
    assert.equal((await h.store.get(id))?.status, 'sent');
    assert.deepEqual(h.worker.lateResults(), { recorded: 1, dropped: 0, kept: 0 });
    assert.equal(h.mailer.calls.length, 1);
  });

  it('never has more than maxInFlight messages in flight', async () => {
    const h = await harness({ maxInFlight: 2 });
    h.mailer.hold();
    h.worker.start();
    for (let i = 0; i < 8; i++) await h.enqueue();
    await waitFor(() => h.mailer.inFlight === 2, 5000, 'two sends in flight');
    await settle();
    assert.equal(h.mailer.inFlight, 2);
    h.mailer.releaseAll();
    // Keep releasing until everything is through.
    await waitFor(async () => {
      h.mailer.releaseAll();
      return (await h.store.countByStatus()).sent === 8;
    }, 5000, 'all sent');
    assert.equal(h.mailer.peakInFlight, 2);
  });

  it('hands queueAhead more messages to the mailer than maxInFlight once the settings delivered one, and no more', async () => {
    const h = await harness({ maxInFlight: 3, queueAhead: 3 });
    h.worker.start();
    h.mailer.hold();
    for (let i = 0; i < 10; i++) await h.enqueue();
    await waitFor(() => h.mailer.inFlight === 3, 5000, 'three sends before anything was delivered');
    await settle();
    assert.equal(h.mailer.inFlight, 3, 'no queue-ahead while the settings are unproven');
    h.mailer.releaseAll();
    h.mailer.hold();
    await waitFor(() => h.mailer.inFlight === 6, 5000, 'six sends handed over once one was delivered');
    await settle();
    assert.equal(h.mailer.inFlight, 6);
    await waitFor(async () => {
      h.mailer.releaseAll();
      return (await h.store.countByStatus()).sent === 10;
    }, 5000, 'all sent');
    assert.equal(h.mailer.peakInFlight, 6);
  });

  it('messages in flight that hit the same configuration refusal: one fails, the others go back to the queue untried', async () => {
    const h = await harness({ maxInFlight: 3, queueAhead: 3 });
    const refused = () => new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: '535', smtp: { code: 535, enhanced: '5.7.3', raw: '535 5.7.3 Authentication unsuccessful [X]' } });
    h.mailer.behaviour = () => {
      throw refused();
    };
    h.mailer.hold();
    h.worker.start();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await h.enqueue());
    await waitFor(() => h.mailer.inFlight === 3, 5000, 'three sends in flight (no queue-ahead: nothing delivered yet)');
    h.mailer.releaseAll();
    await h.idle();
    const statusesNow = () => Promise.all(ids.map(async (id) => (await h.store.get(id))?.status));
    await waitFor(async () => !(await statusesNow()).includes('sending'), 5000, 'the returned messages committed');
    const statuses = await statusesNow();
    assert.equal(statuses.filter((s) => s === 'failed').length, 1, statuses.join());
    assert.equal(statuses.filter((s) => s === 'queued').length, 4, statuses.join());
    assert.equal(h.mailer.calls.length, 3, 'nothing more was tried while paused');
    assert.equal(h.worker.activity().paused?.code, 'AUTH_FAILED');
    const held = await Promise.all(ids.map(async (id) => (await h.store.get(id))?.attempts.length));
    assert.equal(held.filter((n) => n === 0).length, 4, 'the returned messages carry no attempt');
  });

  it('a send withdrawn before it started (pool closed: INTERRUPTED, nothing sent) goes back to the queue without an attempt', async () => {
    const h = await harness();
    h.mailer.behaviour = (m, call) => {
      if (call === 1) throw new MailgateError({ code: 'INTERRUPTED', phase: 'send', retryable: true, message: 'pool closed', context: { notSent: true } });
      return { messageId: m.messageId!, response: '250 2.0.0 OK', accepted: m.to, rejected: [] };
    };
    h.worker.start();
    const id = await h.enqueue();
    await waitFor(async () => (await h.store.get(id))?.status === 'sent', 5000, 'sent on the next try');
    const m = await h.store.get(id);
    assert.deepEqual(m?.attempts.map((a) => a.outcome), ['sent'], 'the withdrawn try is not an attempt');
    assert.equal(h.mailer.calls.length, 2);
  });

  it('refuses more than 3 in flight (Exchange allows 3 connections per mailbox)', () => {
    assert.throws(() => new DeliveryWorker({ owner: 'x', leaseMs: 1000, maxInFlight: 4, ratePerMinute: 30 }, {} as never), /between 1 and 3/);
  });

  it('honours the per-mailbox rate limit (token bucket)', async () => {
    const h = await harness({ ratePerMinute: 60, rateBurst: 2 });
    h.worker.start();
    for (let i = 0; i < 5; i++) await h.enqueue();
    await waitFor(() => h.mailer.calls.length === 2);
    await settle(10);
    assert.equal(h.mailer.calls.length, 2, 'burst of 2');
    h.clock.advance(1011); // one second at 60/min, plus the 1 % headroom
    await settle(10);
    assert.equal(h.mailer.calls.length, 3, 'one more after a second');
    h.clock.advance(2022);
    await settle(10);
    assert.equal(h.mailer.calls.length, 5);
  });

  it('retries transient failures with exponential backoff and jitter, then sends', async () => {
    const h = await harness({}, () => 0.5);
    h.mailer.behaviour = (m, call) => {
      if (call <= 2) throw transient();
      return { messageId: m.messageId!, response: '250 2.0.0 OK', accepted: m.to, rejected: [] };
    };
    h.worker.start();
    const t0 = h.clock.now();
    const id = await h.enqueue();
    await h.idle();
    let m = await h.store.get(id);
    assert.equal(m?.status, 'retrying');
    // attempt 1: base 1000 → jitter 0.5 → 750 ms
    assert.equal(m?.nextAttemptAt, t0 + retryDelayMs(1, { baseMs: 1000, maxMs: 60_000 }, 0.5));
    assert.equal(m?.nextAttemptAt, t0 + 750);
    h.clock.advance(749);
    await h.idle();
    assert.equal(h.mailer.calls.length, 1, 'not before the delay');
    await h.tick(1000); // poll fires, attempt 2 fails: 2000 * 0.75 = 1500
    m = await h.store.get(id);
    assert.equal(m?.status, 'retrying');
    assert.equal(m?.nextAttemptAt! - m?.attempts[1].at!, 1500);
    await h.tick(3000);
    m = await h.store.get(id);
    assert.equal(m?.status, 'sent');
    assert.deepEqual(m?.attempts.map((a) => [a.attempt, a.outcome, a.code]), [[1, 'retry', 'SMTP_TRANSIENT'], [2, 'retry', 'SMTP_TRANSIENT'], [3, 'sent', undefined]]);
    assert.equal(m?.attempts[0].reply, '432 4.3.2 Concurrent connections limit exceeded');
    assert.equal(m?.attempts[0].diagnosis?.id, 'diag-SMTP_TRANSIENT');
  });

  it('waits at least the minimum delay the policy asks for (Retry-After)', async () => {
    const h = await harness();
    h.mailer.behaviour = () => {
      throw transient(90_000);
    };
    h.worker.start();
    const id = await h.enqueue();
    await h.idle();
    const m = await h.store.get(id);
    assert.equal(m?.nextAttemptAt! - m?.attempts[0].at!, 90_000);
  });

  it('fails permanent errors at once with the diagnosis stored, never retrying', async () => {
    const h = await harness();
    h.mailer.behaviour = () => {
      throw permanent();
    };
    h.worker.start();
    const id = await h.enqueue();
    await h.idle();
    await h.tick(10_000);
    const m = await h.store.get(id);
    assert.equal(m?.status, 'failed');
    assert.equal(m?.lastCode, 'SMTP_REJECTED');
    assert.equal(h.mailer.calls.length, 1);
    assert.deepEqual(m?.attempts[0].diagnosis, { id: 'diag-SMTP_REJECTED', summary: 's', causes: [], fixes: ['fix it'] });
  });

  it('expires messages past their maximum age without sending them', async () => {
    const h = await harness();
    const id = await h.enqueue({ expiresAt: h.clock.now() - 1 });
    h.worker.start();
    await h.idle();
    const m = await h.store.get(id);
    assert.equal(m?.status, 'failed');
    assert.equal(m?.lastCode, 'EXPIRED');
    assert.equal(h.mailer.calls.length, 0);
  });

  it('a message that keeps failing transiently ends as EXPIRED at its maximum age', async () => {
    const h = await harness();
    h.mailer.behaviour = () => {
      throw transient();
    };
    h.worker.start();
    const id = await h.enqueue({ expiresAt: h.clock.now() + 10_000 });
    await h.tick(20_000);
    const m = await h.store.get(id);
    assert.equal(m?.status, 'failed');
    assert.equal(m?.lastCode, 'EXPIRED');
    assert.ok(m!.attempts.length >= 3);
    assert.equal(m?.attempts.at(-1)?.outcome, 'expired');
  });

  it('takes over messages whose lease expired (a crashed worker) and sends them with the same Message-ID', async () => {
    const h = await harness({ leaseMs: 5000 });
    const id = await h.enqueue();
    // A worker that crashed mid-send: claimed, never completed.
    const [dead] = await h.store.claim({ owner: 'dead-worker', limit: 1, now: h.clock.now(), leaseMs: 5000 });
    h.worker.start();
    await h.idle();
    assert.equal(h.mailer.calls.length, 0, 'lease still valid');
    await h.tick(5000);
    const m = await h.store.get(id);
    assert.equal(m?.status, 'sent');
    assert.equal(h.mailer.calls[0].messageId, dead.messageIdHeader);
    assert.deepEqual(m?.attempts.map((a) => [a.outcome, a.code]), [['interrupted', 'LEASE_EXPIRED'], ['sent', undefined]]);
    assert.equal(await h.store.markSent(dead.lease, { at: h.clock.now(), response: '250', mailbox: 'x' }), false);
  });

  it('renews leases of a slow send so no other worker takes the message over', async () => {
    const h = await harness({ leaseMs: 3000 });
    h.mailer.hold();
    h.worker.start();
    const id = await h.enqueue();
    await waitFor(() => h.mailer.inFlight === 1);
    for (let i = 0; i < 5; i++) {
      h.clock.advance(1000);
      await settle(10);
    }
    assert.deepEqual(await h.store.claim({ owner: 'other', limit: 5, now: h.clock.now(), leaseMs: 3000 }), []);
    h.mailer.releaseAll();
    await h.idle();
    assert.equal((await h.store.get(id))?.status, 'sent');
  });

  it('adopts its own lease when a stall let it expire mid-send: recorded as sent, never sent twice', async () => {
    const h = await harness({ leaseMs: 3000 });
    h.mailer.hold();
    h.worker.start();
    const id = await h.enqueue();
    await waitFor(() => h.mailer.inFlight === 1);
    // Renewals fail for a while (a busy disk), so the lease runs out and the next poll reclaims it.
    const renew = h.store.renewLeases.bind(h.store);
    h.store.renewLeases = async () => {
      throw new Error('database is locked');
    };
    for (let i = 0; i < 5; i++) {
      h.clock.advance(1000);
      await settle(10);
    }
    h.store.renewLeases = renew;
    h.clock.advance(1000);
    await settle(20);
    assert.equal((await h.store.get(id))?.attempts.at(-1)?.outcome, 'interrupted', 'the lease was taken back');
    h.mailer.releaseAll();
    await h.idle();
    for (let i = 0; i < 5; i++) {
      h.clock.advance(4000);
      await settle(10);
    }
    assert.equal((await h.store.get(id))?.status, 'sent');
    assert.equal(h.mailer.calls.length, 1, 'sent once');
  });

  it('defers messages that would exceed the recipient budget', async () => {
    const h = await harness({ budget: { limit: 5, windowMs: 86_400_000, refreshMs: 60_000 }, budgetDeferMs: 60_000 });
    h.worker.start();
    const a = await h.enqueue({ recipientCount: 3 });
    await h.idle();
    const b = await h.enqueue({ recipientCount: 3 });
    await h.idle();
    assert.equal((await h.store.get(a))?.status, 'sent');
    const mb = await h.store.get(b);
    assert.equal(mb?.status, 'queued');
    assert.equal(mb?.attemptCount, 0);
    assert.equal(mb?.nextAttemptAt, h.clock.now() + 60_000);
    assert.equal(h.mailer.calls.length, 1);
  });

  it('does not claim while the settings are unusable, and resumes when they become valid', async () => {
    const h = await harness();
    h.snapshot.settings = undefined;
    h.worker.start();
    const id = await h.enqueue();
    await h.idle();
    assert.equal((await h.store.get(id))?.status, 'queued');
    h.snapshot.settings = settings();
    h.snapshot.version = 2;
    await h.tick(1000);
    assert.equal((await h.store.get(id))?.status, 'sent');
  });

  it('rebuilds the mailer when settings change, reusing the token provider when the credential is the same', async () => {
    const h = await harness();
    h.worker.start();
    await h.enqueue();
    await h.idle();
    h.snapshot.settings = settings({ socketTimeoutMs: 5000 });
    h.snapshot.version = 2;
    await h.enqueue();
    await h.idle();
    h.snapshot.settings = settings({ clientSecret: 'another-secret-value' });
    h.snapshot.version = 3;
    await h.enqueue();
    await h.idle();
    assert.deepEqual(h.built.map((b) => b.reused), [false, true, false]);
    assert.equal(h.source.tokenRequests(), 2);
  });

  it('stop() gives buffered messages back without counting an attempt', async () => {
    const h = await harness({ maxInFlight: 1 });
    h.mailer.hold();
    h.worker.start();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await h.enqueue());
    await waitFor(() => h.mailer.inFlight === 1 && h.worker.activity().buffered > 0);
    const stopping = h.worker.stop(60_000);
    await settle(10);
    h.mailer.releaseAll();
    await stopping;
    const statuses = await Promise.all(ids.map(async (id) => (await h.store.get(id))?.status));
    assert.equal(statuses.filter((s) => s === 'sent').length, 1);
    assert.equal(statuses.filter((s) => s === 'queued').length, 3);
  });
});

describe('token bucket', () => {
  it('never lets more than the rate through in any 60-second window, even starting with a full bucket', () => {
    const b = new TokenBucket({ ratePerMinute: 600 });
    const sent: number[] = [];
    for (let t = 0; t <= 180_000; t += 10) if (b.tryTake(t)) sent.push(t);
    for (let i = 0; i < sent.length; i++) {
      const inWindow = sent.filter((x) => x > sent[i] - 60_000 && x <= sent[i]).length;
      assert.ok(inWindow <= 600, `${inWindow} sends in the 60 s before ${sent[i]} ms`);
    }
    assert.ok(sent.filter((x) => x < 60_000).length >= 590, 'and still close to the full rate');
    assert.equal(b.tryTake(180_000), false);
    assert.ok(b.msUntilNext(180_000) > 0);
  });

  it('allows a configured burst, then the rate', () => {
    const b = new TokenBucket({ ratePerMinute: 30, burst: 2, headroom: 0 });
    assert.equal(b.tryTake(0), true);
    assert.equal(b.tryTake(0), true);
    assert.equal(b.tryTake(0), false);
    assert.equal(b.msUntilNext(0), 2000);
    assert.equal(b.tryTake(1999), false);
    assert.equal(b.tryTake(2000), true);
  });

  it('by default spaces messages evenly, 1 % under the rate, so no window of any length gets more than its share', () => {
    const b = new TokenBucket({ ratePerMinute: 600 });
    assert.equal(b.tryTake(0), true, 'a single message is immediate');
    assert.equal(b.tryTake(0), false, 'no burst');
    assert.equal(b.msUntilNext(0), 102, 'the next one after 60 s / 600 / 0.99, rounded up');
    const sent: number[] = [0];
    for (let t = 1; t <= 120_000; t++) if (b.tryTake(t)) sent.push(t);
    for (const w of [1_000, 15_000, 60_000]) {
      let most = 0;
      for (let i = 0; i < sent.length; i++) most = Math.max(most, sent.filter((x) => x >= sent[i] && x < sent[i] + w).length);
      assert.ok(most <= (600 * w) / 60_000, `${most} sends in a ${w} ms window`);
    }
    const perMinute = sent.filter((x) => x < 60_000).length;
    assert.ok(perMinute >= 590 && perMinute <= 600, `${perMinute} in the first minute (within 3 % of the limit)`);
    assert.equal(new TokenBucket({ ratePerMinute: 30 }).tryTake(0), true, 'a single message is immediate at 30/min');
  });

  it('at 30/min after an idle period, no 60 s window (plus 400 ms of arrival jitter) gets more than 30', () => {
    const b = new TokenBucket({ ratePerMinute: 30 });
    const sent: number[] = [];
    for (let t = 0; t <= 150_000; t++) if (b.tryTake(t)) sent.push(t);
    for (let i = 0; i < sent.length; i++) {
      const inWindow = sent.filter((x) => x >= sent[i] && x < sent[i] + 60_400).length;
      assert.ok(inWindow <= 30, `${inWindow} sends within 60.4 s from ${sent[i]} ms`);
    }
    assert.ok(sent.filter((x) => x < 60_000).length >= 29, 'and close to the rate');
  });

  it('at very high rates lets through what accrues in 10 ms, so a wake-up is not limited to one message', () => {
    const b = new TokenBucket({ ratePerMinute: 1_000_000, headroom: 0 });
    let n = 0;
    while (b.tryTake(0)) n++;
    assert.ok(n >= 166 && n <= 168, `${n} at once (10 ms of 16,667/s)`);
    let inSecond = n;
    for (let t = 1; t < 1000; t++) while (b.tryTake(t)) inSecond++;
    assert.ok(inSecond <= 16_667 + 168, `${inSecond} in the first second`);
    assert.ok(inSecond >= 16_000, 'and the full rate');
  });
});

describe('backoff', () => {
  it('doubles from the base, caps, and spreads over 50–100 %', () => {
    const o = { baseMs: 1000, maxMs: 8000 };
    assert.equal(retryDelayMs(1, o, 0), 500);
    assert.equal(retryDelayMs(1, o, 0.999999), 1000);
    assert.equal(retryDelayMs(3, o, 0), 2000);
    assert.equal(retryDelayMs(10, o, 0), 4000);
    assert.equal(retryDelayMs(10, o, 0, 30_000), 30_000);
  });
});
