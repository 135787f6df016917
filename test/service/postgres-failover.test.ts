/**
 * Two `mailgate serve` instances on one PostgreSQL and the emulator (issue 18 items 2-3):
 * messages posted round-robin to both, the instance that owns the mailbox's delivery killed
 * with SIGKILL in the middle of the burst, then restarted. Every accepted message is delivered;
 * duplicates only for messages in flight at the kill, always with the same Message-ID; never
 * more than 3 authenticated SMTP sessions for the mailbox at the emulator; the time from the
 * kill until the survivor delivers again is measured and printed.
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

const TOTAL = 400;
const KILL_AFTER = 150;

if (!pgSkip) countPostgresTests();

describe('several instances on PostgreSQL', { skip: pgSkip }, () => {
  it('kill -9 of the delivering instance mid-burst: every accepted message delivered, ≤ 3 sessions, duplicates keep their Message-ID', async (t) => {
    const database = await freshDatabase(pgUrl!, 'failover');
    const dbUrl = database.url;
    const emulator = await startEmulator(undefined, { limits: { messagesPerMinute: Infinity } });
    const demo = emulator.demo!;
    const dirs = [tempDir('mailgate-pg-a-'), tempDir('mailgate-pg-b-')];
    const envOf = (i: number) => serveEnv(emulator, dirs[i].dir, MASTER_KEY, { MAILGATE_DATABASE_URL: dbUrl, MAILGATE_LEASE_SECONDS: '2' });
    const children: (ServeChild | undefined)[] = [];
    try {
      const key = createApiKeyCli(envOf(0), 'failover');
      children[0] = await startServe(envOf(0));
      children[1] = await startServe(envOf(1));

      // Who delivers: the owner row names the instance (host:pid:random).
      const db = new pg.Client({ connectionString: dbUrl });
      await db.connect();
      const owner = async () => (await db.query<{ owner: string }>('SELECT owner FROM delivery_owners')).rows[0]?.owner;
      await waitFor(owner, 15_000, 'an instance owns the mailbox');

      const accepted = new Map<string, string>();
      let killed = false;
      let killedAt = 0;
      let deliveredAtKill = 0;
      let victim = -1;
      let next = 0;
      const post = async (i: number) => {
        const c = children[i % 2];
        if (!c || (killed && i % 2 === victim)) return;
        try {
          const r = await fetch(`${c.url}/api/v1/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ to: `user${i}@example.com`, subject: `failover ${i}`, text: `Message ${i}` }),
          });
          if (r.status === 202) {
            const j = (await r.json()) as { id: string; messageId: string };
            accepted.set(j.id, j.messageId);
          }
        } catch {
          // the killed instance's connection died: not accepted
        }
      };
      await Promise.all(Array.from({ length: 12 }, async () => {
        while (next < TOTAL) {
          await post(next++);
          if (!killed && accepted.size >= KILL_AFTER) {
            killed = true;
            const o = (await owner())!;
            victim = children.findIndex((c) => c && o.split(':')[1] === String(c.proc.pid));
            assert.ok(victim >= 0, `the owner ${o} is one of our instances`);
            deliveredAtKill = emulator.messages().length;
            killedAt = Date.now();
            children[victim]!.proc.kill('SIGKILL');
          }
        }
      }));
      assert.ok(killed, 'the owner was killed mid-burst');
      // Failover: the survivor delivers again (the mailbox's row and the claims expire after the lease).
      await waitFor(async () => (await owner())?.split(':')[1] === String(children[1 - victim]!.proc.pid) && emulator.messages().length > deliveredAtKill, 30_000, 'the survivor delivers');
      const failoverMs = Date.now() - killedAt;
      t.diagnostic(`failover: ${failoverMs} ms from SIGKILL to the survivor's first delivery (lease 2 s)`);

      children[victim] = await startServe(envOf(victim));
      const wanted = new Set(accepted.values());
      await waitFor(() => {
        const got = new Set(emulator.messages().map((m) => m.messageId));
        for (const w of wanted) if (!got.has(w)) return false;
        return true;
      }, 60_000, 'every accepted message delivered');

      const counts = new Map<string, number>();
      for (const m of emulator.messages()) counts.set(m.messageId, (counts.get(m.messageId) ?? 0) + 1);
      const duplicates = [...counts.values()].filter((n) => n > 1).length;
      const peak = emulator.stats().peakAuthenticatedConnections[demo.authorizedFrom.toLowerCase()] ?? Math.max(0, ...Object.values(emulator.stats().peakAuthenticatedConnections));
      t.diagnostic(`accepted ${accepted.size}, received ${emulator.messages().length}, duplicated ${duplicates} (same Message-ID), peak sessions ${peak}`);
      assert.ok(peak <= 3, `at most 3 authenticated sessions for the mailbox (peak ${peak})`);
      assert.ok(duplicates <= 3 * 2, `duplicates only for messages in flight at the kill (${duplicates})`);
      for (const c of children) assert.ok(!c!.stderr().includes(demo.clientSecret));
      await db.end();
    } finally {
      for (const c of children) await stopServe(c);
      await emulator.stop();
      for (const d of dirs) d.remove();
      await database.drop();
    }
  });
});
