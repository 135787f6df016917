// Who may send through the emulated Graph: the Entra application permission (tenant-wide),
// RBAC for Applications scopes ("Application Mail.Send" on some mailboxes), Application Access
// Policies (RestrictAccess / DenyAccess), and the SMTP side unchanged by Graph RBAC roles.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildTenantState, mergeStates, startEmulator, type BuiltTenant, type Emulator } from '../../src/emulator/index.js';
import { fetchToken, httpsRequest, RawSmtpClient, xoauth2 } from '../helpers/emulator-client.js';
import { assertGraphError } from './graph-helpers.js';

const GRAPH = 'https://graph.microsoft.com/.default';
const DENIED = 'Access is denied. Check credentials and try again.';
const POLICY = 'Access to OData is disabled: Blocked by tenant configured AppOnly AccessPolicy settings.';

const extra = (domain: string) => [{ address: `other@${domain}` }];

describe('Graph permissions, RBAC for Applications scopes and Application Access Policies', () => {
  let emu: Emulator;
  // RBAC only (no Entra Mail.Send), scoped to the Authorized from Address.
  const rbac = buildTenantState({ domain: 'rbac.onmicrosoft.com', consentedRoles: ['SMTP.SendAsApp'], rbacAssignments: [{ role: 'Application Mail.Send', mailboxes: ['noreply@rbac.onmicrosoft.com'] }], extraMailboxes: extra('rbac.onmicrosoft.com') });
  // Entra Mail.Send and an RBAC scope: the grants add up, so every mailbox is reachable.
  const both = buildTenantState({ domain: 'both.onmicrosoft.com', rbacAssignments: [{ role: 'Application Mail.Send', mailboxes: ['noreply@both.onmicrosoft.com'] }], extraMailboxes: extra('both.onmicrosoft.com') });
  const restrict = buildTenantState({ domain: 'restrict.onmicrosoft.com', applicationAccessPolicies: [{ accessRight: 'RestrictAccess', mailboxes: ['noreply@restrict.onmicrosoft.com'] }], extraMailboxes: extra('restrict.onmicrosoft.com') });
  const deny = buildTenantState({ domain: 'deny.onmicrosoft.com', applicationAccessPolicies: [{ accessRight: 'DenyAccess', mailboxes: ['other@deny.onmicrosoft.com'] }], extraMailboxes: extra('deny.onmicrosoft.com') });
  // An RBAC role for SMTP only does not open Graph.
  const smtpRbac = buildTenantState({ domain: 'smtprbac.onmicrosoft.com', consentedRoles: [], fullAccess: false, rbacMailboxes: null });
  const graphRbacOnly = buildTenantState({ domain: 'graphrbac.onmicrosoft.com', consentedRoles: [], fullAccess: false, rbacAssignments: [{ role: 'Application Mail.Send', mailboxes: null }] });
  const tokens = new Map<BuiltTenant, string>();

  before(async () => {
    emu = await startEmulator(mergeStates(rbac, both, restrict, deny, smtpRbac, graphRbacOnly));
    for (const t of [rbac, both, restrict, deny, smtpRbac, graphRbacOnly]) tokens.set(t, await fetchToken(emu, t.tenantId, t.clientId, t.clientSecret!, GRAPH));
  });
  after(() => emu.stop());

  const send = (t: BuiltTenant, mailbox: string) => httpsRequest(`${emu.graph}/v1.0/users/${mailbox}/sendMail`, {
    method: 'POST', ca: emu.caPem,
    headers: { Authorization: `Bearer ${tokens.get(t)}`, 'Content-Type': 'text/plain' },
    body: Buffer.from(`From: ${mailbox}\r\nTo: a@example.com\r\nSubject: s\r\n\r\nbody\r\n`).toString('base64'),
  });
  const lastReason = () => (emu.log().filter((e) => e.kind === 'graph').at(-1) as { reason?: string }).reason ?? '';

  test('RBAC "Application Mail.Send" without Entra consent: the token has no Mail.Send, the scoped mailbox is reachable', async () => {
    assert.equal((await send(rbac, rbac.authorizedFrom)).status, 202);
  });

  test('RBAC scope that excludes the mailbox: 403 ErrorAccessDenied, and the log names the scope', async () => {
    assertGraphError(await send(rbac, 'other@rbac.onmicrosoft.com'), 403, 'ErrorAccessDenied', DENIED);
    assert.match(lastReason(), /scope of "Application Mail\.Send" .* does not include other@rbac\.onmicrosoft\.com/);
  });

  test('Entra Mail.Send plus an RBAC scope: the grants add up (tenant-wide), as Microsoft warns', async () => {
    assert.equal((await send(both, 'other@both.onmicrosoft.com')).status, 202);
  });

  test('Application Access Policy RestrictAccess: the group\'s mailbox works, another gets the policy\'s 403', async () => {
    assert.equal((await send(restrict, restrict.authorizedFrom)).status, 202);
    assertGraphError(await send(restrict, 'other@restrict.onmicrosoft.com'), 403, 'ErrorAccessDenied', POLICY);
    assert.match(lastReason(), /RestrictAccess/);
  });

  test('Application Access Policy DenyAccess: the denied mailbox gets the policy\'s 403, others work', async () => {
    assertGraphError(await send(deny, 'other@deny.onmicrosoft.com'), 403, 'ErrorAccessDenied', POLICY);
    assert.equal((await send(deny, deny.authorizedFrom)).status, 202);
  });

  test('an "Application SMTP.SendAsApp" RBAC role gives no Graph access', async () => {
    assertGraphError(await send(smtpRbac, smtpRbac.authorizedFrom), 403, 'ErrorAccessDenied', DENIED);
    assert.match(lastReason(), /no roles claim/);
  });

  test('a Graph RBAC role does not open SMTP: SMTP counts only "Application SMTP.SendAsApp" assignments', async () => {
    // No SMTP.SendAsApp consent, no FullAccess, only "Application Mail.Send" on every mailbox.
    assert.equal((await send(graphRbacOnly, graphRbacOnly.authorizedFrom)).status, 202, 'Graph works');
    const exo = await fetchToken(emu, graphRbacOnly.tenantId, graphRbacOnly.clientId, graphRbacOnly.clientSecret!);
    const client = await RawSmtpClient.connectSecure(emu.smtp.port, emu.caPem);
    try {
      assert.match(await client.send(`AUTH XOAUTH2 ${xoauth2(graphRbacOnly.authorizedFrom, exo)}`), /^535 5\.7\.3 Authentication unsuccessful/);
    } finally {
      client.close();
    }
  });

  test('the admin API\'s exchange view shows Graph roles, Access Policies and the mailbox\'s licence', async () => {
    const res = await httpsRequest(`${emu.admin}/exchange?appId=${restrict.clientId}&mailbox=${restrict.authorizedFrom}`, { ca: emu.caPem });
    const body = res.json();
    assert.deepEqual(body.applicationAccessPolicies, [{ appId: restrict.clientId, accessRight: 'RestrictAccess', mailboxes: [restrict.authorizedFrom] }]);
    assert.equal(body.mailbox.licensed, true);
    assert.equal(body.mailbox.onPremises, false);
    assert.equal(body.mailbox.userObjectId, restrict.userObjectId);
  });
});
