/**
 * Several senders end to end (issue 16) against the emulator, over real sockets, TLS, SQLite
 * and the delivery thread: three senders on two credentials in two tenants (the default sender
 * of the Email Settings, a second mailbox on the same credential, and a sender on a stored
 * credential of another tenant with its own endpoints), one token request per credential, and
 * one sender paused (its mailbox refuses the sign-in, 535 5.7.3) while the others deliver.
 * Send As and shared mailboxes in the emulator are the emulator's part of the issue (another
 * branch); they are not exercised here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTenantState, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { fastClassify } from './e2e-helpers.js';
import { LineCapture, tempDir, waitFor } from './helpers.js';

const MASTER_KEY = Buffer.alloc(32, 11).toString('base64');

async function setup(o: { fabrikamFullAccess: boolean }) {
  const contoso = buildTenantState({ domain: 'contoso.onmicrosoft.com' });
  const fabrikam = buildTenantState({ domain: 'fabrikam.onmicrosoft.com', fullAccess: o.fabrikamFullAccess });
  const state = contoso.state;
  // A second mailbox in the first tenant, with the same FullAccess for the same app.
  const first = state.tenants[0].mailboxes[0];
  state.tenants[0].mailboxes.push({ ...structuredClone(first), address: 'billing@contoso.onmicrosoft.com', ...(first.userObjectId ? { userObjectId: '0f0f0f0f-1111-4222-8333-444455556666' } : {}) });
  state.tenants.push(...fabrikam.state.tenants);
  const emulator = await startEmulator(state, { limits: { messagesPerMinute: Infinity } });
  const t = tempDir('mailgate-senders-e2e-');
  const svc = await startService({
    env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_RATE_PER_MINUTE: '1000000', MAILGATE_POLL_INTERVAL_MS: '50', MAILGATE_HTTP_PORT: '0' },
    ca: emulator.caPem,
    logger: createLogger({ destination: new LineCapture(), level: 'debug' }),
    mailerDeps: { tokenRetry: { maxAttempts: 1 } },
    classify: fastClassify,
    workerOptions: { backoff: { baseMs: 20, maxMs: 200 } },
  });
  const key = (await createApiKey(svc.store, 'e2e', 'admin', { now: Date.now(), actor: 'test' })).key;
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${svc.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined, text };
  };
  const endpoints = { smtpHost: emulator.smtp.host, smtpPort: emulator.smtp.port, authorityHost: emulator.authorityHost };
  let r = await api('PUT', '/api/v1/settings/email', { ...endpoints, tenantId: contoso.tenantId, clientId: contoso.clientId, clientSecret: contoso.clientSecret, authorizedFrom: contoso.authorizedFrom });
  assert.equal(r.status, 200, r.text);
  r = await api('POST', '/api/v1/senders', { address: 'billing@contoso.onmicrosoft.com', credential: 'default' });
  assert.equal(r.status, 201, r.text);
  r = await api('POST', '/api/v1/credentials', { name: 'fabrikam', tenantId: fabrikam.tenantId, clientId: fabrikam.clientId, clientSecret: fabrikam.clientSecret, ...endpoints });
  assert.equal(r.status, 201, r.text);
  r = await api('POST', '/api/v1/senders', { address: fabrikam.authorizedFrom, credential: 'fabrikam' });
  assert.equal(r.status, 201, r.text);
  const submit = async (from: string, n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const s = await api('POST', '/api/v1/messages', { from, to: `user${i}@example.com`, subject: `${from} ${i}`, text: 'hello' });
      assert.equal(s.status, 202, s.text);
      ids.push(s.json.id);
    }
    return ids;
  };
  const statuses = async (ids: string[]) => Promise.all(ids.map(async (id) => (await api('GET', `/api/v1/messages/${id}`)).json.status as string));
  return { emulator, svc, api, submit, statuses, contoso, fabrikam, stop: async () => { await svc.stop(); await emulator.stop(); t.remove(); } };
}

async function using(o: { fabrikamFullAccess: boolean }, fn: (e: Awaited<ReturnType<typeof setup>>) => Promise<void>) {
  const e = await setup(o);
  try {
    await fn(e);
  } finally {
    await e.stop();
  }
}

describe('several senders against the emulator', () => {
  it('three senders on two credentials in two tenants: each message through its own mailbox, one token per credential', async () => {
    await using({ fabrikamFullAccess: true }, async (e) => {
      const a = await e.submit(e.contoso.authorizedFrom, 6);
      const b = await e.submit('Billing <billing@contoso.onmicrosoft.com>', 6);
      const c = await e.submit(e.fabrikam.authorizedFrom, 6);
      await waitFor(async () => (await e.statuses([...a, ...b, ...c])).every((s) => s === 'sent'), 30_000, 'all sent');
      const received = e.emulator.messages();
      const by = (mailbox: string) => received.filter((m) => m.authenticatedAs.toLowerCase() === mailbox.toLowerCase());
      assert.equal(by(e.contoso.authorizedFrom).length, 6);
      assert.equal(by('billing@contoso.onmicrosoft.com').length, 6);
      assert.equal(by(e.fabrikam.authorizedFrom).length, 6);
      assert.ok(by('billing@contoso.onmicrosoft.com').every((m) => m.from === 'billing@contoso.onmicrosoft.com'));
      const st = e.emulator.stats();
      assert.equal(st.tokenRequests, 2, `one token request per credential: ${JSON.stringify(st.tokenRequestsByApp)}`);
      for (const mailbox of Object.keys(st.peakAuthenticatedConnections)) assert.ok(st.peakAuthenticatedConnections[mailbox] <= 3, mailbox);
      const list = await e.api('GET', `/api/v1/messages?sender=${encodeURIComponent(e.fabrikam.authorizedFrom)}`);
      assert.deepEqual(new Set(list.json.items.map((m: { id: string }) => m.id)), new Set(c));
    });
  });

  it('one sender paused (its mailbox refuses the sign-in) while the others deliver', async () => {
    await using({ fabrikamFullAccess: false }, async (e) => {
      const c = await e.submit(e.fabrikam.authorizedFrom, 8);
      const a = await e.submit(e.contoso.authorizedFrom, 5);
      const b = await e.submit('billing@contoso.onmicrosoft.com', 5);
      await waitFor(async () => (await e.statuses([...a, ...b])).every((s) => s === 'sent'), 30_000, 'the contoso senders delivered');
      await waitFor(async () => (await e.statuses(c)).some((s) => s === 'failed'), 10_000, 'the fabrikam sender refused');
      const sc = await e.statuses(c);
      assert.equal(sc.filter((s) => s === 'failed').length, 1, `one incident fails one message: ${sc}`);
      assert.equal(sc.filter((s) => s === 'sent').length, 0);
      assert.equal(e.emulator.messages().filter((m) => m.authenticatedAs.toLowerCase() === e.fabrikam.authorizedFrom.toLowerCase()).length, 0);
      const failed = (await e.api('GET', `/api/v1/messages/${c[sc.indexOf('failed')]}`)).json;
      assert.equal(failed.errorCode, 'AUTH_FAILED');
      assert.equal(failed.sender, e.fabrikam.authorizedFrom.toLowerCase());
    });
  });
});
