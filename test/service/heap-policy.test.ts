/**
 * The service's heap growth policy (src/app/heap-policy.ts, issue 19): under a steady stream of
 * short-lived garbage that survives a few scavenges (what the HTTP intake makes while requests
 * wait for the group commit), the old generation stays within a small multiple of the live heap.
 * Without the policy V8's dynamic factor let it grow to ~4.7× the live size in this workload.
 * Each case runs in a fresh `node` process: V8 flags are per process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { applyHeapPolicy } from '../../src/app/heap-policy.js';

const POLICY = new URL('../../src/app/heap-policy.js', import.meta.url).href;

// ~57 MB live, then 40,000 messages of ~11 KB each kept for the next 400 (promoted, then dead).
const CHURN = `
import v8 from 'node:v8';
if (process.argv.includes('policy')) (await import(${JSON.stringify(POLICY)})).applyHeapPolicy();
const live = []; for (let i = 0; i < 200_000; i++) live.push({ i, s: 'x'.repeat(50) + i });
const old = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
const window = []; let max = 0;
for (let i = 0; i < 40_000; i++) {
  window.push({ body: JSON.stringify({ n: i, text: 'y'.repeat(11_000) + i }), meta: { a: i, b: [i, i + 1] } });
  if (window.length > 400) window.shift();
  if (i % 100 === 0) { max = Math.max(max, old().space_size); await new Promise((r) => setImmediate(r)); }
}
globalThis.gc();
process.stdout.write(JSON.stringify({ maxOld: max, live: old().space_used_size, kept: live.length + window.length }));
`;

function churn(policy: boolean): { maxOld: number; live: number } {
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHURN, ...(policy ? ['policy'] : [])], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { maxOld: number; live: number };
}

describe('heap policy', () => {
  it('keeps the old generation near the live heap under promoted garbage', () => {
    const { maxOld, live } = churn(true);
    assert.ok(maxOld < 2.5 * live, `old space peaked at ${(maxOld / 1e6).toFixed(0)} MB for ${(live / 1e6).toFixed(0)} MB live`);
  });

  it('leaves a --heap-growing-percent given on the command line alone', () => {
    assert.equal(applyHeapPolicy(30, ['--heap-growing-percent=80']), false);
  });
});
