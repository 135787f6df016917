/**
 * End-to-end: runDoctor (the library) against the Microsoft 365 emulator, in-process on port 0,
 * over real sockets and TLS (the emulator's CA passed as `ca`), for a correct tenant and every
 * broken state an administrator meets. Each case asserts the failing check's id and status and
 * that the fix names the right command with the right IDs: the token's oid (the Enterprise
 * Application object id), never the App Registration's object id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { buildTenantState, createClientCertificate, type BuiltTenant } from '../../src/emulator/index.js';
import { runDoctor } from '../../src/doctor/run-doctor.js';
import type { CheckId, CheckResult, DoctorOptions, DoctorReport } from '../../src/doctor/types.js';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';

const fixture = useEmulatedTenants();
const { tenant, rawFor } = fixture;

/** Runs the doctor and checks the invariants every report must hold. */
async function doctor(t: BuiltTenant, extra: Record<string, string> = {}, options: DoctorOptions = {}): Promise<DoctorReport> {
  const raw = rawFor(t, extra);
  const report = await runDoctor(raw, { ca: fixture.emu.caPem, ...options });
  // A From other than the Authorized from Address makes it a Send As sender: send-as follows send.
  const sendAs = options.from !== undefined && options.from !== t.authorizedFrom ? ['send-as'] : [];
  assert.deepEqual(report.checks.map((c) => c.id), ['settings', 'dns', 'tcp', 'starttls', 'token', 'token-claims', 'smtp-auth', 'send', ...sendAs]);
  assert.equal(report.ok, !report.checks.some((c) => c.status === 'fail'));
  const text = JSON.stringify(report);
  if (t.clientSecret) assert.ok(!text.includes(t.clientSecret), 'the client secret never appears');
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(text), 'no token appears');
  // Entra's own AADSTS700027 text may quote the application object id (details.reply); the
  // doctor's own words and commands never do.
  const advice = JSON.stringify(report.checks.map((c) => [c.summary, c.fix, c.commands]));
  assert.ok(!advice.includes(t.applicationObjectId), "the App Registration's object id never appears in a summary, fix or command");
  return report;
}

function check(report: DoctorReport, id: CheckId): CheckResult {
  return report.checks.find((c) => c.id === id)!;
}

function statuses(report: DoctorReport): Record<string, string> {
  return Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
}

/** The Exchange-side commands with the token's oid, after a 535 5.7.3 with good claims. */
function assertExchangeSideCommands(c: CheckResult, t: BuiltTenant): void {
  const oid = t.servicePrincipalObjectId;
  for (const expected of [
    `Connect-ExchangeOnline -Organization ${t.tenantId}`,
    `New-ServicePrincipal -AppId ${t.clientId} -ObjectId ${oid} -DisplayName "Mailgate"`,
    `Add-MailboxPermission -Identity ${t.authorizedFrom} -User ${oid} -AccessRights FullAccess`,
    `Get-ServicePrincipal | Where-Object AppId -eq ${t.clientId} | Format-List`,
  ]) assert.ok(c.commands?.includes(expected), `missing "${expected}" in:\n${c.commands?.join('\n')}`);
  assert.ok(c.fix!.includes(oid));
  assert.ok(!JSON.stringify(c).includes(t.applicationObjectId));
}

test('a correct tenant: every check passes, including a test message', async () => {
  const t = tenant();
  const report = await doctor(t, {}, { to: 'someone@example.com' });
  assert.deepEqual(statuses(report), { settings: 'pass', dns: 'pass', tcp: 'pass', starttls: 'pass', token: 'pass', 'token-claims': 'pass', 'smtp-auth': 'pass', send: 'pass' });
  assert.equal(report.ok, true);
  const claims = check(report, 'token-claims');
  assert.equal(claims.details!.oid, t.servicePrincipalObjectId);
  assert.equal(claims.details!.appid, t.clientId);
  assert.equal(claims.details!.tid, t.tenantId);
  assert.deepEqual(claims.details!.roles, ['SMTP.SendAsApp']);
  assert.equal(check(report, 'starttls').details!.protocol === 'TLSv1.2' || check(report, 'starttls').details!.protocol === 'TLSv1.3', true);
  const sent = fixture.emu.messages().find((m) => m.messageId === check(report, 'send').details!.messageId);
  assert.ok(sent, 'the emulator stored the test message');
  assert.equal(sent.subject, 'Mailgate doctor test message');
});

test('without --to the send check is skipped and the run is still ok', async () => {
  const t = tenant();
  const report = await doctor(t);
  assert.equal(check(report, 'send').status, 'skip');
  assert.equal(report.ok, true);
});

test('no admin consent: token-claims warns (no roles, portal path), smtp-auth fails with the consent fix', async () => {
  const t = tenant({ consentedRoles: [] });
  const report = await doctor(t);
  const claims = check(report, 'token-claims');
  assert.equal(claims.status, 'warn');
  assert.deepEqual(claims.details!.roles, []);
  assert.match(claims.summary, /no roles at all: admin consent for SMTP\.SendAsApp was not granted or the permission is missing/);
  const auth = check(report, 'smtp-auth');
  assert.equal(auth.status, 'fail');
  assert.match(auth.details!.reply as string, /^535 5\.7\.3 /);
  assert.ok(auth.fix!.includes(`App registrations → the app ${t.clientId} → API permissions → Add a permission → APIs my organization uses → Office 365 Exchange Online → Application permissions → SMTP.SendAsApp`));
  assert.ok(auth.fix!.includes('Grant admin consent'));
  assert.ok(auth.commands!.some((c) => c.includes(`-App ${t.servicePrincipalObjectId}`)), 'the RBAC alternative uses the oid');
  assert.equal(report.ok, false);
});

test('service principal never registered: smtp-auth fails with New-ServicePrincipal carrying the oid', async () => {
  const t = tenant({ exchangeServicePrincipal: 'missing' });
  const report = await doctor(t);
  assert.equal(check(report, 'token-claims').status, 'pass');
  const auth = check(report, 'smtp-auth');
  assert.equal(auth.status, 'fail');
  assert.match(auth.summary, /535 5\.7\.3.*token is right/);
  assertExchangeSideCommands(auth, t);
  assert.match(auth.fix!, /1\. The service principal is not registered/);
});

test("service principal registered with the App Registration's object id: the fix names the Enterprise Applications Object ID (the oid)", async () => {
  const t = tenant({ exchangeServicePrincipal: 'applicationObjectId' });
  const report = await doctor(t);
  const auth = check(report, 'smtp-auth');
  assert.equal(auth.status, 'fail');
  assertExchangeSideCommands(auth, t);
  assert.match(auth.fix!, /Object ID from App registrations instead of the Object ID from Enterprise applications/);
  assert.match(auth.fix!, /Remove-ServicePrincipal/);
});

test('no FullAccess on the mailbox: Add-MailboxPermission with the oid', async () => {
  const t = tenant({ fullAccess: false });
  const report = await doctor(t);
  const auth = check(report, 'smtp-auth');
  assert.equal(auth.status, 'fail');
  assertExchangeSideCommands(auth, t);
  assert.match(auth.fix!, /3\. The service principal has no FullAccess on mailbox/);
});

test('SMTP AUTH disabled for the tenant: Set-CASMailbox for the mailbox, Set-TransportConfig as the alternative', async () => {
  const t = tenant({ tenantSmtpAuthDisabled: true });
  const report = await doctor(t);
  const auth = check(report, 'smtp-auth');
  assert.equal(auth.status, 'fail');
  assert.match(auth.details!.reply as string, /^535 5\.7\.139 .*disabled for the Tenant/);
  assert.ok(auth.commands!.includes(`Set-CASMailbox -Identity ${t.authorizedFrom} -SmtpClientAuthenticationDisabled $false`));
  assert.ok(auth.commands!.some((c) => c.startsWith('Set-TransportConfig -SmtpClientAuthenticationDisabled $false')));
  assert.ok(auth.commands!.includes(`Connect-ExchangeOnline -Organization ${t.tenantId}`));
});

test('SMTP AUTH disabled for the mailbox: Set-CASMailbox', async () => {
  const t = tenant({ mailboxSmtpAuthDisabled: true });
  const report = await doctor(t);
  const auth = check(report, 'smtp-auth');
  assert.equal(auth.status, 'fail');
  assert.match(auth.details!.reply as string, /disabled for the Mailbox/);
  assert.ok(auth.commands!.includes(`Set-CASMailbox -Identity ${t.authorizedFrom} -SmtpClientAuthenticationDisabled $false`));
});

test('wrong secret: token fails with AADSTS7000215 and the new-secret commands for the app', async () => {
  const t = tenant();
  const wrong = 'xyz8Q~thisIsNotTheSecret_0123456789abcdef';
  const report = await doctor(t, { clientSecret: wrong });
  const token = check(report, 'token');
  assert.equal(token.status, 'fail');
  assert.deepEqual(token.details!.aadsts, [7000215]);
  assert.equal(token.details!.diagnosis, 'aadsts-7000215');
  assert.ok(token.commands!.some((c) => c.includes(`az ad app credential reset --id ${t.clientId}`)));
  assert.deepEqual([check(report, 'token-claims').status, check(report, 'smtp-auth').status], ['skip', 'skip']);
  assert.ok(!JSON.stringify(report).includes(wrong));
});

test("the secret's ID instead of its value: settings warn, token fails AADSTS7000215 naming the Secret ID", async () => {
  const t = tenant();
  const report = await doctor(t, { clientSecret: t.secretId });
  assert.equal(check(report, 'settings').status, 'warn');
  assert.match(check(report, 'settings').fix!, /secret's ID, not its Value/);
  const token = check(report, 'token');
  assert.equal(token.status, 'fail');
  assert.deepEqual(token.details!.aadsts, [7000215]);
  assert.match(token.summary, /secret's ID, not its Value/);
});

test('expired secret: AADSTS7000222', async () => {
  const t = tenant({ secretExpires: '2024-01-01T00:00:00Z' });
  const report = await doctor(t);
  const token = check(report, 'token');
  assert.equal(token.status, 'fail');
  assert.deepEqual(token.details!.aadsts, [7000222]);
  assert.match(token.summary, /has expired/);
  assert.ok(token.commands!.some((c) => c.includes(t.clientId)));
});

test('unknown tenant: AADSTS90002', async () => {
  const t = tenant();
  const other = '00000000-1111-2222-3333-444444444444';
  const report = await doctor(t, { tenantId: other });
  const token = check(report, 'token');
  assert.equal(token.status, 'fail');
  assert.deepEqual(token.details!.aadsts, [90002]);
  assert.match(token.summary, new RegExp(`Tenant ${other} was not found`));
});

test('unknown client id: AADSTS700016, with the app lookup for that id', async () => {
  const t = tenant();
  const other = 'aaaaaaaa-1111-2222-3333-444444444444';
  const report = await doctor(t, { clientId: other });
  const token = check(report, 'token');
  assert.equal(token.status, 'fail');
  assert.deepEqual(token.details!.aadsts, [700016]);
  assert.ok(token.commands!.some((c) => c.includes(`az ad sp show --id ${other}`)));
});

test('Send As denied (library with a different From): send fails with Add-RecipientPermission', async () => {
  const from = 'sales@contoso.onmicrosoft.com';
  const t = tenant({ extraMailboxes: [{ address: from }] });
  const report = await doctor(t, {}, { to: 'someone@example.com', from });
  assert.equal(check(report, 'smtp-auth').status, 'pass');
  const send = check(report, 'send');
  assert.equal(send.status, 'fail');
  assert.match(send.details!.reply as string, /^554 5\.2\.252 SendAsDenied/);
  assert.ok(send.commands!.includes(`Add-RecipientPermission -Identity ${from} -Trustee ${t.authorizedFrom} -AccessRights SendAs`));
  assert.equal(send.details!.from, from);
  assert.equal(check(report, 'send-as').status, 'fail');
  assert.ok(check(report, 'send-as').commands!.includes(`Add-RecipientPermission -Identity ${from} -Trustee ${t.authorizedFrom} -AccessRights SendAs`));
});

test('Send As granted: the same From is accepted', async () => {
  const from = 'sales@contoso.onmicrosoft.com';
  const base = buildTenantState();
  const t = tenant({
    tenantId: base.tenantId, appId: base.clientId, servicePrincipalObjectId: base.servicePrincipalObjectId, clientSecret: base.clientSecret,
    extraMailboxes: [{ address: from, sendAs: [base.authorizedFrom, base.servicePrincipalObjectId] }],
  });
  const report = await doctor(t, {}, { to: 'someone@example.com', from });
  assert.equal(check(report, 'send').status, 'pass', JSON.stringify(check(report, 'send')));
});

test('a Graph scope: token-claims fails ("the scope asks for Graph"), smtp-auth is skipped', async () => {
  const t = tenant({ consentedRoles: ['SMTP.SendAsApp', 'Mail.Send'] });
  const report = await doctor(t, { scope: 'https://graph.microsoft.com/.default' });
  assert.equal(check(report, 'settings').status, 'warn');
  const claims = check(report, 'token-claims');
  assert.equal(claims.status, 'fail');
  assert.match(claims.summary, /the scope asks for Graph/);
  assert.equal(check(report, 'smtp-auth').status, 'skip');
});

test('nothing listening on the port: tcp fails fast with Test-NetConnection for that host and port', async () => {
  const t = tenant();
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const started = Date.now();
  const report = await doctor(t, { smtpPort: String(port) });
  assert.ok(Date.now() - started < 10_000);
  const tcp = check(report, 'tcp');
  assert.equal(tcp.status, 'fail');
  assert.equal(tcp.details!.errno, 'ECONNREFUSED');
  assert.ok(tcp.commands!.includes(`Test-NetConnection -ComputerName 127.0.0.1 -Port ${port}`));
  assert.deepEqual([check(report, 'starttls').status, check(report, 'smtp-auth').status], ['skip', 'skip']);
  assert.equal(check(report, 'token').status, 'pass', 'the token is still checked');
});

test('a port that accepts but never greets: starttls fails with the greeting timeout', async () => {
  const t = tenant();
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    const report = await doctor(t, { smtpPort: String(port) }, { timeoutMs: 600 });
    assert.equal(check(report, 'tcp').status, 'pass');
    const starttls = check(report, 'starttls');
    assert.equal(starttls.status, 'fail');
    assert.equal(starttls.details!.error, 'GREETING_TIMEOUT');
    assert.match(starttls.summary, /accepted the TCP connection but sent no SMTP greeting within 0\.6 s/);
    assert.equal(starttls.details!.diagnosis, 'greeting-timeout');
    assert.equal(check(report, 'smtp-auth').status, 'skip');
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  }
});

test('Basic authentication that still works: token checks skipped, smtp-auth warns about December 2026', async () => {
  const password = 'Summer-2026-long-password!';
  const t = tenant({ basicAuthPassword: password });
  const report = await runDoctor(
    { useModernAuth: 'false', authorizedFrom: t.authorizedFrom, smtpUsername: t.authorizedFrom, smtpPassword: password, smtpHost: fixture.emu.smtp.host, smtpPort: String(fixture.emu.smtp.port) },
    { ca: fixture.emu.caPem },
  );
  assert.deepEqual(statuses(report), { settings: 'warn', dns: 'pass', tcp: 'pass', starttls: 'pass', token: 'skip', 'token-claims': 'skip', 'smtp-auth': 'warn', send: 'skip' });
  assert.match(check(report, 'smtp-auth').summary, /December 2026/);
  assert.equal(report.ok, true);
  assert.ok(!JSON.stringify(report).includes(password));
});

test('Basic authentication turned off by the tenant: smtp-auth fails with the switch-to-OAuth fix', async () => {
  const t = tenant();
  const password = 'Summer-2026-long-password!';
  const report = await runDoctor(
    { useModernAuth: 'false', authorizedFrom: t.authorizedFrom, smtpUsername: t.authorizedFrom, smtpPassword: password, smtpHost: fixture.emu.smtp.host, smtpPort: String(fixture.emu.smtp.port) },
    { ca: fixture.emu.caPem },
  );
  const auth = check(report, 'smtp-auth');
  assert.equal(auth.status, 'fail');
  assert.match(auth.details!.reply as string, /basic authentication is disabled/);
  assert.match(auth.fix!, /Use modern SMTP Authentication/);
  assert.ok(!JSON.stringify(report).includes(password));
});

test('an untrusted server certificate (no CA given): starttls and token fail on TLS, no credential sent', async () => {
  const t = tenant();
  const report = await runDoctor(rawFor(t), { timeoutMs: 3000 });
  assert.equal(check(report, 'starttls').status, 'fail');
  assert.equal(check(report, 'starttls').details!.error, 'TLS_FAILED');
  assert.equal(check(report, 'token').status, 'fail');
  assert.equal(check(report, 'smtp-auth').status, 'skip');
});

test('a certificate credential: the token check passes with the certificate; one not uploaded fails (AADSTS700027)', async () => {
  const cert = await createClientCertificate();
  const pem = `${cert.certPem}\n${cert.privateKeyPem}`;
  const t = tenant({ certificates: [cert] });
  const report = await doctor(t, { clientSecret: '', clientCertificatePem: pem });
  assert.equal(check(report, 'settings').details!.credential, 'certificate');
  assert.equal(check(report, 'settings').details!.certificateThumbprintSha256, cert.thumbprintSha256);
  assert.equal(check(report, 'token').status, 'pass');
  assert.equal(check(report, 'smtp-auth').status, 'pass');
  assert.ok(!JSON.stringify(report).includes('PRIVATE KEY'));

  const other = await createClientCertificate();
  const wrong = await doctor(t, { clientSecret: '', clientCertificatePem: `${other.certPem}\n${other.privateKeyPem}` });
  const token = check(wrong, 'token');
  assert.equal(token.status, 'fail');
  assert.deepEqual(token.details!.aadsts, [700027]);
  assert.ok(!JSON.stringify(wrong).includes('PRIVATE KEY'));
});

test('set-up B (RBAC for Applications, no SMTP.SendAsApp consent, no FullAccess): sign-in passes and the claims check says why no role is fine', async () => {
  const t = tenant({ consentedRoles: [], fullAccess: false, rbacMailboxes: null });
  const report = await doctor(t);
  assert.equal(check(report, 'smtp-auth').status, 'pass');
  assert.equal(report.ok, true);
  assert.match(JSON.stringify(check(report, 'token-claims')), /RBAC|set-up B/i);
});

test('set-up B with a management scope that does not cover the mailbox: smtp-auth fails', async () => {
  const t = tenant({ consentedRoles: [], fullAccess: false, rbacMailboxes: ['other@contoso.onmicrosoft.com'] });
  const report = await doctor(t);
  assert.equal(check(report, 'smtp-auth').status, 'fail');
  assert.equal(report.ok, false);
});
