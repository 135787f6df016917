/**
 * The doctor's decision about the secondary credential (issue 17), as a table: the primary's
 * token request (ok, refused with an answer the service fails over on, refused otherwise) by the
 * secondary's (ok, refused) → the check's status, whether the chain continues with the
 * secondary's token, and what the fix says. Pure: observations built by hand, no network.
 * Also the settings check's secondary expiry (the same thresholds as the primary's) and the
 * expiry texts of a `<name>.secondary` credential.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailgateError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { parseSettings, type EmailSettings } from '../../src/core/settings.js';
import { expiryStatus } from '../../src/core/credential-expiry.js';
import { secondarySettings } from '../../src/core/credential-slots.js';
import { contextFor } from '../../src/core/diagnosis/index.js';
import { decideSecondary, type SecondaryObservation } from '../../src/doctor/checks/secondary-credential.js';
import { decideToken, type TokenObservation } from '../../src/doctor/checks/token-check.js';
import { decideSettings, extraSettingsWarnings } from '../../src/doctor/checks/settings-check.js';
import type { CheckStatus } from '../../src/doctor/types.js';

const CLIENT = '11111111-2222-3333-4444-555555555555';
const TENANT = '66666666-7777-8888-9999-000000000000';
const RAW = { clientId: CLIENT, tenantId: TENANT, clientSecret: 'Abc8Q~primary-secret-value-0123456789', authorizedFrom: 'noreply@contoso.com', clientSecretSecondary: 'Xyz8Q~secondary-secret-value-0123456789' };
const DAY = 86_400_000;

function settings(extra: Record<string, string> = {}): EmailSettings {
  const p = parseSettings({ ...RAW, ...extra });
  if (!p.ok) throw new Error(JSON.stringify(p.problems));
  return p.settings;
}

const ok = (): TokenObservation => ({ ok: true, token: new Secret('eyJhbGciOiJub25lIn0.eyJ9.x'), expiresAt: Date.now() + 3_600_000, ms: 5 });
const refused = (aadsts: number): TokenObservation => ({
  ok: false, ms: 5,
  error: new MailgateError({ code: 'TOKEN_REJECTED', phase: 'token', message: `AADSTS${aadsts}: refused`, token: { status: 401, error: 'invalid_client', aadsts: [aadsts] } }),
});
const network = (): TokenObservation => ({ ok: false, ms: 5, error: new MailgateError({ code: 'CONNECT_FAILED', phase: 'token', message: 'ECONNRESET', retryable: true }) });

function decide(primary: TokenObservation, second: TokenObservation) {
  const s = settings();
  const ctx = contextFor(s, {});
  const secondary: SecondaryObservation = { credential: 'client secret', settings: secondarySettings(s)!, token: second };
  return decideSecondary({ check: decideToken(primary, s, ctx), primary, primarySettings: s, secondary, ctx, credential: 'contoso' });
}

const TABLE: { primary: () => TokenObservation; secondary: () => TokenObservation; status: CheckStatus; failover: boolean; fix?: RegExp }[] = [
  { primary: ok, secondary: ok, status: 'pass', failover: false },
  { primary: ok, secondary: () => refused(7000215), status: 'warn', failover: false, fix: /Replace the secondary: `mailgate credentials remove contoso`/ },
  { primary: ok, secondary: () => refused(7000222), status: 'warn', failover: false, fix: /Create a new client secret: .*11111111-2222-3333-4444-555555555555/ },
  { primary: ok, secondary: () => refused(700027), status: 'warn', failover: false, fix: /Replace the secondary/ },
  { primary: ok, secondary: network, status: 'warn', failover: false, fix: /Replace the secondary/ },
  { primary: () => refused(7000222), secondary: ok, status: 'warn', failover: true, fix: /`mailgate credentials promote contoso`/ },
  { primary: () => refused(7000215), secondary: ok, status: 'warn', failover: true, fix: /`mailgate credentials promote contoso`/ },
  { primary: () => refused(700027), secondary: ok, status: 'warn', failover: true, fix: /`mailgate credentials promote contoso`/ },
  // What no other credential fixes: the service does not switch, so neither does the doctor.
  { primary: () => refused(7000112), secondary: ok, status: 'fail', failover: false },
  { primary: () => refused(700016), secondary: ok, status: 'fail', failover: false },
  { primary: network, secondary: ok, status: 'fail', failover: false },
  { primary: () => refused(7000222), secondary: () => refused(7000215), status: 'fail', failover: false, fix: /The secondary client secret:/ },
];

test('the secondary decision table: a refused secondary warns (never fails); a failover the service would make warns and continues', () => {
  for (const [i, row] of TABLE.entries()) {
    const d = decide(row.primary(), row.secondary());
    assert.equal(d.check.status, row.status, `row ${i}: ${d.check.summary}`);
    assert.equal(d.failover, row.failover, `row ${i}`);
    if (row.fix) assert.match(d.check.fix ?? '', row.fix, `row ${i}`);
    assert.equal(d.check.id, 'token');
    assert.equal((d.check.details!.secondary as { ok: boolean }).ok, row.secondary().ok, `row ${i}`);
    assert.ok(!JSON.stringify(d.check).includes('secondary-secret-value'), `row ${i}: no secret`);
  }
  const noSwitch = decide(refused(7000112), ok());
  assert.match(noSwitch.check.summary, /The secondary client secret works, but Mailgate does not switch on this answer \(the application is disabled/);
});

test('settings: the secondary\'s expiry at each threshold, most urgent first, with the rotation step; none without a secondary', () => {
  const now = Date.UTC(2027, 0, 1);
  const at = (days: number) => new Date(now + days * DAY).toISOString().slice(0, 10);
  for (const [days, text] of [[20, /expires in 20 days/], [10, /Plan its renewal now/], [5, /Renew it this week/], [1, /expires within a day/], [-3, /expired on/]] as const) {
    const w = extraSettingsWarnings(settings({ clientSecretExpiresSecondary: at(days) }), undefined, now, { credential: 'default' });
    assert.equal(w.length, 1, `${days} days: ${JSON.stringify(w)}`);
    assert.equal(w[0]!.key, 'clientSecretExpiresSecondary');
    assert.match(w[0]!.message, text);
    assert.match(w[0]!.message, new RegExp(`^The secondary client secret of app ${CLIENT}`));
    assert.match(w[0]!.message, /A failover to it would fail/);
  }
  assert.deepEqual(extraSettingsWarnings(settings({ clientSecretExpiresSecondary: at(40) }), undefined, now), []);
  // The primary in 25 days, the secondary expired: the commands are the most urgent one's (both a secret here).
  const both = decideSettings(parseSettings({ ...RAW, clientSecretExpires: at(25), clientSecretExpiresSecondary: at(-1) }), undefined, now);
  assert.equal(both.status, 'warn');
  assert.equal((both.details!.warnings as unknown[]).length, 2);
  assert.equal((both.details!.secondary as { expiresAt: string }).expiresAt, `${at(-1)}T00:00:00.000Z`);
  const none = decideSettings(parseSettings({ ...RAW, clientSecretSecondary: '' }), undefined, now);
  assert.equal(none.details!.secondary, undefined);
});

test('expiry texts of a secondary: named as the secondary, and where its expiry goes', () => {
  const base = { clientId: CLIENT, kind: 'client-secret' as const };
  assert.match(expiryStatus({ ...base, credential: 'default.secondary' }, 0).message, /^The secondary client secret of app .* enter "Secondary client secret expires" \(MAILGATE_CLIENT_SECRET_EXPIRES_SECONDARY/);
  assert.match(expiryStatus({ ...base, credential: 'contoso.secondary' }, 0).message, /^The secondary client secret "contoso" of app .* set secondary\.clientSecretExpires on the credential "contoso"/);
  assert.match(expiryStatus({ ...base, credential: 'contoso' }, 0).message, /^The client secret "contoso" of app .* set clientSecretExpires on the credential "contoso"/);
  assert.match(expiryStatus({ ...base, credential: 'default', expiresAt: 5 * DAY }, 0).message, /^The client secret of app .* expires in 5 days/);
});
