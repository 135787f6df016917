/**
 * Owner rebalancing on PostgreSQL (issue 18 item 2): an instance that took every mailbox while
 * it was alone hands its surplus over when a second instance starts, gracefully (between
 * messages, its connections closed first). Two in-process instances (real delivery threads,
 * real SMTP and TLS) on one database, four senders signing in as four mailboxes of the
 * emulator, messages posted to both instances all along: afterwards each instance owns two
 * mailboxes, every message is delivered exactly once, and no mailbox ever saw more than 3
 * authenticated SMTP sessions at the emulator.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { buildTenantState, startEmulator } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { countPostgresTests, pgSkip, pgUrl } from '../helpers/postgres.js';
import { freshDatabase } from '../helpers/serve-process.js';
import { LineCapture, tempDir, waitFor } from './helpers.js';

const MASTER_KEY = Buffer.alloc(32, 13).toString('base64');
const EXTRA = ['billing', 'support', 'alerts'];

if (!pgSkip) countPostgresTests();

describe('owner rebalancing across instances (PostgreSQL)', { skip: pgSkip }, () => {
  it('the first instance hands half of its mailboxes to the second between messages; ≤ 3 sessions per mailbox, nothing lost or doubled', async () => {
    const contoso = buildTenantState({ domain: 'contoso.onmicrosoft.com' });
    const first = contoso.state.tenants[0]!.mailboxes[0]!;
    EXTRA.forEach((name, i) => contoso.state.tenants[0]!.mailboxes.push({ ...structuredClone(first), address: `${name}@contoso.onmicrosoft.com`, ...(first.userObjectId ? { userObjectId: `0f0f0f0${i}-1111-4222-8333-444455556666` } : {}) }));
    const mailboxes = [contoso.authorizedFrom.toLowerCase(), ...EXTRA.map((n) => `${n}@contoso.onmicrosoft.com`)];
    const emulator = await startEmulator(contoso.state, { limits: { messagesPerMinute: Infinity }, maxStoredMessages: 20_000 });
    const database = await freshDatabase(pgUrl!, 'rebalance');
    const dirs = [tempDir('mailgate-rb-a-'), tempDir('mailgate-rb-b-')];
    const logs = [new LineCapture(), new LineCapture()];
    const services: RunningService[] = [];
    const db = new pg.Client({ connectionString: database.url });
    try {
      const start = (i: number) => startService({
        env: {
          MAILGATE_DATABASE_URL: database.url, MAILGATE_DATA_DIR: dirs[i]!.dir, MAILGATE_MASTER_KEY: MASTER_KEY,
          MAILGATE_RATE_PER_MINUTE: '1000000', MAILGATE_POLL_INTERVAL_MS: '50', MAILGATE_LEASE_SECONDS: '1.5',
        },
        listen: false,
        ca: emulator.caPem,
        logger: createLogger({ destination: logs[i]!, level: 'info' }),
      });
      services[0] = await start(0);
      const now = { now: Date.now(), actor: 'test' };
      const adminKey = (await createApiKey(services[0].store, 'ops', 'admin', now)).key;
      const sendKey = (await createApiKey(services[0].store, 'app', 'send', now)).key;
      const call = async (svc: RunningService, method: string, path: string, key: string, body?: unknown) => {
        const r = await svc.app.request(path, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await r.text();
        return { status: r.status, text, json: text ? JSON.parse(text) : undefined };
      };
      const endpoints = { smtpHost: emulator.smtp.host, smtpPort: emulator.smtp.port, authorityHost: emulator.authorityHost };
      let r = await call(services[0], 'PUT', '/api/v1/settings/email', adminKey, { ...endpoints, tenantId: contoso.tenantId, clientId: contoso.clientId, clientSecret: contoso.clientSecret, authorizedFrom: contoso.authorizedFrom });
      assert.equal(r.status, 200, r.text);
      for (const m of mailboxes.slice(1)) {
        r = await call(services[0], 'POST', '/api/v1/senders', adminKey, { address: m, credential: 'default' });
        assert.equal(r.status, 201, r.text);
      }
      await db.connect();
      const owners = async () => (await db.query<{ mailbox: string; owner: string }>('SELECT mailbox, owner FROM delivery_owners')).rows;
      await waitFor(async () => (await owners()).length === 4, 15_000, 'the first instance, alone, owns every mailbox');
      assert.equal(new Set((await owners()).map((o) => o.owner)).size, 1);

      // Messages for every sender, to whichever instances run, until the ownership has settled.
      const accepted = new Map<string, string>(); // id → Message-ID
      let n = 0;
      let posting = true;
      const post = async () => {
        while (posting) {
          const svc = services[n % 2] ?? services[0]!;
          const from = mailboxes[n % 4]!;
          const i = n++;
          const p = await call(svc, 'POST', '/api/v1/messages', sendKey, { from, to: `user${i}@example.com`, subject: `rebalance ${i}`, text: 'x' });
          assert.equal(p.status, 202, p.text);
          accepted.set(p.json.id, p.json.messageId);
        }
      };
      const posters = Array.from({ length: 4 }, post);
      await waitFor(() => emulator.messages().length >= 40, 15_000, 'the first instance delivers');
      services[1] = await start(1);
      await waitFor(async () => {
        const o = await owners();
        const by = new Map<string, number>();
        for (const x of o) by.set(x.owner, (by.get(x.owner) ?? 0) + 1);
        return o.length === 4 && by.size === 2 && [...by.values()].every((v) => v === 2);
      }, 20_000, 'two mailboxes each');
      const handedOver = logs[0]!.lines.filter((l) => l.includes('mailbox handed over')).length;
      assert.equal(handedOver, 2, 'the first instance handed two mailboxes over');
      // Keep posting a little while both deliver, then let everything drain.
      const mark = emulator.messages().length;
      await waitFor(() => emulator.messages().length >= mark + 80, 20_000, 'both deliver after the handover');
      posting = false;
      await Promise.all(posters);
      const ids = [...accepted.keys()];
      await waitFor(async () => (await Promise.all(ids.map(async (id) => (await services[0]!.store.get(id))?.status))).every((s) => s === 'sent'), 60_000, 'every message sent');

      const counts = new Map<string, number>();
      for (const m of emulator.messages()) counts.set(m.messageId, (counts.get(m.messageId) ?? 0) + 1);
      for (const mid of accepted.values()) assert.equal(counts.get(mid), 1, `${mid} delivered once`);
      const peaks = emulator.stats().peakAuthenticatedConnections;
      for (const m of mailboxes) {
        assert.ok((peaks[m] ?? 0) >= 1, `${m} was delivered`);
        assert.ok((peaks[m] ?? 0) <= 3, `at most 3 authenticated sessions for ${m} (peak ${peaks[m]})`);
      }
      // Both instances delivered: each owns two mailboxes whose later messages only it may send.
      const final = await owners();
      assert.equal(new Set(final.map((o) => o.owner)).size, 2);
    } finally {
      for (const s of services.reverse()) await s.stop().catch(() => undefined);
      await db.end().catch(() => undefined);
      await emulator.stop();
      for (const d of dirs) d.remove();
      await database.drop();
    }
  });
});
