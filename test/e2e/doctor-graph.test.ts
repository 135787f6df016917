/**
 * The doctor with Transport graph and auto (issue 15 item 6), against the emulator over real
 * TLS: the Graph token's Mail.Send (tenant-wide warning with the scoping commands filled with
 * the real service principal oid), a real sendMail as graph-send, the Graph diagnosis of each
 * Graph scenario, and which transport Automatic would use and why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { runDoctor } from '../../src/doctor/index.js';
import { emulatorExchangeFacts } from '../../src/doctor/exchange-facts.js';
import type { CheckResult, DoctorReport } from '../../src/doctor/types.js';

const fixture = useEmulatedTenants();
const byId = (r: DoctorReport, id: string): CheckResult => r.checks.find((c) => c.id === id)!;

async function doctor(transport: 'graph' | 'auto', o: { scenario?: string; to?: string; facts?: boolean } = {}) {
  const t = fixture.tenant();
  if (o.scenario) fixture.emu.setScenario(o.scenario);
  const report = await runDoctor(fixture.rawFor(t, { transport, graphEndpoint: fixture.emu.graph }), {
    ca: fixture.emu.caPem,
    ...(o.to ? { to: o.to } : {}),
    ...(o.facts ? { exchangeFacts: emulatorExchangeFacts(fixture.emu.admin, { ca: fixture.emu.caPem }) } : {}),
  });
  const app = fixture.emu.getState().tenants[0]!.apps[0]!;
  return { t, report, oid: app.servicePrincipalObjectId };
}

test('Transport graph, healthy: tenant-wide Mail.Send is a warning with the RBAC scoping commands (real IDs); a real sendMail passes', async () => {
  const to = `graph-doctor-${Date.now()}@fabrikam.example`;
  const { t, report, oid } = await doctor('graph', { to });
  assert.equal(report.ok, true, JSON.stringify(report.checks.map((c) => [c.id, c.status, c.summary])));
  for (const id of ['tcp', 'starttls', 'token', 'token-claims', 'smtp-auth', 'send']) assert.equal(byId(report, id).status, 'skip', id);
  const gt = byId(report, 'graph-token');
  assert.equal(gt.status, 'warn');
  assert.match(gt.summary, /tenant-wide/);
  assert.deepEqual(gt.details?.roles instanceof Array && (gt.details.roles as string[]).includes('Mail.Send'), true);
  const cmds = gt.commands!.join('\n');
  assert.ok(cmds.includes(`New-ManagementScope -Name "Mailgate sender ${t.authorizedFrom}" -RecipientRestrictionFilter "PrimarySmtpAddress -eq '${t.authorizedFrom}'"`), cmds);
  assert.ok(cmds.includes(`New-ManagementRoleAssignment -Name "Mailgate Graph Mail.Send" -App ${oid} -Role "Application Mail.Send" -CustomResourceScope "Mailgate sender ${t.authorizedFrom}"`), cmds);
  assert.ok(cmds.includes(`Test-ServicePrincipalAuthorization -Identity ${oid} -Resource ${t.authorizedFrom}`), cmds);
  assert.doesNotMatch(cmds, /\{oid\}|\{authorizedFrom\}|\{tenantId\}/);
  const gs = byId(report, 'graph-send');
  assert.equal(gs.status, 'pass');
  assert.match(gs.summary, /202 Accepted/);
  const got = fixture.emu.messages().filter((m) => JSON.stringify(m).includes(String(gs.details?.messageId)));
  assert.equal(got.length, 1, 'the test message reached the emulator once');
  assert.doesNotMatch(JSON.stringify(report), /eyJ[A-Za-z0-9_-]{10,}\./, 'no token in the report');
});

test('Transport graph without --to: graph-send is skipped and says why', async () => {
  const { report } = await doctor('graph');
  assert.equal(byId(report, 'graph-send').status, 'skip');
  assert.match(byId(report, 'graph-send').summary, /--to/);
});

test('graph-no-mail-send: graph-token fails with the consent fix and the RBAC commands', async () => {
  const { report, oid } = await doctor('graph', { scenario: 'graph-no-mail-send', facts: true });
  const gt = byId(report, 'graph-token');
  assert.equal(gt.status, 'fail');
  assert.match(gt.summary, /no Mail\.Send/);
  assert.match(gt.fix!, /Application permissions → Mail\.Send/);
  assert.ok(gt.commands!.some((c) => c.includes(`-App ${oid} -Role "Application Mail.Send"`)));
});

test('graph-no-mail-send without Exchange facts (a real tenant): graph-token still fails when Graph refuses the test message', async () => {
  const { report } = await doctor('graph', { scenario: 'graph-no-mail-send', to: 'someone@fabrikam.example' });
  assert.equal(byId(report, 'graph-token').status, 'fail');
  assert.equal(byId(report, 'graph-send').status, 'fail');
});

test('graph-rbac-scope-excludes-mailbox: scoped RBAC is not a tenant-wide warning; graph-send names the scope', async () => {
  const { report } = await doctor('graph', { scenario: 'graph-rbac-scope-excludes-mailbox', to: 'someone@fabrikam.example', facts: true });
  assert.equal(byId(report, 'graph-token').status, 'pass');
  const gs = byId(report, 'graph-send');
  assert.equal(gs.status, 'fail');
  assert.equal(gs.details?.httpStatus, 403);
  assert.ok(gs.commands!.some((c) => c.startsWith('Test-ServicePrincipalAuthorization -Identity ')), gs.commands!.join('\n'));
});

test('graph-mailbox-not-licensed: graph-send explains MailboxNotEnabledForRESTAPI', async () => {
  const { report } = await doctor('graph', { scenario: 'graph-mailbox-not-licensed', to: 'someone@fabrikam.example' });
  const gs = byId(report, 'graph-send');
  assert.equal(gs.status, 'fail');
  assert.equal(gs.details?.graphCode, 'MailboxNotEnabledForRESTAPI');
});

test('Transport auto, healthy: Automatic would send by SMTP (preferred)', async () => {
  const { report } = await doctor('auto');
  const r = byId(report, 'auto-route');
  assert.equal(r.status, 'pass');
  assert.deepEqual([r.details?.transport, r.details?.reason], ['smtp', 'preferred']);
  assert.notEqual(byId(report, 'graph-token').status, 'skip');
});

test('Transport auto, SMTP AUTH disabled for the mailbox: Automatic would send by Graph, because of 535 5.7.139', async () => {
  const { report } = await doctor('auto', { scenario: 'smtp-auth-disabled-mailbox', to: 'someone@fabrikam.example' });
  assert.equal(byId(report, 'smtp-auth').status, 'fail');
  assert.equal(byId(report, 'graph-send').status, 'pass');
  const r = byId(report, 'auto-route');
  assert.equal(r.status, 'pass');
  assert.deepEqual([r.details?.transport, r.details?.reason], ['graph', 'smtp-auth-disabled']);
  assert.match(r.summary, /Automatic would send by Microsoft Graph/);
});

test('Transport auto, a wrong secret: neither transport can send and Automatic does not pretend otherwise', async () => {
  const { report } = await doctor('auto', { scenario: 'wrong-secret' });
  const r = byId(report, 'auto-route');
  assert.equal(r.status, 'fail');
  assert.equal(r.details?.transport, 'none');
});
