/**
 * The issue 18 multi-instance test, as worded: three `mailgate serve` instances on one
 * PostgreSQL and the emulator; 1,000 messages posted round-robin to all three; the instance
 * that owns the mailbox's delivery killed with SIGKILL in the middle of the burst, then
 * restarted. Asserted: every accepted message is delivered; duplicates only for messages the
 * killed instance had claimed at the kill, each with its one Message-ID (counted and printed);
 * never more than 3 authenticated SMTP sessions for the mailbox at the emulator; the rate limit
 * (600/min here, so the run takes ~100 s) held over every 60-second window of the emulator's
 * accept times. Printed: the time from the kill until delivery resumes and until the first
 * orphaned message (claimed by the killed instance) is delivered.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { startEmulator } from '../../src/emulator/index.js';
import { MASTER_KEY } from './e2e-helpers.js';
import { serveEnv } from '../helpers/serve-env.js';
import { createApiKeyCli, freshDatabase, startServe, stopServe, type ServeChild } from '../helpers/serve-process.js';
import { countPostgresTests, pgSkip, pgUrl } from '../helpers/postgres.js';
import { tempDir, waitFor } from './helpers.js';

const INSTANCES = 3;
const TOTAL = 1000;
const KILL_AFTER = 500;
const RATE = 600;

if (!pgSkip) countPostgresTests();

/** The largest number of timestamps in any window of `windowMs` (sorted input). */
function maxInWindow(sorted: number[], windowMs: number): number {
  let max = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! >= windowMs) i++;
    max = Math.max(max, j - i + 1);
  }
  return max;
}

describe('three instances on PostgreSQL (issue 18)', { skip: pgSkip }, () => {
  it('1,000 messages round-robin, the owner killed mid-burst and restarted: all delivered, duplicates only in flight, ≤ 3 sessions, rate held', { timeout: 480_000 }, async (t) => {
    const database = await freshDatabase(pgUrl!, 'three');
    // Room for every message and its duplicates (the emulator keeps the last 1,000 by default).
    const emulator = await startEmulator(undefined, { limits: { messagesPerMinute: Infinity }, maxStoredMessages: 5000 });
    const demo = emulator.demo!;
    const dirs = Array.from({ length: INSTANCES }, (_, i) => tempDir(`mailgate-pg3-${i}-`));
    const envOf = (i: number) => serveEnv(emulator, dirs[i]!.dir, MASTER_KEY, { MAILGATE_DATABASE_URL: database.url, MAILGATE_LEASE_SECONDS: '2', MAILGATE_RATE_PER_MINUTE: String(RATE) });
    const children: (ServeChild | undefined)[] = [];
    const db = new pg.Client({ connectionString: database.url });
    try {
      const key = createApiKeyCli(envOf(0), 'three');
      for (let i = 0; i < INSTANCES; i++) children[i] = await startServe(envOf(i));
      await db.connect();
      const owner = async () => (await db.query<{ owner: string }>('SELECT owner FROM delivery_owners')).rows[0]?.owner;
      await waitFor(owner, 15_000, 'an instance owns the mailbox');

      const accepted = new Map<string, string>(); // id → Message-ID
      let victim = -1;
      let killedAt = 0;
      let orphaned = new Set<string>(); // Message-IDs the victim had claimed at the kill
      let killing: Promise<void> | undefined;
      let next = 0;
      let retried = 0;
      const failures: string[] = [];
      const kill = async () => {
        const o = (await owner())!;
        victim = children.findIndex((c) => c && o.split(':')[1] === String(c.proc.pid));
        assert.ok(victim >= 0, `the owner ${o} is one of our instances`);
        children[victim]!.proc.kill('SIGKILL');
        killedAt = Date.now();
        // The victim is dead: what it had claimed is exactly what may have been in flight.
        const rows = (await db.query<{ message_id_header: string }>(`SELECT message_id_header FROM messages WHERE status = 'sending' AND lease_owner = $1`, [o])).rows;
        orphaned = new Set(rows.map((r) => r.message_id_header));
      };
      await Promise.all(Array.from({ length: 12 }, async () => {
        while (next < TOTAL) {
          const i = next++;
          // Round-robin over the live instances (the killed one is skipped until it is back).
          // Like a well-behaved client, each post carries an Idempotency-Key and is retried on
          // another instance when its connection dies or it is refused: a post the victim had
          // committed before its 202 was lost returns the same message on the retry.
          for (let attempt = 0; attempt < 6; attempt++) {
            let target = (i + attempt) % INSTANCES;
            if (target === victim) target = (target + 1) % INSTANCES;
            const c = children[target]!;
            try {
              const r = await fetch(`${c.url}/api/v1/messages`, {
                method: 'POST',
                headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': `three-${i}` },
                body: JSON.stringify({ to: `user${i}@example.com`, subject: `three ${i}`, text: `Message ${i}` }),
              });
              if (r.status === 202 || r.status === 200) { // 200: the retry found the first submission
                const j = (await r.json()) as { id: string; messageId: string };
                accepted.set(j.id, j.messageId);
                break;
              }
              failures.push(`post ${i} attempt ${attempt} to instance ${target}: ${r.status} ${(await r.text()).slice(0, 300)}`);
            } catch (error) {
              // the killed instance's connection died: retried on another instance
              failures.push(`post ${i} attempt ${attempt} to instance ${target}: ${(error as Error).message} ${String((error as Error).cause ?? '')}`);
            }
            retried++;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          if (!killing && accepted.size >= KILL_AFTER) killing = kill();
          await killing;
        }
      }));
      assert.ok(victim >= 0, 'the owner was killed mid-burst');
      const burstAccepted = accepted.size;

      // Delivery resumes on a survivor (the mailbox's row and the claims expire after the lease).
      const deliveredAtKill = emulator.messages().filter((m) => Date.parse(m.receivedAt) <= killedAt).length;
      const resumed = await waitFor(() => emulator.messages().find((m) => Date.parse(m.receivedAt) > killedAt + 100 && emulator.messages().length > deliveredAtKill), 30_000, 'delivery resumes');
      const orphanDelivered = orphaned.size
        ? await waitFor(() => emulator.messages().find((m) => orphaned.has(m.messageId) && Date.parse(m.receivedAt) > killedAt), 30_000, 'an orphaned message is delivered')
        : undefined;
      t.diagnostic(`failover: delivery resumed ${Date.parse(resumed.receivedAt) - killedAt} ms after SIGKILL; first orphaned message delivered after ${orphanDelivered ? `${Date.parse(orphanDelivered.receivedAt) - killedAt} ms` : '(none were claimed)'} (lease 2 s)`);

      children[victim] = await startServe(envOf(victim));
      const wanted = new Set(accepted.values());
      // ~100 s at 600/min; more on a loaded machine (the rate is a ceiling, not a promise).
      const missing = () => {
        const ids = new Set(emulator.messages().map((m) => m.messageId));
        return [...wanted].filter((w) => !ids.has(w));
      };
      await waitFor(() => emulator.stats().messagesAccepted >= wanted.size && missing().length === 0, 300_000, 'every accepted message delivered')
        .catch(async (error: Error) => {
          // What became of them (status, lease, attempts), to tell a slow machine from a lost message.
          const rows = (await db.query(`SELECT m.status, m.last_code, m.attempt_count, m.next_attempt_at - $2::bigint AS due_in_ms, m.lease_owner, m.lease_expires_at - $2::bigint AS lease_in_ms,
              (SELECT json_agg(json_build_object('outcome', a.outcome, 'code', a.code, 'reply', a.reply) ORDER BY a.attempt) FROM attempts a WHERE a.message_seq = m.seq) AS attempts
            FROM messages m WHERE m.message_id_header = ANY($1::text[])`, [missing(), Date.now()])).rows;
          assert.fail(`${error.message}: ${rows.length} of ${wanted.size} not delivered: ${JSON.stringify(rows)}; owners ${JSON.stringify((await db.query('SELECT * FROM delivery_owners')).rows)}, now ${Date.now()}`);
        });

      const received = emulator.messages();
      const counts = new Map<string, number>();
      for (const m of received) counts.set(m.messageId, (counts.get(m.messageId) ?? 0) + 1);
      const duplicated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
      const peak = emulator.stats().peakAuthenticatedConnections[demo.authorizedFrom.toLowerCase()] ?? 0;
      const times = received.map((m) => Date.parse(m.receivedAt)).sort((a, b) => a - b);
      const windowMax = maxInWindow(times, 60_000);
      t.diagnostic(`accepted ${accepted.size} (${burstAccepted} during the burst, ${retried} posts retried on another instance), received ${received.length}, duplicated ${duplicated.length} (claimed by the killed instance at the kill: ${orphaned.size}), peak sessions ${peak}, most in a 60 s window ${windowMax} (limit ${RATE}), delivery took ${Math.round((times.at(-1)! - times[0]!) / 1000)} s`);
      t.diagnostic(`posts refused or cut off: ${failures.join('; ') || 'none'}`);
      assert.equal(accepted.size, TOTAL, 'every post accepted, those cut off by the kill on their retry');
      for (const id of duplicated) assert.ok(orphaned.has(id), `${id} delivered twice but was not in flight at the kill`);
      for (const id of counts.keys()) assert.ok(wanted.has(id), `${id} delivered but never accepted`);
      assert.ok(peak >= 1 && peak <= 3, `at most 3 authenticated sessions for the mailbox (peak ${peak})`);
      assert.ok(windowMax <= RATE, `at most ${RATE} messages in any 60 s window (${windowMax})`);
      for (const c of children) assert.ok(!c!.stderr().includes(demo.clientSecret));
    } finally {
      for (const c of children) await stopServe(c);
      await db.end().catch(() => undefined);
      await emulator.stop();
      for (const d of dirs) d.remove();
      await database.drop();
    }
  });
});
