/**
 * "The primary expires mid-burst" (issue 17 item 3), end to end: the real service (SQLite,
 * HTTP, the delivery thread with its token cache) against the emulator, which issues short-lived
 * tokens (4 s, so the cache asks again during the burst, as it would every hour) and holds two
 * secrets of the app. A burst of messages starts with the primary alone; the secondary is added
 * through the API and tested while it runs; in the middle the emulator expires the primary (its admin API). Asserted: every
 * message sent, none failed, none retried (the switch costs no attempt); the `warn` line
 * "primary credential refused: AADSTS7000222; using the secondary"; the alert email delivered to
 * the emulator's mailbox; the metric and the rotation view (active: secondary); no secret in the log.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { httpsRequest } from '../../src/auth/https-request.js';
import { buildTenantState, startEmulator } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService } from '../../src/app/service.js';
import { LineCapture, tempDir, waitFor } from './helpers.js';
import { MASTER_KEY } from './e2e-helpers.js';

const ALERT_TO = 'ops@example.com';
const SECOND = 'Sd38Q~the-secondary-secret-0123456789abcdef';

describe('credential failover, end to end', () => {
  it('the primary expires mid-burst: zero messages lost or failed, the switch logged, the alert email delivered', async () => {
    const built = buildTenantState({});
    built.state.tenants[0]!.apps[0]!.secrets.push({ id: randomUUID(), value: SECOND, expires: new Date(Date.now() + 86_400_000).toISOString() } as never);
    const emulator = await startEmulator(built.state, { limits: { messagesPerMinute: Infinity }, tokenLifetimeSeconds: 4 });
    const t = tempDir('mailgate-failover-');
    const logs = new LineCapture();
    const svc = await startService({
      env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_HTTP_PORT: '0', MAILGATE_POLL_INTERVAL_MS: '50', MAILGATE_RATE_PER_MINUTE: '3000', MAILGATE_ALERT_TO: ALERT_TO },
      ca: emulator.caPem,
      logger: createLogger({ destination: logs, level: process.env.ROT_DEBUG ? 'debug' : 'info' }),
    });
    try {
      const key = (await createApiKey(svc.store, 'e2e', 'admin', { now: Date.now(), actor: 'test' })).key;
      const api = async (method: string, path: string, body?: unknown) => {
        const r = await fetch(`${svc.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body !== undefined ? JSON.stringify(body) : undefined });
        const text = await r.text();
        return { status: r.status, text, json: text ? JSON.parse(text) as any : undefined };
      };
      const saved = await api('PUT', '/api/v1/settings/email', {
        smtpHost: emulator.smtp.host, smtpPort: emulator.smtp.port, authorityHost: emulator.authorityHost,
        tenantId: built.tenantId, clientId: built.clientId, clientSecret: built.clientSecret, authorizedFrom: built.authorizedFrom,
      });
      assert.equal(saved.status, 200, saved.text);

      let n = 0;
      const submit = async (count: number) => {
        for (let i = 0; i < count; i++) {
          const r = await api('POST', '/api/v1/messages', { to: [`user${n}@example.com`], subject: `burst ${n}`, text: `message ${n}` });
          assert.equal(r.status, 202, r.text);
          n++;
        }
      };
      const sent = async () => (await svc.store.countByStatus()).sent;
      // The first half of the burst, delivered with the primary.
      await submit(20);
      await waitFor(async () => (await sent()) >= 10, 30_000, 'the first messages sent with the primary');
      assert.equal(svc.deps.credentialRotation!.get('default')!.active, 'primary');
      // The secondary is added while the service runs (its token provider is rebuilt with it).
      assert.equal((await api('POST', '/api/v1/credentials/default/secondary', { clientSecret: SECOND })).status, 201);
      assert.equal((await api('POST', '/api/v1/credentials/default/test', { slot: 'secondary' })).json.ok, true);
      await submit(5);

      // The primary expires now; the cached token (4 s) runs out during the rest of the burst.
      const expired = await httpsRequest(`${emulator.admin}/credentials/expire`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appId: built.clientId, secretId: built.secretId }), ca: emulator.caPem });
      assert.equal(expired.status, 200);
      const switched = () => logs.lines.some((l) => /primary credential refused: AADSTS7000222; using the secondary/.test(l));
      const until = Date.now() + 30_000;
      while (!switched() && Date.now() < until) {
        await submit(5);
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.ok(switched(), 'the switch is logged');
      await submit(20);

      const total = n;
      try {
        await waitFor(async () => (await sent()) >= total || undefined, 60_000, 'every message of the burst sent');
      } catch (error) {
        console.error(JSON.stringify(await svc.store.countByStatus()), logs.lines.slice(-40).join('\n'));
        throw error;
      }
      await waitFor(() => emulator.messages().some((m) => m.to.includes(ALERT_TO)) || undefined, 30_000, 'the alert email in the emulator mailbox');
      // The alert's own result is recorded just after the emulator took it.
      await waitFor(async () => (await sent()) >= total + 1 || undefined, 30_000, 'the alert recorded as sent');
      const counts = await svc.store.countByStatus();
      assert.equal(counts.failed, 0, 'no message failed');
      assert.equal(counts.sent, total + 1, 'every message of the burst and the alert sent');
      // No message needed a second attempt: the switch happened inside the token request.
      const page = await svc.store.list({ status: 'sent', limit: 500 });
      for (const m of page.items) assert.equal(m.attemptCount, 1, `message ${m.id} took one attempt`);

      const line = logs.lines.map((l) => JSON.parse(l)).find((j) => j.event === 'credential-failover');
      assert.equal(line.level, 40, 'a warn line');
      assert.equal(line.credential, 'default');
      assert.equal(line.code, 'AADSTS7000222');
      const alert = emulator.messages().find((m) => m.to.includes(ALERT_TO))!;
      assert.match(alert.subject, /Credential "default": primary refused \(AADSTS7000222\); using the secondary/);
      assert.equal(emulator.messages().filter((m) => m.to.includes(ALERT_TO)).length, 1, 'one alert');
      // The rotation steps in the order the flow accepts them (promote needs a tested secondary), with the real client ID.
      const raw = emulator.rawMessage(alert.id);
      const alertText = String(raw ?? '').replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
      assert.match(alertText, /mailgate credentials test default, then mailgate credentials promote default/);
      assert.ok(alertText.includes(`az ad app credential reset --id ${built.clientId} --append`), 'the real client ID');

      const view = await api('GET', '/api/v1/credentials/default/rotation');
      assert.equal(view.json.active, 'secondary');
      assert.equal(view.json.failover.code, 'AADSTS7000222');
      const metrics = await fetch(`${svc.url}/metrics`).then((r) => r.text());
      assert.match(metrics, /mailgate_credential_failover_total\{credential="default"\} 1\n/);
      const ready = await api('GET', '/readyz');
      assert.equal(ready.json.credentialFailovers[0].credential, 'default');
      const all = logs.lines.join('\n');
      for (const secret of [built.clientSecret!, SECOND]) assert.ok(!all.includes(secret), 'no secret in the log');

      // Promote (the secondary works) → the credential changed: back to "primary" (the new one).
      assert.equal((await api('POST', '/api/v1/credentials/default/promote', {})).json.active, 'primary');
    } finally {
      await svc.stop();
      await emulator.stop();
      t.remove();
    }
  });
});
