/**
 * Sessions (expiry, rotation on sign-in, the cap, sharing through the store), CSRF token
 * comparison, and the login limiter, on a fake clock and a real SQLite store.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { LoginLimiter } from '../../src/admin/login-limiter.js';
import { csrfMatches, SessionStore } from '../../src/admin/session.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { tempDir } from '../service/helpers.js';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('SessionStore', () => {
  const dir = tempDir('mailgate-sessions-');
  const db = openSqliteStore(dir.dir);
  after(async () => {
    await db.close();
    dir.remove();
  });

  it('creates sessions with distinct random ids and CSRF tokens, and finds them by cookie value', async () => {
    const store = new SessionStore(db);
    const a = await store.create(false);
    const b = await store.create(true);
    assert.notEqual(a.id, b.id);
    assert.notEqual(a.csrfToken, b.csrfToken);
    assert.ok(a.id.length >= 40 && a.csrfToken.length >= 40);
    assert.equal((await store.get(a.id))?.csrfToken, a.csrfToken);
    assert.equal((await store.get(b.id))?.authenticated, true);
    assert.equal(await store.get('nope'), undefined);
    assert.equal(await store.get(undefined), undefined);
    assert.equal(await store.get('x'.repeat(500)), undefined);
  });

  it('stores neither the cookie value nor the CSRF token, only the hash of the cookie value', async () => {
    const s = await new SessionStore(db).create(true);
    const rows = db.database.prepare('SELECT * FROM admin_sessions').all();
    const dump = JSON.stringify(rows);
    assert.ok(rows.length > 0);
    assert.ok(!dump.includes(s.id) && !dump.includes(s.csrfToken), dump);
  });

  it('signIn replaces the session with a new id and a new CSRF token (no fixation)', async () => {
    const store = new SessionStore(db);
    const anon = await store.create(false);
    const signed = await store.signIn(anon);
    assert.equal(signed.authenticated, true);
    assert.notEqual(signed.id, anon.id);
    assert.notEqual(signed.csrfToken, anon.csrfToken);
    assert.equal(await store.get(anon.id), undefined);
  });

  it('expires authenticated sessions when idle or too old, and anonymous ones quickly', async () => {
    const c = clock();
    const store = new SessionStore(db, { now: c.now, idleMs: 1000, absoluteMs: 5000, anonymousMs: 300 });
    const s = await store.create(true);
    const anon = await store.create(false);
    c.advance(400);
    assert.equal(await store.get(anon.id), undefined, 'anonymous session expired');
    for (let i = 0; i < 6; i++) {
      assert.ok(await store.get(s.id), 'kept alive by activity');
      c.advance(900);
    }
    assert.equal(await store.get(s.id), undefined, 'absolute lifetime reached');
    const idle = await store.create(true);
    c.advance(1001);
    assert.equal(await store.get(idle.id), undefined, 'idle timeout');
  });

  it('a session works through another SessionStore on the same store (another instance), and sign-out ends it there', async () => {
    const a = new SessionStore(db);
    const b = new SessionStore(db);
    const s = await a.signIn(undefined);
    const seen = await b.get(s.id);
    assert.equal(seen?.authenticated, true);
    assert.equal(seen?.csrfToken, s.csrfToken, 'the same CSRF token on every instance');
    seen!.flash = { kind: 'success', text: 'Saved.' };
    await b.save(seen);
    const next = await a.get(s.id);
    assert.deepEqual(next?.flash, { kind: 'success', text: 'Saved.' }, 'the flash set on B is shown by A');
    next!.flash = undefined;
    await a.save(next);
    assert.equal((await b.get(s.id))?.flash, undefined, 'shown once');
    await b.destroy(s.id);
    assert.equal(await a.get(s.id), undefined);
  });

  it('keeps at most maxSessions, dropping the least recently used anonymous session first', async () => {
    const d = tempDir('mailgate-sessions-cap-');
    const own = openSqliteStore(d.dir);
    try {
      const c = clock();
      const count = () => (own.database.prepare('SELECT count(*) AS n FROM admin_sessions').get() as { n: number }).n;
      const store = new SessionStore(own, { now: c.now, maxSessions: 3 });
      const admin = await store.create(true);
      c.advance(1);
      const first = await store.create(false);
      c.advance(1);
      const second = await store.create(false);
      c.advance(120_000);
      await store.get(first.id);
      await store.create(false);
      assert.equal(count(), 3);
      assert.ok(await store.get(first.id), 'recently used session kept');
      assert.equal(await store.get(second.id), undefined, 'least recently used anonymous session dropped');
      for (let i = 0; i < 100; i++) await store.create(false);
      assert.ok(await store.get(admin.id), 'a flood of anonymous sessions does not push out a signed-in one');
      assert.equal(count(), 3);
      const all = new SessionStore(own, { now: c.now, maxSessions: 2 });
      c.advance(120_000);
      const a = await all.create(true);
      c.advance(1);
      await all.create(true);
      c.advance(1);
      await all.create(true);
      assert.equal(await all.get(a.id), undefined, 'when all are signed in, the least recently used goes');
      c.advance(24 * 3600_000);
      await all.create(false);
      assert.equal(count(), 1, 'expired sessions are purged');
    } finally {
      await own.close();
      d.remove();
    }
  });

  it('a signed-in session survives a restart (the SQLite store reopened)', async () => {
    const d = tempDir('mailgate-sessions-restart-');
    try {
      const before = openSqliteStore(d.dir);
      const s = await new SessionStore(before).signIn(undefined);
      await before.close();
      const after = openSqliteStore(d.dir);
      try {
        const again = await new SessionStore(after).get(s.id);
        assert.equal(again?.authenticated, true);
        assert.equal(again?.csrfToken, s.csrfToken);
      } finally {
        await after.close();
      }
    } finally {
      d.remove();
    }
  });

  it('destroy ends a session', async () => {
    const store = new SessionStore(db);
    const s = await store.create(true);
    await store.destroy(s.id);
    assert.equal(await store.get(s.id), undefined);
  });

  it('accepts only the session token (csrfMatches)', async () => {
    const s = await new SessionStore(db).create(false);
    assert.equal(csrfMatches(s, s.csrfToken), true);
    assert.equal(csrfMatches(s, `${s.csrfToken}x`), false);
    assert.equal(csrfMatches(s, ''), false);
    assert.equal(csrfMatches(s, undefined), false);
    assert.equal(csrfMatches(s, ['a']), false);
    assert.equal(csrfMatches(undefined, s.csrfToken), false);
    const other = await new SessionStore(db).create(false);
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
