/**
 * The doctor's text report prints each failed check's likely causes before its fix (as
 * `mailgate send` does), and `decideExchangeSide` names the one missing Exchange-side step
 * from Exchange's configuration, in the order Exchange's checks must pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderReport } from '../../src/doctor/render-report.js';
import { decideExchangeSide, emulatorExchangeFacts, type ExchangeFacts } from '../../src/doctor/exchange-facts.js';
import { buildTenantState, startEmulator } from '../../src/emulator/index.js';
import type { DoctorReport } from '../../src/doctor/types.js';

test('renderReport prints "Likely causes" and then "How to fix" for a failed check', () => {
  const report: DoctorReport = {
    ok: false,
    checks: [{ id: 'smtp-auth', status: 'fail', summary: 'refused', fix: 'Step one.\nStep two.', commands: ['Get-Thing'], details: { causes: ['Cause A.', 'Cause B.'] } }],
  };
  const text = renderReport(report);
  assert.match(text, /✗ smtp-auth\n {2}Likely causes:\n {4}- Cause A\.\n {4}- Cause B\.\n {2}How to fix:\n {2}Step one\.\n {2}Step two\.\n {2}Commands:\n {4}Get-Thing/);
  const noCauses = renderReport({ ok: false, checks: [{ id: 'tcp', status: 'fail', summary: 'closed', fix: 'Open it.' }] });
  assert.doesNotMatch(noCauses, /Likely causes/);
});

const APP = '11111111-1111-1111-1111-111111111111';
const OID = '22222222-2222-2222-2222-222222222222';
const APP_OBJECT = '33333333-3333-3333-3333-333333333333';
const MAILBOX = 'noreply@contoso.com';
const good: ExchangeFacts = {
  source: 'test',
  servicePrincipals: [{ appId: APP, objectId: OID }],
  mailbox: { address: MAILBOX, fullAccess: [OID] },
  rbacAssignments: [],
};
const q = { clientId: APP, authorizedFrom: MAILBOX, oid: OID };

test('decideExchangeSide: each missing step, first failing one wins; all done → undefined', () => {
  assert.equal(decideExchangeSide(good, q), undefined);
  assert.equal(decideExchangeSide({ ...good, mailbox: null, servicePrincipals: [] }, q)?.cause, 'mailbox-not-in-tenant');
  assert.equal(decideExchangeSide({ ...good, servicePrincipals: [] }, q)?.cause, 'no-service-principal');
  const wrong = decideExchangeSide({ ...good, servicePrincipals: [{ appId: APP, objectId: APP_OBJECT }] }, q);
  assert.equal(wrong?.cause, 'app-registration-object-id');
  assert.match(wrong!.finding, new RegExp(`ObjectId ${APP_OBJECT}.*oid .* is ${OID}`));
  assert.equal(decideExchangeSide({ ...good, mailbox: { address: MAILBOX, fullAccess: [] } }, q)?.cause, 'no-full-access');
  // RBAC for Applications covering the mailbox replaces FullAccess.
  assert.equal(decideExchangeSide({ ...good, mailbox: { address: MAILBOX, fullAccess: [] }, rbacAssignments: [{ app: OID, role: 'Application SMTP.SendAsApp', mailboxes: [MAILBOX] }] }, q), undefined);
  assert.equal(decideExchangeSide({ ...good, mailbox: { address: MAILBOX, fullAccess: [] }, rbacAssignments: [{ app: OID, role: 'Application SMTP.SendAsApp', mailboxes: ['other@contoso.com'] }] }, q)?.cause, 'no-full-access');
});

test('decideExchangeSide: only an "Application SMTP.SendAsApp" assignment stands in for FullAccess; a Graph role does not', () => {
  const noFullAccess = { ...good, mailbox: { address: MAILBOX, fullAccess: [] } };
  for (const role of ['Application Mail.Send', 'Application Mail.ReadWrite', '']) {
    assert.equal(decideExchangeSide({ ...noFullAccess, rbacAssignments: [{ app: OID, role, mailboxes: null }] }, q)?.cause, 'no-full-access', role);
  }
  assert.equal(decideExchangeSide({ ...noFullAccess, rbacAssignments: [{ app: OID, role: 'Application Mail.Send', mailboxes: null }, { app: OID, role: 'Application SMTP.SendAsApp', mailboxes: [MAILBOX] }] }, q), undefined);
});

test('the emulator\'s exchange view: a tenant with only a Graph RBAC role (Application Mail.Send) and no FullAccess is "no-full-access" for SMTP', async () => {
  const graphOnly = buildTenantState({ domain: 'graphrbac.onmicrosoft.com', consentedRoles: [], fullAccess: false, rbacAssignments: [{ role: 'Application Mail.Send', mailboxes: null }] });
  const smtpRbac = buildTenantState({ domain: 'smtprbac.onmicrosoft.com', consentedRoles: [], fullAccess: false, rbacMailboxes: null });
  const emu = await startEmulator(graphOnly.state, { smtpPort: 0, httpsPort: 0 });
  try {
    const facts = await emulatorExchangeFacts(emu.admin, { ca: emu.caPem })({ clientId: graphOnly.clientId, authorizedFrom: graphOnly.authorizedFrom });
    assert.ok(facts.rbacAssignments.some((a) => a.role === 'Application Mail.Send'), JSON.stringify(facts.rbacAssignments));
    const finding = decideExchangeSide(facts, { clientId: graphOnly.clientId, authorizedFrom: graphOnly.authorizedFrom, oid: graphOnly.servicePrincipalObjectId });
    assert.equal(finding?.cause, 'no-full-access');
  } finally {
    await emu.stop();
  }
  // The SMTP role does count (the same path, set-up B).
  const emu2 = await startEmulator(smtpRbac.state, { smtpPort: 0, httpsPort: 0 });
  try {
    const facts = await emulatorExchangeFacts(emu2.admin, { ca: emu2.caPem })({ clientId: smtpRbac.clientId, authorizedFrom: smtpRbac.authorizedFrom });
    assert.equal(decideExchangeSide(facts, { clientId: smtpRbac.clientId, authorizedFrom: smtpRbac.authorizedFrom, oid: smtpRbac.servicePrincipalObjectId }), undefined);
  } finally {
    await emu2.stop();
  }
});
