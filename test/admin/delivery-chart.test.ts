/** The sent/failed-per-hour chart: the 24-hour window, filling sparse buckets, the y axis, escaping. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chartSince, deliveryChart, HOUR_MS, hourSlots, niceMax } from '../../src/admin/messages/delivery-chart.js';

describe('delivery chart', () => {
  const now = Date.UTC(2026, 2, 1, 14, 25);
  const since = chartSince(now);

  it('covers the last 24 hours ending with the current hour', () => {
    assert.equal(since, Date.UTC(2026, 2, 0, 15, 0));
    const slots = hourSlots([{ start: since + 23 * HOUR_MS, sent: 3, failed: 1 }, { start: since, sent: 2, failed: 0 }], since);
    assert.equal(slots.length, 24);
    assert.equal(slots[23]!.start, Date.UTC(2026, 2, 1, 14, 0));
    assert.deepEqual([slots[0]!.sent, slots[23]!.sent, slots[23]!.failed, slots[5]!.sent], [2, 3, 1, 0]);
  });

  it('rounds the y axis up to 1, 2 or 5 times a power of ten', () => {
    assert.deepEqual([0, 1, 2, 3, 7, 11, 49, 51, 100, 101].map(niceMax), [1, 1, 2, 5, 10, 20, 50, 100, 100, 200]);
  });

  it('renders an accessible SVG with one bar per non-zero count and a data table', () => {
    const slots = hourSlots([{ start: since + 23 * HOUR_MS, sent: 4, failed: 2 }], since);
    const out = deliveryChart(slots).value;
    assert.match(out, /<svg class="chart" viewBox="0 0 720 220" role="img" aria-labelledby="chart-title chart-desc"/);
    assert.match(out, /4 sent and 2 failed in the last 24 hours/);
    assert.equal((out.match(/<rect class="bar-sent"/g) ?? []).length, 1);
    assert.equal((out.match(/<rect class="bar-failed"/g) ?? []).length, 1);
    assert.match(out, /<title>14:00–15:00 UTC: 4 sent<\/title>/);
    assert.match(out, /<td>14:00–15:00 UTC<\/td><td>4<\/td><td>2<\/td>/);
    const empty = deliveryChart(hourSlots([], since)).value;
    assert.doesNotMatch(empty, /<rect/);
    assert.doesNotMatch(empty, /NaN/);
  });
});
