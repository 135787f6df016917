/**
 * Credential expiry for every named credential (issues 16 + 17): with two credentials in
 * MAILGATE_CONFIG, each with its own "clientSecretExpires", the monitor watches both: one metric
 * row per credential (its name as the label), and the banner names the credential that expires
 * soon, not the other one. The clock is injected; no network is used (Graph is not due).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DAY_MS } from '../../src/core/credential-expiry.js';
import { parseSendersConfig } from '../../src/core/senders.js';
import { createLogger } from '../../src/log/logger.js';
import { startService } from '../../src/app/service.js';
import { AdminClient } from '../admin/helpers.js';
import { LineCapture, tempDir } from './helpers.js';

const MASTER_KEY = Buffer.alloc(32, 9).toString('base64');
const PASSWORD = 'expiry-senders-password-0123456789';
const CONTOSO_APP = '3cc0b6a1-1111-4222-8333-444455556666';
const FABRIKAM_APP = '4dd0b6a1-1111-4222-8333-444455556666';
const TENANT = '6a1f0000-1111-4222-8333-444455556666';
const NOW = Date.UTC(2027, 0, 1);

const YAML = `credentials:
  - name: contoso
    tenantId: ${TENANT}
    clientId: ${CONTOSO_APP}
    clientSecret: env:CONTOSO_SECRET
    clientSecretExpires: 2027-07-20
  - name: fabrikam
    tenantId: ${TENANT}
    clientId: ${FABRIKAM_APP}
    clientSecret: env:FABRIKAM_SECRET
    clientSecretExpires: 2027-01-11
senders:
  - address: noreply@contoso.com
    credential: contoso
  - address: billing@fabrikam.com
    credential: fabrikam
`;

describe('credential expiry for every credential', () => {
  it('the schema takes clientSecretExpires on a credential and refuses a date it cannot read', () => {
    const base = { tenantId: TENANT, clientId: CONTOSO_APP, clientSecret: 'env:X' };
    assert.equal(parseSendersConfig({ credentials: [{ name: 'c', ...base, clientSecretExpires: '2027-06-01' }], senders: [{ address: 'a@contoso.com', credential: 'c' }] }, 'reference').ok, true);
    const bad = parseSendersConfig({ credentials: [{ name: 'c', ...base, clientSecretExpires: '6/1/2027' }], senders: [{ address: 'a@contoso.com', credential: 'c' }] }, 'reference');
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? '' : bad.problems[0]!.message, /^credentials\[0\]\.clientSecretExpires: must be a date such as 2027-06-01/);
  });

  it('two credentials, one expiring in 10 days: metric rows for both, the banner names the right one', async () => {
    const t = tempDir('mailgate-expiry-senders-');
    const file = join(t.dir, 'mailgate.yaml');
    writeFileSync(file, YAML);
    const svc = await startService({
      env: { MAILGATE_DATA_DIR: join(t.dir, 'data'), MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_CONFIG: file, CONTOSO_SECRET: 'contoso-secret-value-1', FABRIKAM_SECRET: 'fabrikam-secret-value-2', MAILGATE_ADMIN_PASSWORD: PASSWORD },
      listen: false,
      worker: false,
      logger: createLogger({ destination: new LineCapture() }),
      credentialClock: () => NOW,
    });
    try {
      await svc.credentials.tick();
      const metrics = await (await svc.app.request('/metrics')).text();
      assert.match(metrics, new RegExp(`mailgate_credential_expiry_timestamp_seconds\\{credential="contoso",kind="client-secret"\\} ${Date.UTC(2027, 6, 20) / 1000}\\n`));
      assert.match(metrics, new RegExp(`mailgate_credential_expiry_timestamp_seconds\\{credential="fabrikam",kind="client-secret"\\} ${Date.UTC(2027, 0, 11) / 1000}\\n`));
      const statuses = svc.credentials.statuses();
      assert.deepEqual(statuses.map((s) => [s.input.credential, s.input.clientId, s.daysLeft, s.threshold ?? null]), [['fabrikam', FABRIKAM_APP, 10, '14d'], ['contoso', CONTOSO_APP, 200, null]]);

      const admin = new AdminClient(async (path, init) => svc.app.request(path, init));
      assert.equal((await admin.login(PASSWORD)).status, 303);
      const html = (await admin.get('/admin/messages')).text;
      const banner = /<div class="flash[^"]*credential-banner"[\s\S]*?<\/div>/.exec(html)?.[0] ?? '';
      assert.match(banner, /The client secret (&quot;|")fabrikam(&quot;|") of app 4dd0b6a1/);
      assert.doesNotMatch(banner, /contoso/);
    } finally {
      await svc.stop();
      t.remove();
    }
  });
});

describe('a named credential without an expiry', () => {
  it('asks for clientSecretExpires on that credential, not for the Email Settings field', async () => {
    const { expiryStatus } = await import('../../src/core/credential-expiry.js');
    const s = expiryStatus({ credential: 'fabrikam', kind: 'client-secret', clientId: FABRIKAM_APP }, NOW);
    assert.match(s.message, /set clientSecretExpires on the credential "fabrikam"/);
    assert.match(expiryStatus({ credential: 'default', kind: 'client-secret' }, NOW).message, /MAILGATE_CLIENT_SECRET_EXPIRES/);
  });
});
