/**
 * The metric, /readyz and the admin banner at EVERY expiry threshold (issue 17's Tests: "the
 * metric and banner at each threshold with an injected clock"): the real service (SQLite, HTTP,
 * the admin page) against the emulator, the expiry monitor's clock moved to 40 days before the
 * expiry, then into the 30, 14, 7 and 1-day thresholds and past it. The credential's secondary
 * (rotation) is watched too, under its own name and called "the secondary client secret".
 * (credential-expiry-e2e.test.ts covers the alert emails and the daily log at 30 and 14 days.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DAY_MS } from '../../src/core/credential-expiry.js';
import { buildTenantState, startEmulator } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService } from '../../src/app/service.js';
import { AdminClient } from '../admin/helpers.js';
import { LineCapture, tempDir } from './helpers.js';
import { MASTER_KEY } from './e2e-helpers.js';

const EXPIRES = Date.UTC(2027, 1, 1);
const SECONDARY_EXPIRES = EXPIRES + 10 * DAY_MS;
const PASSWORD = 'thresholds-admin-password-0123456789';

describe('credential expiry at every threshold', () => {
  it('metric, /readyz and banner at 40 days, 30, 14, 7, 1 and after the expiry; the secondary under its own name', async () => {
    const built = buildTenantState({ secretExpires: new Date(EXPIRES).toISOString() });
    const emulator = await startEmulator(built.state);
    const t = tempDir('mailgate-thresholds-');
    let clock = EXPIRES - 40 * DAY_MS;
    const svc = await startService({
      env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_HTTP_PORT: '0', MAILGATE_WORKER: 'off', MAILGATE_ADMIN_PASSWORD: PASSWORD },
      ca: emulator.caPem,
      logger: createLogger({ destination: new LineCapture(), level: 'info' }),
      credentialClock: () => clock,
    });
    try {
      const key = (await createApiKey(svc.store, 'e2e', 'admin', { now: Date.now(), actor: 'test' })).key;
      const api = async (method: string, path: string, body?: unknown) => {
        const r = await fetch(`${svc.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
        const text = await r.text();
        return { status: r.status, text, json: text ? JSON.parse(text) as any : undefined };
      };
      const saved = await api('PUT', '/api/v1/settings/email', {
        smtpHost: emulator.smtp.host, smtpPort: emulator.smtp.port, authorityHost: emulator.authorityHost,
        tenantId: built.tenantId, clientId: built.clientId, clientSecret: built.clientSecret, authorizedFrom: built.authorizedFrom,
        clientSecretExpires: '2027-02-01',
      });
      assert.equal(saved.status, 200, saved.text);
      const added = await api('POST', '/api/v1/credentials/default/secondary', { clientSecret: 'Nw5Q~the-next-secret-value-0123456789', clientSecretExpires: new Date(SECONDARY_EXPIRES).toISOString().slice(0, 10) });
      assert.equal(added.status, 201, added.text);

      const admin = new AdminClient((path, init) => fetch(`${svc.url}${path}`, { ...init, redirect: 'manual' }));
      assert.equal((await admin.login(PASSWORD)).status, 303);

      const rows: { daysBefore: number; threshold: string | undefined; severity: string; text: RegExp }[] = [
        { daysBefore: 40, threshold: undefined, severity: 'ok', text: /expires in 40 days/ },
        { daysBefore: 20, threshold: '30d', severity: 'notice', text: /expires in 20 days \(2027-02-01 00:00 UTC\)\.$/ },
        { daysBefore: 10, threshold: '14d', severity: 'warning', text: /expires in 10 days .*Plan its renewal now\./ },
        { daysBefore: 5, threshold: '7d', severity: 'warning', text: /expires in 5 days .*Renew it this week\./ },
        { daysBefore: 0.5, threshold: '1d', severity: 'critical', text: /expires within a day \(2027-02-01 00:00 UTC\)\. Renew it today/ },
        { daysBefore: -1, threshold: 'expired', severity: 'critical', text: /expired on 2027-02-01 00:00 UTC: every token request with it is refused/ },
      ];
      for (const row of rows) {
        clock = EXPIRES - row.daysBefore * DAY_MS;
        await svc.credentials.tick();
        const at = `${row.daysBefore} days before`;
        // The metric is the expiry itself, at every threshold (the alert rule compares it with time()).
        const metrics = await fetch(`${svc.url}/metrics`).then((r) => r.text());
        assert.match(metrics, new RegExp(`mailgate_credential_expiry_timestamp_seconds\\{credential="default",kind="client-secret"\\} ${EXPIRES / 1000}\\n`), at);
        assert.match(metrics, new RegExp(`mailgate_credential_expiry_timestamp_seconds\\{credential="default.secondary",kind="client-secret"\\} ${SECONDARY_EXPIRES / 1000}\\n`), at);
        const primary = svc.credentials.statuses().find((s) => s.input.credential === 'default')!;
        assert.equal(primary.threshold, row.threshold, at);
        assert.equal(primary.severity, row.severity, at);
        assert.match(primary.message, row.text, at);
        const ready = await api('GET', '/readyz');
        const listed = (ready.json.credentials ?? []).find((c: any) => c.credential === 'default');
        if (row.threshold) assert.equal(listed?.threshold, row.threshold, `${at}: /readyz`);
        const html = (await admin.get('/admin/messages')).text;
        if (!row.threshold) {
          assert.ok(!html.includes('credential-banner'), `${at}: no banner`);
          continue;
        }
        const banner = /<div class="flash [^"]*credential-banner" role="(\w+)" data-severity="(\w+)">([\s\S]*?)<\/div>/.exec(html);
        assert.ok(banner, `${at}: the banner`);
        const item = new RegExp(`<li data-credential="default" data-kind="client-secret" data-threshold="${row.threshold}">The client secret of app ${built.clientId} [^<]*</li>`).exec(banner[3]!);
        assert.ok(item, `${at}: the banner line of the primary`);
        assert.match(item[0].replace(/<\/li>$/, ''), row.text, at);
        // The worst line sets the banner's severity (the secondary, 10 days later, is never worse here).
        assert.equal(banner[2], row.severity, at);
        assert.equal(banner[1], row.severity === 'critical' ? 'alert' : 'status', at);
        // The secondary reaches its own thresholds 10 days later, under its own name.
        if (row.daysBefore <= 20) {
          assert.match(banner[3]!, new RegExp(`<li data-credential="default.secondary" data-kind="client-secret" data-threshold="\\w+">The secondary client secret of app ${built.clientId} expires in ${Math.floor(row.daysBefore + 10)} days`), `${at}: the secondary's line`);
        }
      }
    } finally {
      await svc.stop();
      await emulator.stop();
      t.remove();
    }
  });
});
