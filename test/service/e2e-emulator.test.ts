/**
 * The service end to end against the Microsoft 365 emulator, with the real mailer: volume
 * within Exchange's limits and the token economy, transient faults that end in delivery,
 * permanent ones that fail at once with the right diagnosis, and no secret or token anywhere
 * in the data dir, the API responses or the logs.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Emulator, Faults } from '../../src/emulator/index.js';
import { startPair, type Pair } from './e2e-helpers.js';
import { waitFor } from './helpers.js';
import { AdminClient } from '../admin/helpers.js';

async function withPair(o: Parameters<typeof startPair>[0], fn: (p: Pair) => Promise<void>): Promise<void> {
  const p = await startPair(o);
  try {
    await fn(p);
  } finally {
    await p.stop();
  }
}

describe('end to end against the emulator', () => {
  it('delivers 200 messages through the HTTP API with 1 token request and at most 3 connections', async () => {
    await withPair({}, async (p) => {
      const accepted = await p.submit(200);
      await p.waitForStatus(accepted.map((a) => a.id), 'sent', 30_000);
      const stats = p.emulator.stats();
      assert.equal(stats.tokenRequests, 1);
      const peak = stats.peakAuthenticatedConnections[p.tenant.authorizedFrom.toLowerCase()];
      assert.ok(peak >= 1 && peak <= 3, `peak connections ${peak}`);
      const received = p.emulator.messages();
      assert.equal(received.length, 200);
      assert.deepEqual(new Set(received.map((m) => m.messageId)), new Set(accepted.map((a) => a.messageId)));
      const one = await p.api('GET', `/api/v1/messages/${accepted[0].id}`);
      assert.equal(one.json.status, 'sent');
      assert.match(one.json.response, /^250 /);
      assert.equal(one.json.attempts.length, 1);
      const metrics = await fetch(`${p.svc.url}/metrics`).then((r) => r.text());
      assert.match(metrics, /mailgate_token_requests_total 1\n/);
      assert.match(metrics, /mailgate_messages\{status="sent"\} 200/);
      const commits = (kind: string) => Number(new RegExp(`mailgate_store_commits_total\\{kind="${kind}"\\} (\\d+)`).exec(metrics)?.[1]);
      assert.ok(commits('durable') >= 1 && commits('durable') <= 200 + 10, `durable commits ${commits('durable')}: at most one per enqueue (plus settings)`);
      assert.ok(commits('bookkeeping') >= 1, 'claims and results commit as bookkeeping');
    });
  });

  it('delivers on the main event loop too (MAILGATE_DELIVERY_THREAD=off): 50 messages, 1 token, at most 3 connections', async () => {
    await withPair({ env: { MAILGATE_DELIVERY_THREAD: 'off' } }, async (p) => {
      const accepted = await p.submit(50);
      await p.waitForStatus(accepted.map((a) => a.id), 'sent', 30_000);
      const stats = p.emulator.stats();
      assert.equal(stats.tokenRequests, 1);
      assert.ok(stats.peakAuthenticatedConnections[p.tenant.authorizedFrom.toLowerCase()] <= 3);
      assert.equal(p.emulator.messages().length, 50);
      assert.match(await fetch(`${p.svc.url}/metrics`).then((r) => r.text()), /mailgate_token_requests_total 1\n/);
    });
  });

  const transient: [string, Faults][] = [
    ['432 4.3.2 at AUTH', { smtpTransient: { code: 432, command: 'AUTH', count: 1, message: '4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information. [Hostname=X]' } }],
    ['421 at MAIL FROM', { smtpTransient: { code: 421, command: 'MAIL', count: 1 } }],
    ['451 4.7.0 after DATA', { smtpTransient: { code: 451, command: 'EOM', count: 1 } }],
    ['connection dropped in DATA', { smtpDropInData: { count: 1 } }],
    ['token endpoint 503', { tokenError: { status: 503, count: 2, retryAfterSeconds: 0 } }],
  ];
  for (const [name, faults] of transient) {
    it(`transient fault (${name}) ends in sent`, async () => {
      await withPair({}, async (p) => {
        p.emulator.setFaults(faults);
        const [a] = await p.submit(1);
        await p.waitForStatus([a.id], 'sent');
        const m = await p.api('GET', `/api/v1/messages/${a.id}`);
        const outcomes = m.json.attempts.map((x: { outcome: string }) => x.outcome);
        assert.equal(outcomes.at(-1), 'sent');
        assert.ok(outcomes.slice(0, -1).every((o: string) => o === 'retry'), JSON.stringify(m.json.attempts));
        assert.ok(outcomes.length >= 2, `retried (${JSON.stringify(m.json.attempts)})`);
        assert.ok(m.json.attempts[0].diagnosis?.id, 'each failed attempt has a diagnosis');
        assert.ok(p.emulator.messages().some((x) => x.messageId === a.messageId));
      });
    });
  }

  it('a permanent refusal (535 5.7.3: no FullAccess on the mailbox) fails at once with its diagnosis', async () => {
    await withPair({ tenant: { fullAccess: false } }, async (p) => {
      const [a] = await p.submit(1);
      await p.waitForStatus([a.id], 'failed');
      await new Promise((r) => setTimeout(r, 200));
      const m = await p.api('GET', `/api/v1/messages/${a.id}`);
      assert.equal(m.json.status, 'failed');
      assert.equal(m.json.errorCode, 'AUTH_FAILED');
      assert.equal(m.json.attempts.length, 1, 'never retried');
      assert.equal(m.json.attempts[0].outcome, 'failed');
      assert.match(m.json.attempts[0].reply, /^535 5\.7\.3/);
      assert.match(m.json.attempts[0].diagnosis.id, /^smtp-535-5\.7\.3/);
      assert.ok(m.json.attempts[0].diagnosis.fixes.length > 0);
      assert.equal(p.emulator.messages().length, 0);
    });
  });

  it('POST /api/v1/diagnostics runs the doctor on the settings in effect: the missing service principal and its fix', async () => {
    await withPair({ tenant: { exchangeServicePrincipal: 'missing' } }, async (p) => {
      const r = await p.api('POST', '/api/v1/diagnostics', {});
      assert.equal(r.status, 200);
      assert.equal(r.json.ok, false);
      const ids = r.json.checks.map((c: { id: string }) => c.id);
      assert.deepEqual(ids.slice(0, 7), ['settings', 'dns', 'tcp', 'starttls', 'token', 'token-claims', 'smtp-auth']);
      const auth = r.json.checks.find((c: { id: string }) => c.id === 'smtp-auth');
      assert.equal(auth.status, 'fail');
      const tenant = p.tenant;
      assert.ok(auth.commands.some((c: string) => c.includes(`New-ServicePrincipal -AppId ${tenant.clientId} -ObjectId ${tenant.servicePrincipalObjectId}`)), JSON.stringify(auth.commands));
      assert.equal(JSON.stringify(r.json).includes(tenant.clientSecret!), false);
    });
  });

  it('a configuration failure pauses delivery: one message fails, the rest wait, and go out once the settings change', async () => {
    await withPair({ tenant: { fullAccess: false } }, async (p) => {
      const first = await p.submit(1);
      await p.waitForStatus([first[0].id], 'failed');
      const rest = await p.submit(4);
      await new Promise((r) => setTimeout(r, 500));
      for (const m of rest) assert.equal((await p.api('GET', `/api/v1/messages/${m.id}`)).json.status, 'queued', 'held, not burned');
      const ready = await p.api('GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.match(JSON.stringify(ready.json.errors), /delivery paused .*AUTH_FAILED/);
      const tokensWhilePaused = p.emulator.stats().tokenRequests;
      // The administrator grants FullAccess in Exchange and saves the settings: delivery resumes.
      const state = p.emulator.getState();
      state.tenants[0].mailboxes[0].fullAccess = [p.tenant.servicePrincipalObjectId];
      p.emulator.setState(state);
      assert.equal((await p.api('PUT', '/api/v1/settings/email', { connectionTimeoutMs: 14000 })).status, 200);
      await p.waitForStatus(rest.map((m) => m.id), 'sent');
      assert.equal((await p.api('GET', '/readyz')).status, 200);
      assert.ok(p.emulator.stats().tokenRequests - tokensWhilePaused <= 2, 'one new token for the new settings');
    });
  });

  it('a burst into a refused configuration: one message fails, a handful of sign-ins at most, the rest wait untried', async () => {
    await withPair({ tenant: { fullAccess: false } }, async (p) => {
      const accepted = await p.submit(40);
      await waitFor(async () => (await p.api('GET', '/readyz')).status === 503, 10_000, 'delivery paused');
      await new Promise((r) => setTimeout(r, 300));
      const statuses = await Promise.all(accepted.map(async (a) => (await p.api('GET', `/api/v1/messages/${a.id}`)).json));
      assert.equal(statuses.filter((m) => m.status === 'failed').length, 1, 'one incident fails one message');
      assert.equal(statuses.filter((m) => m.status === 'queued').length, 39);
      assert.ok(statuses.filter((m) => m.status === 'queued').every((m) => m.attempts.length === 0), 'the others carry no attempt');
      const st = p.emulator.stats();
      assert.ok(st.authFailures <= 6, `${st.authFailures} refused sign-ins (at most 3 connections, each retried once with a fresh token)`);
      assert.ok(st.tokenRequests <= 3, `${st.tokenRequests} token requests`);
    });
  });

  it('a settings change in the middle of a burst: every message delivered once, never more than 3 connections', async () => {
    await withPair({}, async (p) => {
      const first = await p.submit(150);
      await waitFor(async () => p.emulator.messages().length >= 20, 10_000, 'the burst is under way');
      assert.equal((await p.api('PUT', '/api/v1/settings/email', { socketTimeoutMs: 45_000 })).status, 200);
      const more = await p.submit(50);
      const all = [...first, ...more];
      await p.waitForStatus(all.map((a) => a.id), 'sent', 30_000);
      const received = p.emulator.messages();
      assert.equal(received.length, 200, 'each message once');
      assert.equal(new Set(received.map((m) => m.messageId)).size, 200);
      const st = p.emulator.stats();
      assert.ok(st.peakAuthenticatedConnections[p.tenant.authorizedFrom.toLowerCase()] <= 3, `peak ${st.peakAuthenticatedConnections[p.tenant.authorizedFrom.toLowerCase()]}`);
      assert.equal(st.tokenRequests, 1, 'the credential did not change: no new token');
    });
  });

  it('an unreadable client certificate never crashes the service: messages wait, readyz says why, the admin page names the file, the API refuses to save it', async () => {
    // The credential comes from the environment, so its destinations must too (a request
    // cannot move a credential it cannot enter: core/credential-destinations.ts).
    const env = (e: Emulator) => ({
      MAILGATE_CLIENT_CERTIFICATE_PATH: '/nonexistent/client.pem',
      MAILGATE_ADMIN_PASSWORD: 'e2e-admin-password-0123456789',
      MAILGATE_SMTP_HOST: e.smtp.host,
      MAILGATE_SMTP_PORT: String(e.smtp.port),
      MAILGATE_AUTHORITY_HOST: e.authorityHost,
    });
    await withPair({ env }, async (p) => {
      const [a] = await p.submit(1);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal((await p.api('GET', `/api/v1/messages/${a.id}`)).json.status, 'queued');
      const ready = await p.api('GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.match(JSON.stringify(ready.json.errors), /delivery stopped: the Email Settings cannot be used/);
      assert.doesNotMatch(JSON.stringify(ready.json), /nonexistent/, 'no detail on the unauthenticated endpoint');
      const admin = new AdminClient((path, init) => fetch(`${p.svc.url}${path}`, { ...init, redirect: 'manual' }));
      assert.equal((await admin.login('e2e-admin-password-0123456789')).status, 303);
      const page = await admin.get('/admin/settings');
      assert.match(page.text, /data-delivery-stopped[^>]*>\s*<strong>Delivery is stopped:<\/strong>[^<]*\/nonexistent\/client\.pem/, 'the signed-in administrator sees which file');
      const test = await p.api('POST', '/api/v1/settings/email/test', { to: 'admin@example.com' });
      assert.equal(test.status, 200);
      assert.equal(test.json.ok, false);
      assert.equal(test.json.error.code, 'SETTINGS_INVALID');
      assert.equal((await p.api('GET', '/healthz')).status, 200, 'still alive');
    });
    await withPair({}, async (p) => {
      const r = await p.api('PUT', '/api/v1/settings/email', { clientCertificatePem: '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n' });
      assert.equal(r.status, 422);
      assert.match(JSON.stringify(r.json.errors), /Client certificate/);
    });
  });

  it('a refused client secret (AADSTS7000215) fails at once with its diagnosis', async () => {
    await withPair({}, async (p) => {
      const r = await p.api('PUT', '/api/v1/settings/email', { clientSecret: 'wrong~secret-value-1234567890' });
      assert.equal(r.status, 200);
      const [a] = await p.submit(1);
      await p.waitForStatus([a.id], 'failed');
      const m = await p.api('GET', `/api/v1/messages/${a.id}`);
      assert.equal(m.json.errorCode, 'TOKEN_REJECTED');
      assert.equal(m.json.attempts.length, 1);
      assert.match(m.json.attempts[0].diagnosis.id, /7000215/);
      // Fix the secret, retry the failed message through the API: it is delivered.
      await p.api('PUT', '/api/v1/settings/email', { clientSecret: p.tenant.clientSecret });
      const retry = await p.api('POST', `/api/v1/messages/${a.id}/retry`);
      assert.equal(retry.status, 202);
      await p.waitForStatus([a.id], 'sent');
    });
  });

  it('settings changed through the API take effect without a restart; send test works', async () => {
    await withPair({}, async (p) => {
      const [a] = await p.submit(1);
      await p.waitForStatus([a.id], 'sent');
      const test = await p.api('POST', '/api/v1/settings/email/test', { to: 'admin@example.com' });
      assert.equal(test.json.ok, true, test.text);
      assert.match(test.json.response, /^250 /);
      // Moving where credentials go without typing the secret again is refused.
      const refused = await p.api('PUT', '/api/v1/settings/email', { smtpPort: 1 });
      assert.equal(refused.status, 422);
      assert.deepEqual(refused.json.errors.map((e: { key: string }) => e.key), ['clientSecret']);
      assert.match(refused.json.errors[0].message, /type it again/);
      // Point the service at a port where nothing listens: new messages retry with a diagnosis.
      assert.equal((await p.api('PUT', '/api/v1/settings/email', { smtpPort: 1, connectionTimeoutMs: 500, clientSecret: p.tenant.clientSecret })).status, 200);
      const [b] = await p.submit(1);
      await waitFor(async () => (await p.svc.store.get(b.id))?.attempts.length, 10_000, 'a failed attempt');
      const mb = await p.svc.store.get(b.id);
      assert.equal(mb?.attempts[0].code, 'CONNECT_FAILED');
      const bad = await p.api('POST', '/api/v1/settings/email/test', { to: 'admin@example.com' });
      assert.equal(bad.json.ok, false);
      assert.equal(bad.json.error.code, 'CONNECT_FAILED');
      assert.ok(bad.json.error.diagnosis.summary);
      await p.api('PUT', '/api/v1/settings/email', { smtpPort: p.emulator.smtp.port, clientSecret: p.tenant.clientSecret });
      await p.waitForStatus([b.id], 'sent');
    });
  });

  it('no secret and no token anywhere: data dir, API responses, logs', async () => {
    await withPair({}, async (p) => {
      const accepted = await p.submit(5);
      await p.waitForStatus(accepted.map((a) => a.id), 'sent');
      p.emulator.setFaults({ smtpTransient: { code: 451, command: 'EOM', count: 1 } });
      const more = await p.submit(2);
      await p.waitForStatus(more.map((a) => a.id), 'sent');
      await p.api('GET', '/api/v1/settings/email');
      await p.api('POST', '/api/v1/settings/email/test', { to: 'admin@example.com' });
      for (const a of [...accepted, ...more]) await p.api('GET', `/api/v1/messages/${a.id}`);
      await p.api('GET', '/api/v1/messages?limit=50');
      const tokens = [...p.issuedTokens];
      assert.ok(tokens.length >= 1 && tokens.every((t) => t.length > 100));
      const needles = [p.tenant.clientSecret, ...tokens];
      const b64 = needles.map((n) => Buffer.from(n).toString('base64').slice(0, 40));

      await p.svc.stop(); // flush everything to disk (WAL included)
      const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
      const files = walk(p.dir);
      assert.ok(files.some((f) => f.endsWith('mailgate.db')));
      for (const f of files) {
        const data = readFileSync(f);
        for (const n of [...needles, ...b64]) assert.ok(!data.includes(n), `${f} contains a secret or token`);
      }
      const haystacks = { responses: p.responses.join('\n'), logs: p.logs.text() };
      assert.ok(haystacks.logs.length > 100, 'logs were captured');
      for (const [where, text] of Object.entries(haystacks)) {
        for (const n of [...needles, ...b64]) assert.ok(!text.includes(n), `${where} contain a secret or token`);
        assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./.test(text), `${where} contain something JWT-shaped`);
      }
    });
  });
});
