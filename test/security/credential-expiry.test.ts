/**
 * Security replays for credential expiry (issue 17): MAILGATE_ALERT_TO is one address without
 * line breaks (it becomes a To header); Graph's answer about the app's credentials is parsed at
 * the boundary (customKeyIdentifier accepted only as a thumbprint); the alert email carries the
 * renewal steps but never the secret (the monitor's inputs hold no secret value at all).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { thumbprintFromKeyIdentifier } from '../../src/auth/app-credentials-graph.js';
import { describeSettingsCredentials } from '../../src/auth/credential-inventory.js';
import { expiryStatus } from '../../src/core/credential-expiry.js';
import { parseSettings } from '../../src/core/settings.js';
import { parseServiceConfig } from '../../src/service/config.js';
import { alertEmail } from '../../src/service/settings/credential-expiry-monitor.js';

const SECRET = 'Qx9~a-Client-Secret-value_0123456789abcd';

test('MAILGATE_ALERT_TO: a header injection or a list is refused at start', () => {
  for (const bad of ['ops@example.com\r\nBcc: evil@example.net', 'ops@example.com, evil@example.net', '<ops@example.com>', 'ops']) {
    const r = parseServiceConfig({ MAILGATE_ALERT_TO: bad });
    assert.equal(r.ok, false, bad);
  }
  const ok = parseServiceConfig({ MAILGATE_ALERT_TO: 'it-ops@example.com' });
  assert.ok(ok.ok && ok.config.alertTo === 'it-ops@example.com');
});

test("Graph's customKeyIdentifier counts only as a SHA-1 thumbprint (hex, or base64 of 20 bytes or of the hex)", () => {
  const hex = 'AB'.repeat(20);
  assert.equal(thumbprintFromKeyIdentifier(hex.toLowerCase()), hex);
  assert.equal(thumbprintFromKeyIdentifier(Buffer.from(hex, 'hex').toString('base64')), hex);
  assert.equal(thumbprintFromKeyIdentifier(Buffer.from(hex).toString('base64')), hex);
  for (const bad of ['<script>', 'AB'.repeat(19), Buffer.from('x'.repeat(30)).toString('base64'), '', null, undefined]) assert.equal(thumbprintFromKeyIdentifier(bad), undefined);
});

test('the alert email names the app and the steps, and never the secret', async () => {
  const parsed = parseSettings({ clientId: '11111111-2222-3333-4444-555555555555', tenantId: '66666666-7777-8888-9999-000000000000', clientSecret: SECRET, authorizedFrom: 'a@contoso.com', clientSecretExpires: '2027-02-01' });
  assert.ok(parsed.ok);
  const inputs = await describeSettingsCredentials(parsed.settings);
  assert.ok(!JSON.stringify(inputs).includes(SECRET));
  const mail = alertEmail(expiryStatus(inputs[0]!, Date.UTC(2027, 0, 25)), 'ops@example.com');
  assert.equal(mail.subject, '[Mailgate] The client secret of app 11111111-2222-3333-4444-555555555555 expires 2027-02-01');
  assert.match(mail.text, /az ad app credential reset --id 11111111-2222-3333-4444-555555555555 --append/);
  assert.ok(!mail.text.includes(SECRET) && !mail.subject.includes(SECRET));
  assert.equal(mail.idempotencyKey, `credential-expiry:default:client-secret:${Date.UTC(2027, 1, 1)}:7d`);
});
