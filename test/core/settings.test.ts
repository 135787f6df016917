import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSettings, settingsFromEnv, publicSettings, SETTINGS_FIELDS } from '../../src/core/settings.js';
import { Secret } from '../../src/core/secret.js';

const GOOD = {
  clientId: '11111111-2222-3333-4444-555555555555',
  tenantId: '99999999-8888-7777-6666-555555555555',
  clientSecret: 'abc~DEF_ghi.jkl-MNOpqrSTUvwxYZ0123456789',
  authorizedFrom: 'noreply@contoso.onmicrosoft.com',
};

test('valid modern settings get the global cloud defaults', () => {
  const r = parseSettings(GOOD);
  assert.equal(r.ok, true);
  if (!r.ok) return;
  assert.equal(r.settings.smtpHost, 'smtp.office365.com');
  assert.equal(r.settings.smtpPort, 587);
  assert.equal(r.settings.authorityHost, 'https://login.microsoftonline.com');
  assert.equal(r.settings.scope, 'https://outlook.office365.com/.default');
  assert.equal(r.settings.useModernAuth, true);
  assert.ok(r.settings.clientSecret instanceof Secret);
  assert.equal(r.settings.clientSecret?.reveal(), GOOD.clientSecret);
  assert.equal(r.warnings.length, 0);
});

test('the cloud sets authority host, SMTP host and scope together', () => {
  const r = parseSettings({ ...GOOD, cloud: 'gcc-high' });
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.settings.authorityHost, 'https://login.microsoftonline.us');
  assert.equal(r.settings.smtpHost, 'smtp.office365.us');
  assert.equal(r.settings.scope, 'https://outlook.office365.us/.default');
});

test('every problem is reported at once, each with label, key and environment variable', () => {
  const r = parseSettings({ clientId: 'not-a-guid', tenantId: 'bad tenant!', authorizedFrom: 'nope', smtpPort: '70000' });
  assert.equal(r.ok, false);
  if (r.ok) return;
  const keys = r.problems.map((p) => p.key).sort();
  assert.deepEqual(keys, ['authorizedFrom', 'clientId', 'clientSecret', 'smtpPort', 'tenantId']);
  const clientId = r.problems.find((p) => p.key === 'clientId')!;
  assert.equal(clientId.env, 'MAILGATE_CLIENT_ID');
  assert.match(clientId.message, /Application \(client\) ID/);
  assert.match(clientId.message, /GUID/);
  assert.match(r.problems.find((p) => p.key === 'smtpPort')!.message, /between 1 and 65535/);
});

test('missing required settings are named', () => {
  const r = parseSettings({});
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.problems.map((p) => p.key).sort(), ['authorizedFrom', 'clientId', 'clientSecret', 'tenantId']);
});

test('a tenant may be a verified domain', () => {
  const r = parseSettings({ ...GOOD, tenantId: 'contoso.onmicrosoft.com' });
  assert.ok(r.ok);
});

test('a secret that is a GUID is a warning about the secret ID, not an error', () => {
  const r = parseSettings({ ...GOOD, clientSecret: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' });
  assert.equal(r.ok, true);
  assert.equal(r.warnings.length, 1);
  assert.equal(r.warnings[0].key, 'clientSecret');
  assert.match(r.warnings[0].message, /secret's ID/);
  assert.match(r.warnings[0].message, /AADSTS7000215/);
});

test('a certificate can replace the secret', () => {
  const { clientSecret: _omit, ...rest } = GOOD;
  const r = parseSettings({ ...rest, clientCertificatePath: '/etc/mailgate/cert.pem' });
  assert.ok(r.ok);
});

test('basic mode needs host, port, username, password and from, not the app registration', () => {
  const bad = parseSettings({ useModernAuth: 'false', authorizedFrom: 'a@b.example' });
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.deepEqual(bad.problems.map((p) => p.key).sort(), ['smtpPassword', 'smtpUsername']);
  const ok = parseSettings({ useModernAuth: false, authorizedFrom: 'a@b.example', smtpUsername: 'a@b.example', smtpPassword: 'pw' });
  assert.equal(ok.ok, true);
  if (ok.ok) {
    assert.equal(ok.warnings[0].key, 'useModernAuth');
    assert.match(ok.warnings[0].message, /December 2026/);
  }
});

test('CR/LF in the authorized-from address is refused', () => {
  const r = parseSettings({ ...GOOD, authorizedFrom: 'a@b.example\r\nBcc: x@y.example' });
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.problems[0].key, 'authorizedFrom');
});

test('authority host must be https and host-only', () => {
  const r = parseSettings({ ...GOOD, authorityHost: 'http://login.microsoftonline.com' });
  assert.equal(r.ok, false);
  const r2 = parseSettings({ ...GOOD, authorityHost: 'https://login.microsoftonline.com/tenant/oauth2/v2.0/token' });
  assert.equal(r2.ok, false);
});

test('settings are read from MAILGATE_* environment variables', () => {
  const { raw, keys } = settingsFromEnv({
    MAILGATE_CLIENT_ID: GOOD.clientId,
    MAILGATE_TENANT_ID: GOOD.tenantId,
    MAILGATE_CLIENT_SECRET: GOOD.clientSecret,
    MAILGATE_AUTHORIZED_FROM: GOOD.authorizedFrom,
    MAILGATE_SMTP_PORT: '2525',
    MAILGATE_USE_MODERN_AUTH: 'true',
    UNRELATED: 'x',
  });
  assert.deepEqual(keys.sort(), ['authorizedFrom', 'clientId', 'clientSecret', 'smtpPort', 'tenantId', 'useModernAuth']);
  const r = parseSettings(raw);
  assert.ok(r.ok);
  if (r.ok) assert.equal(r.settings.smtpPort, 2525);
});

test('every field has a MAILGATE_ environment variable and a label', () => {
  for (const f of SETTINGS_FIELDS) {
    assert.match(f.env, /^MAILGATE_[A-Z_]+$/);
    assert.ok(f.label.length > 0);
  }
  assert.equal(SETTINGS_FIELDS.find((f) => f.key === 'useModernAuth')!.env, 'MAILGATE_USE_MODERN_AUTH');
  assert.equal(SETTINGS_FIELDS.find((f) => f.key === 'clientCertificatePath')!.env, 'MAILGATE_CLIENT_CERTIFICATE_PATH');
});

test('public settings never carry secret values', () => {
  const r = parseSettings(GOOD);
  assert.ok(r.ok);
  if (!r.ok) return;
  const pub = publicSettings(r.settings);
  assert.equal(pub.clientSecretSet, true);
  assert.equal(JSON.stringify(pub).includes(GOOD.clientSecret), false);
  assert.equal(JSON.stringify(r.settings).includes(GOOD.clientSecret), false);
});
