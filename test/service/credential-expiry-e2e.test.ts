/**
 * Credential expiry end to end (issue 17): the real service (real mailer, SQLite, HTTP) against
 * the emulator, with the expiry monitor's clock injected and moved to each threshold: the metric,
 * /readyz for admins, the banner on the admin page, the daily log line, and the alert email
 * delivered to the emulator's mailbox once per threshold, remembered across a restart. Then the
 * real expiry read from Graph when the app holds Application.Read.All.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DAY_MS } from '../../src/core/credential-expiry.js';
import { buildTenantState, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { AdminClient } from '../admin/helpers.js';
import { LineCapture, tempDir, waitFor } from './helpers.js';
import { fastClassify, MASTER_KEY } from './e2e-helpers.js';

const ALERT_TO = 'ops@example.com';
const EXPIRES = Date.UTC(2027, 1, 1);
const PASSWORD = 'expiry-admin-password-0123456789';

describe('credential expiry, end to end', () => {
  it('metric, /readyz, banner, daily log and one alert email per threshold (kept across a restart)', async () => {
    const built = buildTenantState({ secretExpires: new Date(EXPIRES).toISOString() });
    const emulator = await startEmulator(built.state, { limits: { messagesPerMinute: Infinity } });
    const t = tempDir('mailgate-expiry-');
    let clock = EXPIRES - 40 * DAY_MS;
    const start = async (logs: LineCapture): Promise<RunningService> => startService({
      env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_HTTP_PORT: '0', MAILGATE_POLL_INTERVAL_MS: '50', MAILGATE_ALERT_TO: ALERT_TO, MAILGATE_ADMIN_PASSWORD: PASSWORD },
      ca: emulator.caPem,
      logger: createLogger({ destination: logs, level: 'debug' }),
      mailerDeps: { tokenRetry: { maxAttempts: 1 } },
      classify: fastClassify,
      credentialClock: () => clock,
    });
    let logs = new LineCapture();
    let svc = await start(logs);
    try {
      const key = (await createApiKey(svc.store, 'e2e', 'admin', { now: Date.now(), actor: 'test' })).key;
      const api = async (method: string, path: string, body?: unknown) => {
        const r = await fetch(`${svc.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
        return { status: r.status, json: await r.json() as any };
      };
      const saved = await api('PUT', '/api/v1/settings/email', {
        smtpHost: emulator.smtp.host, smtpPort: emulator.smtp.port, authorityHost: emulator.authorityHost,
        tenantId: built.tenantId, clientId: built.clientId, clientSecret: built.clientSecret, authorizedFrom: built.authorizedFrom,
        clientSecretExpires: '2027-02-01',
      });
      assert.equal(saved.status, 200, JSON.stringify(saved.json));
      const bad = await api('PUT', '/api/v1/settings/email', { clientSecretExpires: '2/1/2027' });
      assert.equal(bad.status, 422);
      assert.match(JSON.stringify(bad.json), /Client Secret expires \(clientSecretExpires, MAILGATE_CLIENT_SECRET_EXPIRES\) must be a date such as 2027-06-01/);

      const alerts = () => emulator.messages().filter((m) => m.to.includes(ALERT_TO));
      await svc.credentials.tick();
      // 40 days before: the metric has the expiry, nothing else says anything.
      const metrics = await fetch(`${svc.url}/metrics`).then((r) => r.text());
      assert.match(metrics, new RegExp(`mailgate_credential_expiry_timestamp_seconds\\{credential="default",kind="client-secret"\\} ${EXPIRES / 1000}\\n`));
      assert.equal(svc.credentials.statuses()[0]!.threshold, undefined);
      assert.equal(alerts().length, 0);

      // 20 days before: the 30-day threshold.
      clock = EXPIRES - 20 * DAY_MS;
      await svc.credentials.tick();
      await waitFor(() => alerts().length === 1, 15_000, 'the 30-day alert email');
      assert.match(alerts()[0]!.subject, /^\[Mailgate\] The client secret of app .+ expires 2027-02-01$/);
      const ready = await api('GET', '/readyz');
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.json.credentials.map((c: any) => [c.credential, c.kind, c.threshold, c.source, c.daysLeft, c.expiresAt]), [['default', 'client-secret', '30d', 'setting', 20, '2027-02-01T00:00:00.000Z']]);
      const anonymous = await fetch(`${svc.url}/readyz`).then((r) => r.json() as Promise<any>);
      assert.equal(anonymous.credentials, undefined, 'no credential details without an admin key');
      assert.ok(logs.lines.some((l) => { const j = JSON.parse(l); return j.event === 'credential-expiry' && j.threshold === '30d' && j.daysLeft === 20; }), 'the daily log line');

      const admin = new AdminClient((path, init) => fetch(`${svc.url}${path}`, { ...init, redirect: 'manual' }));
      assert.equal((await admin.login(PASSWORD)).status, 303);
      const form = (await admin.get('/admin/settings')).text;
      assert.match(form, /name="clientSecret"[\s\S]{0,2000}name="clientSecretExpires" [^>]*value="2027-02-01"/, 'the date next to the secret on the form');
      for (const page of ['/admin/settings', '/admin/messages']) {
        const html = (await admin.get(page)).text;
        assert.match(html, /class="flash flash-info credential-banner"[^>]*data-severity="notice"/, page);
        assert.match(html, /data-threshold="30d">The client secret of app [0-9a-f-]{36} expires in 20 days \(2027-02-01 00:00 UTC\)\./, page);
      }

      // The same threshold again: no second email. Then 10 days before: the 14-day one.
      await svc.credentials.tick();
      clock = EXPIRES - 10 * DAY_MS;
      await svc.credentials.tick();
      await waitFor(() => alerts().length === 2, 15_000, 'the 14-day alert email');
      assert.match((await admin.get('/admin/settings')).text, /data-severity="warning"[\s\S]*expires in 10 days/);

      // A restart at the same instant remembers that the 14-day alert went out.
      await svc.stop();
      logs = new LineCapture();
      svc = await start(logs);
      await svc.credentials.tick();
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(alerts().length, 2, 'no alert twice after a restart');
      assert.ok(!logs.text().includes(built.clientSecret!), 'the secret is in no log line');
    } finally {
      await svc.stop();
      await emulator.stop();
      t.remove();
    }
  });

  it('reads the real expiry from Graph when the app holds Application.Read.All', async () => {
    const graphExpiry = '2027-03-15T08:00:00.000Z';
    const built = buildTenantState({ secretExpires: graphExpiry, consentedRoles: ['SMTP.SendAsApp', 'Mail.Send', 'Application.Read.All'] });
    const emulator: Emulator = await startEmulator(built.state);
    const t = tempDir('mailgate-expiry-graph-');
    const svc = await startService({
      env: {
        MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_HTTP_PORT: '0', MAILGATE_WORKER: 'off',
        MAILGATE_SMTP_HOST: emulator.smtp.host, MAILGATE_SMTP_PORT: String(emulator.smtp.port), MAILGATE_AUTHORITY_HOST: emulator.authorityHost,
        MAILGATE_GRAPH_ENDPOINT: emulator.graph, MAILGATE_TENANT_ID: built.tenantId, MAILGATE_CLIENT_ID: built.clientId,
        MAILGATE_CLIENT_SECRET: built.clientSecret!, MAILGATE_AUTHORIZED_FROM: built.authorizedFrom,
        // A stale typed date: Graph's endDateTime wins.
        MAILGATE_CLIENT_SECRET_EXPIRES: '2026-12-31',
        // The relay's TLS certificate (generated) is watched too.
        MAILGATE_RELAY_PORT: '0',
      },
      ca: emulator.caPem,
      logger: createLogger({ destination: new LineCapture(), level: 'debug' }),
    });
    try {
      assert.equal(emulator.stats().tokenRequests, 0, 'no Graph request at start');
      assert.equal(svc.credentials.statuses()[0]!.input.source, 'setting');
      await svc.credentials.tick({ readGraph: true });
      const s = svc.credentials.statuses()[0]!;
      assert.equal(s.input.source, 'graph');
      assert.equal(s.input.expiresAt, Date.parse(graphExpiry));
      assert.deepEqual(emulator.log().filter((e: any) => e.kind === 'graph').map((e: any) => [e.method, e.status]), [['GET', 200]]);
      const relay = svc.credentials.statuses().find((x) => x.input.kind === 'relay-tls');
      assert.equal(relay?.input.expiresAt, svc.relay!.certificate.expiresAt);
      assert.equal(relay?.input.generated, true);
      const metrics = await fetch(`${svc.url}/metrics`).then((r) => r.text());
      assert.match(metrics, new RegExp(`mailgate_credential_expiry_timestamp_seconds\\{credential="relay",kind="relay-tls"\\} ${Math.floor(svc.relay!.certificate.expiresAt / 1000)}\\n`));
      assert.match(metrics, new RegExp(`mailgate_credential_expiry_timestamp_seconds\\{credential="default",kind="client-secret"\\} ${Date.parse(graphExpiry) / 1000}\\n`));
    } finally {
      await svc.stop();
      await emulator.stop();
      t.remove();
    }
  });
});
