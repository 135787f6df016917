import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DAY_MS, EXPIRY_THRESHOLDS, expiryStatus, expiryStatuses, parseExpiryDate, renewalSteps, thresholdRank, type CredentialExpiryInput } from '../../src/core/credential-expiry.js';

const CLIENT = '11111111-2222-3333-4444-555555555555';
const EXPIRES = Date.UTC(2027, 0, 31, 0, 0);
const secret: CredentialExpiryInput = { credential: 'default', kind: 'client-secret', expiresAt: EXPIRES, source: 'setting', clientId: CLIENT, cloud: 'global' };
/** The injected clock: `days` before the expiry (negative: after). */
const at = (days: number) => EXPIRES - days * DAY_MS;

test('the threshold table is pinned: 30, 14, 7, 1 days before, and after the expiry', () => {
  assert.deepEqual(EXPIRY_THRESHOLDS.map((t) => [t.id, t.days, t.severity]), [
    ['expired', 0, 'critical'], ['1d', 1, 'critical'], ['7d', 7, 'warning'], ['14d', 14, 'warning'], ['30d', 30, 'notice'],
  ]);
});

test('each threshold is crossed exactly at its day, with its pinned message', () => {
  const cases: [number, string | undefined, string][] = [
    [31, undefined, `The client secret of app ${CLIENT} expires in 31 days (2027-01-31 00:00 UTC).`],
    [30, '30d', `The client secret of app ${CLIENT} expires in 30 days (2027-01-31 00:00 UTC).`],
    [15, '30d', `The client secret of app ${CLIENT} expires in 15 days (2027-01-31 00:00 UTC).`],
    [14, '14d', `The client secret of app ${CLIENT} expires in 14 days (2027-01-31 00:00 UTC). Plan its renewal now.`],
    [7, '7d', `The client secret of app ${CLIENT} expires in 7 days (2027-01-31 00:00 UTC). Renew it this week.`],
    [2, '7d', `The client secret of app ${CLIENT} expires in 2 days (2027-01-31 00:00 UTC). Renew it this week.`],
    [1, '1d', `The client secret of app ${CLIENT} expires within a day (2027-01-31 00:00 UTC). Renew it today: after that, nothing is delivered.`],
    [0, 'expired', `The client secret of app ${CLIENT} expired on 2027-01-31 00:00 UTC: every token request with it is refused, so nothing is delivered. Renew it now.`],
    [-3, 'expired', `The client secret of app ${CLIENT} expired on 2027-01-31 00:00 UTC: every token request with it is refused, so nothing is delivered. Renew it now.`],
  ];
  for (const [days, threshold, message] of cases) {
    const s = expiryStatus(secret, at(days));
    assert.equal(s.threshold, threshold, `${days} days`);
    assert.equal(s.message, message, `${days} days`);
  }
  // One millisecond more than 30 days left: not yet.
  assert.equal(expiryStatus(secret, at(30) - 1).threshold, undefined);
  assert.equal(expiryStatus(secret, at(1) + 1).threshold, '1d');
});

test('a secret without a known expiry asks for "Client Secret expires"', () => {
  const s = expiryStatus({ ...secret, expiresAt: undefined, source: undefined }, at(100));
  assert.equal(s.severity, 'unknown');
  assert.match(s.message, /enter "Client Secret expires" \(MAILGATE_CLIENT_SECRET_EXPIRES\)/);
});

test('statuses are sorted most urgent first and thresholds rank by severity', () => {
  const cert: CredentialExpiryInput = { credential: 'default', kind: 'client-certificate', expiresAt: at(11), thumbprintSha1: 'AB'.repeat(20), clientId: CLIENT };
  const relay: CredentialExpiryInput = { credential: 'relay', kind: 'relay-tls', expiresAt: EXPIRES + 400 * DAY_MS };
  const list = expiryStatuses([relay, secret, cert], at(10));
  assert.deepEqual(list.map((s) => s.input.kind), ['client-certificate', 'client-secret', 'relay-tls']);
  assert.ok(thresholdRank('expired') > thresholdRank('1d') && thresholdRank('1d') > thresholdRank('7d') && thresholdRank('14d') > thresholdRank('30d') && thresholdRank('30d') > thresholdRank(undefined));
});

test('renewal steps carry the real client ID: az --append and PowerShell', () => {
  const s = renewalSteps(secret);
  assert.ok(s.commands.some((c) => c.startsWith(`az ad app credential reset --id ${CLIENT} --append`)));
  assert.ok(s.commands.some((c) => c.includes(`appId eq '${CLIENT}'`) && c.includes('Add-MgApplicationPassword')));
  assert.match(s.steps[0]!, /entra\.microsoft\.com → Identity → Applications → App registrations/);
  const c = renewalSteps({ ...secret, kind: 'client-certificate', thumbprintSha1: 'CD'.repeat(20) });
  assert.ok(c.commands.includes(`az ad app credential reset --id ${CLIENT} --cert @cert.pem --append`));
  assert.ok(c.steps.some((x) => x.includes('CD'.repeat(20))));
  assert.match(renewalSteps({ ...secret, cloud: 'gcc-high' }).steps[0]!, /portal\.azure\.us/);
});

test('"Client Secret expires" accepts a date or an ISO date-time, and refuses locale dates', () => {
  assert.equal(parseExpiryDate('2027-01-31'), EXPIRES);
  assert.equal(parseExpiryDate('2027-01-31T10:00:00+02:00'), EXPIRES + 8 * 3600_000);
  for (const bad of ['1/31/2027', '31.01.2027', '2027-02-30', '2027-01-31T10:00', 'tomorrow', '']) assert.equal(parseExpiryDate(bad), undefined, bad);
});
