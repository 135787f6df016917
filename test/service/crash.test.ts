/**
 * Crash safety: `mailgate serve` runs as a child process against the emulator; a burst of
 * messages is posted, the process is killed with SIGKILL in the middle of the burst, then
 * restarted on the same data dir. Every message that was answered 202 must be delivered at
 * least once, always with the Message-ID it was given at acceptance.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startEmulator } from '../../src/emulator/index.js';
import { MASTER_KEY } from './e2e-helpers.js';
import { serveEnv } from '../helpers/serve-env.js';
import { createApiKeyCli, startServe, type ServeChild } from '../helpers/serve-process.js';
import { tempDir, waitFor } from './helpers.js';

describe('crash safety', () => {
  it('kill -9 during a burst loses no accepted message; duplicates keep their Message-ID', async (t) => {
    const emulator = await startEmulator(undefined, { limits: { messagesPerMinute: Infinity } });
    const tmp = tempDir('mailgate-crash-');
    const demo = emulator.demo!;
    const env = serveEnv(emulator, tmp.dir, MASTER_KEY, { MAILGATE_LEASE_SECONDS: '1' });
    let child: ServeChild | undefined;
    try {
      const key = createApiKeyCli(env, 'crash-test');

      child = await startServe(env);
      const url = child.url;
      const accepted = new Map<string, string>(); // id → Message-ID
      let killed = false;
      const post = async (i: number) => {
        try {
          const r = await fetch(`${url}/api/v1/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ to: `user${i}@example.com`, subject: `crash ${i}`, text: `Message ${i}` }),
          });
          if (r.status === 202) {
            const j = (await r.json()) as { id: string; messageId: string };
            accepted.set(j.id, j.messageId);
          }
        } catch {
          // The connection died with the process: not accepted.
        }
      };
      let next = 0;
      const victim = child;
      await Promise.all(Array.from({ length: 12 }, async () => {
        while (next < 600 && !killed) {
          await post(next++);
          if (!killed && accepted.size >= 150) {
            killed = true;
            victim.proc.kill('SIGKILL');
          }
        }
      }));
      assert.ok(killed, 'the process was killed mid-burst');
      await new Promise((r) => (victim.proc.exitCode !== null || victim.proc.signalCode !== null ? r(null) : victim.proc.once('exit', r)));
      const deliveredBeforeRestart = new Set(emulator.messages().map((m) => m.messageId));
      assert.ok(accepted.size >= 150);
      assert.ok(deliveredBeforeRestart.size < accepted.size, 'some accepted messages were still undelivered at the crash');

      child = await startServe(env);
      const wanted = new Set(accepted.values());
      await waitFor(() => {
        const got = new Set(emulator.messages().map((m) => m.messageId));
        for (const w of wanted) if (!got.has(w)) return false;
        return true;
      }, 30_000, 'every accepted message delivered');

      // Each accepted message is `sent` in the store, under the Message-ID it was accepted with.
      for (const [id, messageId] of accepted) {
        const r = await fetch(`${child.url}/api/v1/messages/${id}`, { headers: { authorization: `Bearer ${key}` } });
        const j = (await r.json()) as { status: string; messageId: string };
        assert.equal(j.messageId, messageId);
        await waitFor(async () => {
          const s = await fetch(`${child!.url}/api/v1/messages/${id}`, { headers: { authorization: `Bearer ${key}` } }).then((x) => x.json()) as { status: string };
          return s.status === 'sent';
        }, 10_000, `message ${id} sent`);
      }
      // Every delivered message is one we accepted (or one whose 202 was lost in the crash).
      const counts = new Map<string, number>();
      for (const m of emulator.messages()) counts.set(m.messageId, (counts.get(m.messageId) ?? 0) + 1);
      const duplicates = [...counts.values()].filter((n) => n > 1).length;
      t.diagnostic(`accepted ${accepted.size}, delivered before the restart ${deliveredBeforeRestart.size}, received ${emulator.messages().length}, duplicated ${duplicates}`);
      assert.ok(duplicates <= 3 * 2, `duplicates only for messages in flight at the crash (${duplicates})`);
      assert.ok(!child.stderr().includes(demo.clientSecret));
    } finally {
      if (child && child.proc.exitCode === null) {
        const c = child;
        const exited = new Promise((r) => c.proc.once('exit', r));
        c.proc.kill('SIGTERM');
        await exited;
      }
      await emulator.stop();
      tmp.remove();
    }
  });
});
