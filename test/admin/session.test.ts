/**
 * Sessions (expiry, rotation on sign-in, the cap), CSRF token comparison, and the login
 * limiter, on a fake clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginLimiter } from '../../src/admin/login-limiter.js';
import { csrfMatches, SessionStore } from '../../src/admin/session.js';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('SessionStore', () => {
  it('creates sessions with distinct random ids and CSRF tokens, and finds them by cookie value', () => {
    const store = new SessionStore();
    const a = store.create(false);
    const b = store.create(true);
    assert.notEqual(a.id, b.id);
    assert.notEqual(a.csrfToken, b.csrfToken);
    assert.ok(a.id.length >= 40 && a.csrfToken.length >= 40);
    assert.equal(store.get(a.id), a);
    assert.equal(store.get(b.id)?.authenticated, true);
    assert.equal(store.get('nope'), undefined);
    assert.equal(store.get(undefined), undefined);
    assert.equal(store.get('x'.repeat(500)), undefined);
  });

  it('signIn replaces the session with a new id and a new CSRF token (no fixation)', () => {
    const store = new SessionStore();
    const anon = store.create(false);
    const signed = store.signIn(anon);
    assert.equal(signed.authenticated, true);
    assert.notEqual(signed.id, anon.id);
    assert.notEqual(signed.csrfToken, anon.csrfToken);
    assert.equal(store.get(anon.id), undefined);
  });

  it('expires authenticated sessions when idle or too old, and anonymous ones quickly', () => {
    const c = clock();
    const store = new SessionStore({ now: c.now, idleMs: 1000, absoluteMs: 5000, anonymousMs: 300 });
    const s = store.create(true);
    const anon = store.create(false);
    c.advance(400);
    assert.equal(store.get(anon.id), undefined, 'anonymous session expired');
    for (let i = 0; i < 6; i++) {
      assert.ok(store.get(s.id), 'kept alive by activity');
      c.advance(900);
    }
    assert.equal(store.get(s.id), undefined, 'absolute lifetime reached');
    const idle = store.create(true);
    c.advance(1001);
    assert.equal(store.get(idle.id), undefined, 'idle timeout');
  });

  it('keeps at most maxSessions, dropping the least recently used anonymous session first', () => {
    const store = new SessionStore({ maxSessions: 3 });
    const admin = store.create(true);
    const first = store.create(false);
    const second = store.create(false);
    store.get(first.id);
    store.create(false);
    assert.equal(store.size, 3);
    assert.ok(store.get(first.id), 'recently used session kept');
    assert.equal(store.get(second.id), undefined, 'least recently used anonymous session dropped');
    for (let i = 0; i < 100; i++) store.create(false);
    assert.ok(store.get(admin.id), 'a flood of anonymous sessions does not push out a signed-in one');
    const all = new SessionStore({ maxSessions: 2 });
    const a = all.create(true);
    all.create(true);
    all.create(true);
    assert.equal(all.get(a.id), undefined, 'when all are signed in, the least recently used goes');
  });

  it('destroy ends a session', () => {
    const store = new SessionStore();
    const s = store.create(true);
    store.destroy(s.id);
    assert.equal(store.get(s.id), undefined);
  });
});

describe('csrfMatches', () => {
  it('accepts only the session token', () => {
    const s = new SessionStore().create(false);
    assert.equal(csrfMatches(s, s.csrfToken), true);
    assert.equal(csrfMatches(s, `${s.csrfToken}x`), false);
    assert.equal(csrfMatches(s, ''), false);
    assert.equal(csrfMatches(s, undefined), false);
    assert.equal(csrfMatches(s, ['a']), false);
    assert.equal(csrfMatches(undefined, s.csrfToken), false);
    const other = new SessionStore().create(false);
    assert.equal(csrfMatches(other, s.csrfToken), false);
  });
});

describe('LoginLimiter', () => {
  it('allows maxFailures wrong passwords per address per window, then refuses until the window passes', () => {
    const c = clock();
    const limiter = new LoginLimiter({ maxFailures: 3, windowMs: 60_000 });
    assert.deepEqual(limiter.check('1.2.3.4', c.now()), { allowed: true });
    assert.equal(limiter.fail('1.2.3.4', c.now()), 2);
    c.advance(10_000);
    assert.equal(limiter.fail('1.2.3.4', c.now()), 1);
    assert.equal(limiter.fail('1.2.3.4', c.now()), 0);
    const refused = limiter.check('1.2.3.4', c.now());
    assert.equal(refused.allowed, false);
    assert.equal(!refused.allowed && refused.retryAfterMs, 50_000);
    assert.deepEqual(limiter.check('5.6.7.8', c.now()), { allowed: true }, 'other addresses are not affected');
    c.advance(50_000);
    assert.deepEqual(limiter.check('1.2.3.4', c.now()), { allowed: true }, 'the oldest failure left the window');
  });

  it('a successful sign-in clears the failures of the address', () => {
    const limiter = new LoginLimiter({ maxFailures: 2 });
    limiter.fail('a', 0);
    limiter.succeed('a');
    assert.equal(limiter.fail('a', 1), 1);
  });

  it('attempt() counts before the check of the password; succeed() takes it back; a global ceiling per minute', () => {
    const limiter = new LoginLimiter({ maxFailures: 2, globalFailuresPerMinute: 3 });
    assert.deepEqual(limiter.attempt('a', 0), { allowed: true, left: 1 });
    assert.deepEqual(limiter.attempt('a', 1), { allowed: true, left: 0 });
    assert.deepEqual(limiter.attempt('a', 2), { allowed: false, scope: 'client', retryAfterMs: 15 * 60_000 - 2 });
    const ok = limiter.attempt('b', 3);
    assert.equal(ok.allowed, true);
    limiter.succeed('b', 3); // the right password: neither b nor the global count keep it
    assert.equal(limiter.attempt('c', 4).allowed, true, 'third failure of the minute');
    const refused = limiter.attempt('d', 5);
    assert.equal(refused.allowed, false);
    assert.equal(!refused.allowed && refused.scope, 'global');
    assert.equal(!refused.allowed && refused.retryAfterMs, 60_000 - 5);
    assert.equal(limiter.attempt('d', 60_001).allowed, true, 'the minute has passed');
  });

  it('tracks a bounded number of addresses', () => {
    const limiter = new LoginLimiter({ maxFailures: 1, maxAddresses: 2 });
    limiter.fail('a', 0);
    limiter.fail('b', 0);
    limiter.fail('c', 0);
    assert.deepEqual(limiter.check('a', 1), { allowed: true }, 'oldest address forgotten');
    assert.equal(limiter.check('c', 1).allowed, false);
  });
});
