/**
 * The rate limiter counts sends another instance made before a handover of the mailbox
 * (issue 18): the new owner neither sends at once after the old owner's last send nor exceeds
 * the per-minute limit over the minute of the handover.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from '../../src/service/delivery/rate-limiter.js';

describe('rate limiter seeded with another instance\'s sends', () => {
  it('waits the spacing after the latest foreign send and caps the window with them', () => {
    const now = 1_700_000_000_000;
    const fresh = new TokenBucket({ ratePerMinute: 30 });
    assert.equal(fresh.msUntilNext(now), 0, 'unseeded: a send at once');
    const b = new TokenBucket({ ratePerMinute: 30 });
    b.seed([now - 50_000, now - 500], now);
    assert.ok(b.msUntilNext(now) > 1000, 'the old owner sent 0.5 s ago: wait about the 2 s spacing');
    const full = new TokenBucket({ ratePerMinute: 3, burst: 3 });
    full.seed([now - 59_000, now - 40_000, now - 30_000], now);
    assert.equal(full.tryTake(now), false, 'the window already holds the limit');
    assert.equal(full.tryTake(now + 1_001), true, 'free once the oldest foreign send leaves the window');
    const old = new TokenBucket({ ratePerMinute: 30 });
    old.seed([now - 61_000], now);
    assert.equal(old.msUntilNext(now), 0, 'sends older than a minute do not count');
  });
});
