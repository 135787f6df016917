import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CachingTokenProvider } from '../../src/auth/token-provider.js';
import { MailgateError } from '../../src/core/errors.js';
import type { AccessToken } from '../../src/core/ports.js';

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

test('50 concurrent callers on a cold cache cause exactly one token request', async () => {
  let calls = 0;
  const clock = fakeClock();
  const p = new CachingTokenProvider({
    clock,
    fetchToken: async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      return { token: `t${calls}`, expiresAt: clock.now() + 3600_000 };
    },
  });
  const tokens = await Promise.all(Array.from({ length: 50 }, () => p.getToken()));
  assert.equal(calls, 1);
  assert.equal(p.requestCount, 1);
  assert.ok(tokens.every((t) => t.token === 't1'));
});

test('a token is reused until the refresh margin, then refreshed before it expires', async () => {
  let calls = 0;
  const clock = fakeClock();
  const p = new CachingTokenProvider({
    clock,
    refreshMarginMs: 300_000,
    fetchToken: async (): Promise<AccessToken> => ({ token: `t${++calls}`, expiresAt: clock.now() + 3600_000 }),
  });
  assert.equal((await p.getToken()).token, 't1');
  clock.advance(3600_000 - 300_001);
  assert.equal((await p.getToken()).token, 't1', 'still outside the 5 minute margin');
  clock.advance(2);
  assert.equal((await p.getToken()).token, 't2', 'inside the margin: refreshed while the old token is still valid');
  assert.equal(calls, 2);
});

test('short-lived tokens are still cached (margin capped at half the lifetime)', async () => {
  let calls = 0;
  const clock = fakeClock();
  const p = new CachingTokenProvider({
    clock,
    refreshMarginMs: 300_000,
    fetchToken: async () => ({ token: `t${++calls}`, expiresAt: clock.now() + 60_000 }),
  });
  await p.getToken();
  clock.advance(20_000);
  await p.getToken();
  assert.equal(calls, 1);
  clock.advance(11_000);
  await p.getToken();
  assert.equal(calls, 2);
});

test('invalidate drops the cached token so the next caller gets a new one (retry once after 535)', async () => {
  let calls = 0;
  const p = new CachingTokenProvider({ fetchToken: async () => ({ token: `t${++calls}`, expiresAt: Date.now() + 3600_000 }) });
  assert.equal((await p.getToken()).token, 't1');
  p.invalidate();
  assert.equal((await p.getToken()).token, 't2');
  assert.equal((await p.getToken({ forceRefresh: true })).token, 't3');
});

test('transient token endpoint failures are retried with backoff, honouring Retry-After', async () => {
  const waits: number[] = [];
  let calls = 0;
  const p = new CachingTokenProvider({
    sleep: async (ms) => void waits.push(ms),
    fetchToken: async () => {
      calls++;
      if (calls === 1) throw new MailgateError({ code: 'TOKEN_UNAVAILABLE', phase: 'token', retryable: true, message: '503', token: { status: 503, retryAfterSeconds: 2 } });
      if (calls === 2) throw new MailgateError({ code: 'TOKEN_UNAVAILABLE', phase: 'token', retryable: true, message: 'network' });
      return { token: 'ok', expiresAt: Date.now() + 3600_000 };
    },
  });
  assert.equal((await p.getToken()).token, 'ok');
  assert.equal(calls, 3);
  assert.equal(waits[0], 2000, 'Retry-After: 2 → wait 2 s');
  assert.ok(waits[1] >= 800 && waits[1] <= 1200, `second backoff ~1 s, got ${waits[1]}`);
});

test('a permanent AADSTS rejection is not retried', async () => {
  let calls = 0;
  const p = new CachingTokenProvider({
    sleep: async () => undefined,
    fetchToken: async () => {
      calls++;
      throw new MailgateError({ code: 'TOKEN_REJECTED', phase: 'token', message: 'AADSTS7000215', token: { status: 401, aadsts: [7000215] } });
    },
  });
  await assert.rejects(p.getToken(), (e: unknown) => e instanceof MailgateError && e.code === 'TOKEN_REJECTED');
  assert.equal(calls, 1);
});

test('transient failures give up after the attempts are used', async () => {
  let calls = 0;
  const p = new CachingTokenProvider({
    maxAttempts: 3,
    sleep: async () => undefined,
    fetchToken: async () => {
      calls++;
      throw new MailgateError({ code: 'TOKEN_UNAVAILABLE', phase: 'token', retryable: true, message: '503' });
    },
  });
  await assert.rejects(p.getToken(), (e: unknown) => e instanceof MailgateError && e.code === 'TOKEN_UNAVAILABLE');
  assert.equal(calls, 3);
});
