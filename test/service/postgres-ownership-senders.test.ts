/**
 * Delivery ownership with several senders on PostgreSQL (issue 16 × issue 18): every signed-in
 * mailbox has its own owner, and an instance delivers only the messages of the senders signing
 * in as a mailbox it owns. Two in-process instances on one database, two senders signing in as
 * two mailboxes, messages posted to both instances: each instance's mailer for a mailbox sends
 * only when that instance owns the mailbox.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { startService, type RunningService } from '../../src/app/service.js';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { openPgStore } from '../../src/service/outbox/postgres/pg-store.js';
import { countPostgresTests, pgSkip, pgUrl } from '../helpers/postgres.js';
import { FakeMailer, LineCapture, tempDir, waitFor } from './helpers.js';

const MASTER_KEY = Buffer.alloc(32, 9).toString('base64');
const CLIENT = '3cc0b6a1-1111-4222-8333-444455556666';
const TENANT = '6a1f0000-1111-4222-8333-444455556666';
const FAR = 9_000_000_000_000;

if (!pgSkip) countPostgresTests();

describe('delivery ownership per signed-in mailbox, several senders (PostgreSQL)', { skip: pgSkip }, () => {
  it('two instances, two senders signing in as two mailboxes: each instance delivers only for the mailbox it owns', async () => {
    const dbName = `owners_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(pgUrl!);
    u.pathname = `/${dbName}`;
    const dbUrl = u.toString();
    const dirs = [tempDir('mailgate-own-a-'), tempDir('mailgate-own-b-')];
    const services: RunningService[] = [];
    const db = new pg.Client({ connectionString: dbUrl });
    try {
      // Migrate, then hold billing@'s row for a stand-in instance, so the first instance takes
      // noreply@ only and the second one takes billing@ once the stand-in is gone (deterministic
      // ownership instead of whoever starts first taking both).
      await (await openPgStore({ url: dbUrl })).close();
      await db.connect();
      await db.query(`INSERT INTO delivery_instances (owner, expires_at) VALUES ('stand-in', $1)`, [FAR]);
      await db.query(`INSERT INTO delivery_owners (mailbox, owner, expires_at) VALUES ('billing@contoso.com', 'stand-in', $1)`, [FAR]);

      /** Per instance: one fake mailer per signed-in mailbox. */
      const mailers = [new Map<string, FakeMailer>(), new Map<string, FakeMailer>()];
      const start = (i: number) => startService({
        env: {
          MAILGATE_DATABASE_URL: dbUrl, MAILGATE_DATA_DIR: dirs[i].dir, MAILGATE_MASTER_KEY: MASTER_KEY,
          MAILGATE_CLIENT_ID: CLIENT, MAILGATE_TENANT_ID: TENANT, MAILGATE_CLIENT_SECRET: 'default-secret-value-1', MAILGATE_AUTHORIZED_FROM: 'noreply@contoso.com',
          MAILGATE_LEASE_SECONDS: '1.5', MAILGATE_POLL_INTERVAL_MS: '50',
        },
        listen: false,
        logger: createLogger({ destination: new LineCapture() }),
        createMailer: (s) => {
          const box = s.authorizedFrom.toLowerCase();
          let m = mailers[i].get(box);
          if (!m) mailers[i].set(box, (m = new FakeMailer()));
          return Object.assign(m, { stats: { peakConnections: 0, connectionsOpened: 0, openConnections: 0 } });
        },
      });
      services[0] = await start(0);
      const owners = async () => Object.fromEntries((await db.query<{ mailbox: string; owner: string }>('SELECT mailbox, owner FROM delivery_owners')).rows.map((r) => [r.mailbox, r.owner]));
      await waitFor(async () => (await owners())['noreply@contoso.com'] !== undefined, 10_000, 'the first instance owns noreply@');
      const now = { now: Date.now(), actor: 'test' };
      const adminKey = (await createApiKey(services[0].store, 'ops', 'admin', now)).key;
      const sendKey = (await createApiKey(services[0].store, 'app', 'send', now)).key;
      const call = async (svc: RunningService, method: string, path: string, key: string, body?: unknown) => {
        const r = await svc.app.request(path, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await r.text();
        return { status: r.status, text, json: text ? JSON.parse(text) : undefined };
      };
      const created = await call(services[0], 'POST', '/api/v1/senders', adminKey, { address: 'billing@contoso.com', credential: 'default' });
      assert.equal(created.status, 201, created.text);
      services[1] = await start(1);
      await waitFor(() => services[1].deps.senders!.get('billing@contoso.com'), 10_000, 'the second instance sees the billing sender');
      // The stand-in goes away: the second instance (below its fair share) takes billing@; the first keeps noreply@.
      await db.query(`DELETE FROM delivery_owners WHERE owner = 'stand-in'`);
      await db.query(`DELETE FROM delivery_instances WHERE owner = 'stand-in'`);
      await waitFor(async () => (await owners())['billing@contoso.com'] !== undefined, 10_000, 'billing@ owned');
      const o = await owners();
      assert.notEqual(o['noreply@contoso.com'], o['billing@contoso.com'], `one mailbox per instance: ${JSON.stringify(o)}`);

      // Messages for both senders, posted to both instances.
      const ids: { id: string; from: string }[] = [];
      for (let n = 0; n < 12; n++) {
        const from = n % 2 ? 'billing@contoso.com' : 'noreply@contoso.com';
        const r = await call(services[n % 4 < 2 ? 0 : 1], 'POST', '/api/v1/messages', sendKey, { from, to: `user${n}@example.com`, subject: `m${n}`, text: 'x' });
        assert.equal(r.status, 202, r.text);
        ids.push({ id: r.json.id, from });
      }
      await waitFor(async () => (await Promise.all(ids.map(async (m) => (await services[0].store.get(m.id))?.status))).every((s) => s === 'sent'), 20_000, 'every message sent');
      const sentBy = (i: number, box: string) => mailers[i].get(box)?.calls.length ?? 0;
      // Which instance owns which mailbox: the one whose mailer for it sent anything.
      const noreplyOwner = sentBy(0, 'noreply@contoso.com') > 0 ? 0 : 1;
      const billingOwner = sentBy(0, 'billing@contoso.com') > 0 ? 0 : 1;
      assert.equal(noreplyOwner, 0, 'the first instance owns noreply@ (it took it before the second started)');
      assert.equal(billingOwner, 1, 'the second instance took billing@ once the stand-in left');
      assert.equal(sentBy(0, 'noreply@contoso.com'), 6, 'every noreply@ message by its owner');
      assert.equal(sentBy(1, 'noreply@contoso.com'), 0, 'none by the other instance');
      assert.equal(sentBy(1, 'billing@contoso.com'), 6, 'every billing@ message by its owner');
      assert.equal(sentBy(0, 'billing@contoso.com'), 0, 'none by the other instance');
      for (const m of ids) assert.equal((await services[1].store.get(m.id))?.sender, m.from);
    } finally {
      for (const s of services.reverse()) await s.stop().catch(() => undefined);
      for (const d of dirs) d.remove();
      await db.end().catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    }
  });
});
