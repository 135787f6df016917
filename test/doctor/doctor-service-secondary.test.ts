/**
 * The service's doctor (POST /api/v1/diagnostics, the admin page's Diagnostics) knows the
 * secondary credential (issue 17): a secondary added through the rotation API is tested by the
 * doctor with a token request of its own against the emulator. A wrong one is a `warn` in
 * `token` with the AADSTS7000215 diagnosis (the report stays ok); once replaced by a working one,
 * `token` passes and says the secondary works too. No secret in any response.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { buildTenantState, startEmulator } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService } from '../../src/app/service.js';
import { CHECK_IDS } from '../../src/doctor/types.js';
import { LineCapture, tempDir } from '../service/helpers.js';
import { MASTER_KEY } from '../service/e2e-helpers.js';

const SECOND = 'Sd38Q~the-second-secret-of-the-app-0123456789';
const WRONG = 'Wr0Q~not-a-secret-of-this-app-0123456789abc';

describe('the service doctor and the secondary credential', () => {
  it('POST /api/v1/diagnostics tests the secondary: a wrong one warns with AADSTS7000215, the right one passes', async () => {
    const built = buildTenantState({});
    built.state.tenants[0]!.apps[0]!.secrets.push({ id: randomUUID(), value: SECOND, expires: new Date(Date.now() + 365 * 86_400_000).toISOString() } as never);
    const emulator = await startEmulator(built.state);
    const t = tempDir('mailgate-doctor-secondary-');
    const svc = await startService({
      env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_HTTP_PORT: '0', MAILGATE_WORKER: 'off' },
      ca: emulator.caPem,
      logger: createLogger({ destination: new LineCapture(), level: 'info' }),
    });
    try {
      const key = (await createApiKey(svc.store, 'e2e', 'admin', { now: Date.now(), actor: 'test' })).key;
      const api = async (method: string, path: string, body?: unknown) => {
        const r = await fetch(`${svc.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body !== undefined ? JSON.stringify(body) : undefined });
        const text = await r.text();
        for (const s of [built.clientSecret!, SECOND, WRONG]) assert.ok(!text.includes(s), `no secret in ${method} ${path}`);
        return { status: r.status, text, json: text ? JSON.parse(text) as any : undefined };
      };
      assert.equal((await api('PUT', '/api/v1/settings/email', {
        smtpHost: emulator.smtp.host, smtpPort: emulator.smtp.port, authorityHost: emulator.authorityHost,
        tenantId: built.tenantId, clientId: built.clientId, clientSecret: built.clientSecret, authorizedFrom: built.authorizedFrom,
      })).status, 200);
      assert.equal((await api('POST', '/api/v1/credentials/default/secondary', { clientSecret: WRONG })).status, 201);

      const wrong = await api('POST', '/api/v1/diagnostics', {});
      assert.equal(wrong.status, 200, wrong.text);
      assert.deepEqual(wrong.json.checks.map((c: { id: string }) => c.id), [...CHECK_IDS]);
      assert.equal(wrong.json.ok, true, 'a failing secondary never fails the report');
      const token = wrong.json.checks.find((c: { id: string }) => c.id === 'token');
      assert.equal(token.status, 'warn');
      assert.deepEqual(token.details.secondary.aadsts, [7000215]);
      assert.match(token.fix, /`mailgate credentials remove default`/);
      assert.equal(wrong.json.checks.find((c: { id: string }) => c.id === 'smtp-auth').status, 'pass');

      assert.equal((await api('DELETE', '/api/v1/credentials/default/secondary')).status, 200);
      assert.equal((await api('POST', '/api/v1/credentials/default/secondary', { clientSecret: SECOND, clientSecretExpires: '2027-11-30' })).status, 201);
      const right = await api('POST', '/api/v1/diagnostics', {});
      const ok = right.json.checks.find((c: { id: string }) => c.id === 'token');
      assert.equal(ok.status, 'pass', ok.summary);
      assert.equal(ok.details.secondary.ok, true);
      const settings = right.json.checks.find((c: { id: string }) => c.id === 'settings');
      assert.equal(settings.details.secondary.expiresAt, '2027-11-30T00:00:00.000Z');
    } finally {
      await svc.stop();
      await emulator.stop();
      t.remove();
    }
  });
});
