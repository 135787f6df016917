/**
 * Unit tests of the doctor's pure decision functions (no network): settings, dns, tcp,
 * starttls, token, token-claims (audiences, tenant, roles, the set-up B settlement), smtp-auth
 * (which fix and which commands for which 535), send, the text rendering and the final scrub.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailgateError, parseSmtpReply } from '../../src/core/errors.js';
import { asMailgateError } from '../../src/core/internal-error.js';
import { parseSettings, type EmailSettings } from '../../src/core/settings.js';
import { decideSettings, extraSettingsWarnings } from '../../src/doctor/checks/settings-check.js';
import { decideDns } from '../../src/doctor/checks/dns-check.js';
import { decideTcp } from '../../src/doctor/checks/tcp-check.js';
import { decideStarttls } from '../../src/doctor/checks/starttls-check.js';
import { decideToken } from '../../src/doctor/checks/token-check.js';
import { decideTokenClaims, exchangeAudiences, settleRolesWarning } from '../../src/doctor/checks/token-claims-check.js';
import { decideSmtpAuth, type SmtpAuthObservation } from '../../src/doctor/checks/smtp-auth-check.js';
import { decideSend } from '../../src/doctor/checks/send-check.js';
import { contextFor as doctorContext } from '../../src/core/diagnosis/index.js';
import { renderReport } from '../../src/doctor/render-report.js';
import { runDoctor, scrubReport, validateDoctorOptions } from '../../src/doctor/run-doctor.js';
import { Secret } from '../../src/core/secret.js';
import type { DoctorReport } from '../../src/doctor/types.js';

const CLIENT = '11111111-2222-3333-4444-555555555555';
const TENANT = '99999999-8888-7777-6666-555555555555';
const OID = '6d000000-aaaa-bbbb-cccc-000000000001';
const APP_OBJECT_ID = 'a0000000-aaaa-bbbb-cccc-000000000002';
const MAILBOX = 'noreply@contoso.onmicrosoft.com';
const SECRET = 'abc8Q~DEF_ghi.jkl-MNOpqrSTUvwxYZ0123456789';
const RAW = { clientId: CLIENT, tenantId: TENANT, clientSecret: SECRET, authorizedFrom: MAILBOX };

function settings(extra: Record<string, unknown> = {}): EmailSettings {
  const r = parseSettings({ ...RAW, ...extra });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.settings;
}

const baseClaims = (over: Record<string, unknown> = {}) => ({
  aud: 'https://outlook.office365.com',
  iss: `https://sts.windows.net/${TENANT}/`,
  tid: TENANT,
  oid: OID,
  appid: CLIENT,
  idtyp: 'app',
  roles: ['SMTP.SendAsApp'],
  ...over,
});

// ---- settings ----

test('settings: every problem is listed and the check fails', () => {
  const r = decideSettings(parseSettings({ clientId: 'nope', authorizedFrom: 'bad' }), undefined, Date.now());
  assert.equal(r.status, 'fail');
  const keys = (r.details!.problems as { key: string }[]).map((p) => p.key).sort();
  assert.deepEqual(keys, ['authorizedFrom', 'clientId', 'clientSecret', 'tenantId']);
  assert.match(r.fix!, /MAILGATE_CLIENT_ID/);
  assert.match(r.summary, /4 settings are missing or invalid/);
});

test('settings: a GUID as client secret is a warning (Secret ID, not Value)', () => {
  const r = decideSettings(parseSettings({ ...RAW, clientSecret: '0f0f0f0f-1111-2222-3333-444444444444' }), undefined, Date.now());
  assert.equal(r.status, 'warn');
  assert.match(r.fix!, /secret's ID, not its Value/);
  assert.equal(r.details!.clientSecretSet, true);
  assert.ok(!JSON.stringify(r).includes('0f0f0f0f-1111'), 'the secret value itself is never shown');
});

test('settings: Basic authentication passes with the December 2026 warning', () => {
  const r = decideSettings(parseSettings({ useModernAuth: 'false', authorizedFrom: MAILBOX, smtpUsername: MAILBOX, smtpPassword: 'hunter2-long-password' }), undefined, Date.now());
  assert.equal(r.status, 'warn');
  assert.match(r.fix!, /December 2026/);
  assert.equal(r.details!.authentication, 'basic (username and password)');
  assert.ok(!JSON.stringify(r).includes('hunter2'));
});

test('settings: a Graph scope and an unusual scope are warnings', () => {
  assert.match(extraSettingsWarnings(settings({ scope: 'https://graph.microsoft.com/.default' }), undefined, Date.now())[0]!.message, /Microsoft Graph scope/);
  assert.match(extraSettingsWarnings(settings({ scope: 'https://outlook.office.com/.default' }), undefined, Date.now())[0]!.message, /not the Global cloud's SMTP scope/);
  assert.deepEqual(extraSettingsWarnings(settings(), undefined, Date.now()), []);
});

test('settings: a certificate that expires soon warns, an expired one too', () => {
  const now = Date.now();
  const soon = extraSettingsWarnings(settings(), { ok: true, notAfter: new Date(now + 5 * 86400_000), thumbprintSha256: 'ab' }, now);
  assert.match(soon[0]!.message, /expires in 5 day/);
  const past = extraSettingsWarnings(settings(), { ok: true, notAfter: new Date(now - 86400_000), thumbprintSha256: 'ab' }, now);
  assert.match(past[0]!.message, /expired on .+ UTC: every token request with it is refused/);
});

test('settings: all valid passes and names the mode, cloud and endpoint', () => {
  const r = decideSettings(parseSettings(RAW), undefined, Date.now());
  assert.equal(r.status, 'pass');
  assert.match(r.summary, /OAuth2, Global cloud, smtp\.office365\.com:587/);
});

// ---- dns, tcp, starttls ----

test('dns: an unresolvable SMTP host fails with Resolve-DnsName for that host', () => {
  const s = settings();
  const r = decideDns(
    [
      { role: 'smtp', host: 'smtp.office365.com', error: 'ENOTFOUND' },
      { role: 'authority', host: 'login.microsoftonline.com', addresses: ['20.190.0.1'] },
    ],
    doctorContext(s),
  );
  assert.equal(r.status, 'fail');
  assert.match(r.summary, /SMTP Client Server smtp\.office365\.com does not resolve \(ENOTFOUND\)/);
  assert.ok(r.commands!.some((c) => c.includes('smtp.office365.com')));
});

test('tcp: a timeout blames a firewall or proxy and gives Test-NetConnection with the real host and port', () => {
  const s = settings();
  const r = decideTcp({ ok: false, host: 'smtp.office365.com', port: 587, ms: 3000, timeoutMs: 3000, code: 'ETIMEDOUT' }, doctorContext(s));
  assert.equal(r.status, 'fail');
  assert.match(r.summary, /within 3 s: outbound port 587 is most likely blocked by a firewall or proxy/);
  assert.ok(r.commands!.includes('Test-NetConnection -ComputerName smtp.office365.com -Port 587'));
  assert.equal(r.details!.diagnosis, 'connect-timeout');
});

test('tcp: a refused connection says nothing listens', () => {
  const r = decideTcp({ ok: false, host: '127.0.0.1', port: 2525, ms: 1, timeoutMs: 3000, code: 'ECONNREFUSED' }, doctorContext(settings({ smtpHost: '127.0.0.1', smtpPort: 2525 })));
  assert.match(r.summary, /refused/);
  assert.ok(r.commands!.includes('Test-NetConnection -ComputerName 127.0.0.1 -Port 2525'));
});

test('starttls: a greeting timeout explains the silent server', () => {
  const error = new MailgateError({ code: 'GREETING_TIMEOUT', phase: 'connect', message: 'no greeting', context: { host: 'mail.example.com', port: 587 } });
  const r = decideStarttls({ ok: false, ms: 1500, implicitTls: false, error, greetingTimeoutMs: 1500 }, doctorContext(settings({ smtpHost: 'mail.example.com' })), 'xoauth2');
  assert.equal(r.status, 'fail');
  assert.match(r.summary, /accepted the TCP connection but sent no SMTP greeting within 1\.5 s/);
  assert.equal(r.details!.error, 'GREETING_TIMEOUT');
});

test('starttls: a server that does not offer XOAUTH2 after TLS is a warning', () => {
  const r = decideStarttls({ ok: true, ms: 10, implicitTls: false, tls: { protocol: 'TLSv1.3' }, authMechanisms: ['LOGIN'] }, doctorContext(settings()), 'xoauth2');
  assert.equal(r.status, 'warn');
  assert.match(r.fix!, /does not offer AUTH XOAUTH2/);
});

// ---- token ----

test('token: an unexpected error fails the check with its own words in the details, never a bare "internal error"', () => {
  const s = settings();
  const error = asMailgateError(new TypeError("Cannot read properties of undefined (reading 'access_token')"), 'The token request', 'token');
  const r = decideToken({ ok: false, error, ms: 5 }, s, doctorContext(s));
  assert.equal(r.status, 'fail');
  assert.equal(r.details?.error, 'INTERNAL');
  assert.match(String(r.details?.message), /The token request failed unexpectedly \(TypeError: Cannot read properties of undefined \(reading 'access_token'\)\)/);
});

test('token: a GUID secret refused with AADSTS7000215 says it is the Secret ID', () => {
  const s = settings({ clientSecret: '0f0f0f0f-1111-2222-3333-444444444444' });
  const error = new MailgateError({ code: 'TOKEN_REJECTED', phase: 'token', message: 'x', token: { status: 401, error: 'invalid_client', aadsts: [7000215], description: 'AADSTS7000215: Invalid client secret provided.' } });
  const r = decideToken({ ok: false, error, ms: 5 }, s, doctorContext(s));
  assert.equal(r.status, 'fail');
  assert.match(r.summary, /Client Secret is a GUID, which is the secret's ID, not its Value/);
  assert.deepEqual(r.details!.aadsts, [7000215]);
  assert.equal(r.details!.diagnosis, 'aadsts-7000215');
});

// ---- token-claims ----

test('token-claims: the three Exchange audiences are accepted, with the oid reported', () => {
  const s = settings();
  for (const aud of ['https://outlook.office365.com', 'https://ps.outlook.com/', '00000002-0000-0ff1-ce00-000000000000']) {
    const d = decideTokenClaims(baseClaims({ aud }), s, doctorContext(s));
    assert.equal(d.check.status, 'pass', aud);
    assert.equal(d.good, true);
    assert.equal(d.oid, OID);
    assert.equal(d.check.details!.oid, OID);
    assert.equal(d.check.details!.appid, CLIENT);
  }
});

test('token-claims: national clouds accept their own Exchange host', () => {
  assert.ok(exchangeAudiences('gcc-high').includes('https://outlook.office365.us'));
  assert.ok(exchangeAudiences('china').includes('https://partner.outlook.cn'));
  const s = settings({ cloud: 'gcc-high' });
  assert.equal(decideTokenClaims(baseClaims({ aud: 'https://outlook.office365.us' }), s, doctorContext(s)).check.status, 'pass');
});

test('token-claims: a Graph audience fails clearly: the scope asks for Graph', () => {
  const s = settings({ scope: 'https://graph.microsoft.com/.default' });
  const d = decideTokenClaims(baseClaims({ aud: 'https://graph.microsoft.com', roles: ['Mail.Send'] }), s, doctorContext(s));
  assert.equal(d.check.status, 'fail');
  assert.match(d.check.summary, /the scope asks for Graph/);
  assert.match(d.check.fix!, /https:\/\/outlook\.office365\.com\/\.default/);
});

test('token-claims: another tenant fails; a domain tenant only reports the tid', () => {
  const s = settings();
  const other = decideTokenClaims(baseClaims({ tid: '12345678-0000-0000-0000-000000000000' }), s, doctorContext(s));
  assert.equal(other.check.status, 'fail');
  assert.match(other.check.summary, /issued by tenant 12345678-/);
  const byDomain = settings({ tenantId: 'contoso.onmicrosoft.com' });
  const ok = decideTokenClaims(baseClaims(), byDomain, doctorContext(byDomain));
  assert.equal(ok.check.status, 'pass');
  assert.match(ok.check.summary, new RegExp(`tenant ${TENANT} \\(contoso\\.onmicrosoft\\.com\\)`));
});

test('token-claims: no roles is a warning naming consent and the exact portal path (set-up B is legitimate)', () => {
  const s = settings();
  const { roles: _r, ...noRoles } = baseClaims();
  const d = decideTokenClaims(noRoles, s, doctorContext(s));
  assert.equal(d.check.status, 'warn');
  assert.equal(d.good, false);
  assert.deepEqual(d.roles, []);
  assert.match(d.check.summary, /no roles at all: admin consent for SMTP\.SendAsApp was not granted or the permission is missing/);
  assert.ok(d.check.fix!.includes('API permissions → Add a permission → APIs my organization uses → Office 365 Exchange Online → Application permissions → SMTP.SendAsApp'));
  assert.ok(d.check.fix!.includes('Grant admin consent'));
  assert.ok(d.check.fix!.includes(CLIENT));
  assert.match(d.check.fix!, /RBAC for Applications/);
});

test('token-claims: settled as set-up B once SMTP AUTH succeeded; unchanged otherwise', () => {
  const s = settings();
  const d = decideTokenClaims(baseClaims({ roles: [] }), s, doctorContext(s));
  assert.equal(settleRolesWarning(d.check, false), d.check);
  const settled = settleRolesWarning(d.check, true);
  assert.equal(settled.status, 'pass');
  assert.match(settled.summary, /RBAC for Applications/);
  assert.equal(settled.details!.rolesMissing, undefined);
  const good = decideTokenClaims(baseClaims(), s, doctorContext(s)).check;
  assert.equal(settleRolesWarning(good, true), good);
});

test('token-claims: a token without oid fails (no service principal); an opaque token warns', () => {
  const s = settings();
  assert.equal(decideTokenClaims(baseClaims({ oid: undefined }), s, doctorContext(s)).check.status, 'fail');
  assert.equal(decideTokenClaims(undefined, s, doctorContext(s)).check.status, 'warn');
});

// ---- smtp-auth ----

function authFailure(reply: string, user = MAILBOX): SmtpAuthObservation {
  const error = new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: 'x', smtp: parseSmtpReply(reply, 'AUTH XOAUTH2') });
  return { ok: false, error, ms: 5, user, mode: 'xoauth2' };
}

test('smtp-auth: 535 5.7.3 with good claims lists the Exchange-side causes in order, with the oid in every command', () => {
  const s = settings();
  const ctx = doctorContext(s, { oid: OID, roles: ['SMTP.SendAsApp'] });
  const r = decideSmtpAuth(authFailure('535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]'), ctx, { good: true, roles: ['SMTP.SendAsApp'] });
  assert.equal(r.status, 'fail');
  const fix = r.fix!;
  const i1 = fix.indexOf('not registered');
  const i2 = fix.indexOf('Object ID from App registrations instead of the Object ID from Enterprise applications');
  const i3 = fix.indexOf('no FullAccess');
  assert.ok(i1 > 0 && i2 > i1 && i3 > i2, fix);
  assert.ok(fix.includes(`token's oid, ${OID}`));
  for (const c of [
    `Connect-ExchangeOnline -Organization ${TENANT}`,
    `New-ServicePrincipal -AppId ${CLIENT} -ObjectId ${OID} -DisplayName "Mailgate"`,
    `Add-MailboxPermission -Identity ${MAILBOX} -User ${OID} -AccessRights FullAccess`,
    `Get-ServicePrincipal | Where-Object AppId -eq ${CLIENT} | Format-List`,
  ]) assert.ok(r.commands!.includes(c), `missing: ${c}\n${r.commands!.join('\n')}`);
  assert.ok(!JSON.stringify(r).includes(APP_OBJECT_ID));
});

test('smtp-auth: 535 5.7.3 without roles leads with the consent path', () => {
  const s = settings();
  const ctx = doctorContext(s, { oid: OID, roles: [] });
  const r = decideSmtpAuth(authFailure('535 5.7.3 Authentication unsuccessful'), ctx, { good: false, roles: [] });
  assert.match(r.summary, /no SMTP\.SendAsApp role/);
  assert.ok(r.fix!.split('\n')[0]!.includes('Office 365 Exchange Online → Application permissions → SMTP.SendAsApp'));
  assert.ok(r.commands!.some((c) => c.includes(`-Role "Application SMTP.SendAsApp" -App ${OID}`)));
});

test('smtp-auth: 535 5.7.139 for the tenant gives Set-CASMailbox and the Set-TransportConfig alternative', () => {
  const s = settings();
  const r = decideSmtpAuth(
    authFailure('535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.'),
    doctorContext(s, { oid: OID }),
    { good: true, roles: ['SMTP.SendAsApp'] },
  );
  assert.ok(r.commands!.includes(`Set-CASMailbox -Identity ${MAILBOX} -SmtpClientAuthenticationDisabled $false`));
  assert.ok(r.commands!.some((c) => c.startsWith('Set-TransportConfig -SmtpClientAuthenticationDisabled $false')));
});

test('smtp-auth: a password sign-in passes with the Basic-auth retirement warning', () => {
  const s = settings();
  const r = decideSmtpAuth({ ok: true, session: undefined as never, ms: 5, user: MAILBOX, mode: 'password' }, doctorContext(s), undefined);
  assert.equal(r.status, 'warn');
  assert.match(r.summary, /December 2026/);
});

// ---- send ----

test('send: a Send As denial gives Add-RecipientPermission with From and the authorized mailbox', () => {
  const s = settings();
  const from = 'sales@contoso.onmicrosoft.com';
  const error = new MailgateError({
    code: 'SMTP_REJECTED', phase: 'send', message: 'x',
    smtp: parseSmtpReply(`554 5.2.252 SendAsDenied; ${MAILBOX} not allowed to send as ${from}; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied`, 'DATA'),
  });
  const r = decideSend({ ok: false, ms: 3, from, to: 'x@example.com', error }, doctorContext(s, { from, oid: OID }));
  assert.equal(r.status, 'fail');
  assert.ok(r.commands!.includes(`Add-RecipientPermission -Identity ${from} -Trustee ${MAILBOX} -AccessRights SendAs`));
});

// ---- report plumbing ----

test('scrubReport removes secrets, JWTs and XOAUTH2 strings from every text', () => {
  const jwt = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL291dGxvb2sifQ.c2lnbmF0dXJlc2lnbmF0dXJl';
  const report: DoctorReport = {
    ok: false,
    checks: [{ id: 'token', status: 'fail', summary: `secret ${SECRET} token ${jwt}`, details: { nested: [`AUTH XOAUTH2 ${Buffer.from('user=x\x01auth=Bearer y').toString('base64')}`], s: new Secret('zzzzzz') } }],
  };
  const text = JSON.stringify(scrubReport(report, [SECRET]));
  assert.ok(!text.includes(SECRET));
  assert.ok(!text.includes('eyJ0eXAi'));
  assert.ok(!text.includes('dXNlcj14'));
  assert.match(text, /\[redacted\]/);
});

test('renderReport: one line per check with a mark, then the fixes; colour only when asked', () => {
  const report: DoctorReport = {
    ok: false,
    checks: [
      { id: 'settings', status: 'pass', summary: 'ok' },
      { id: 'smtp-auth', status: 'fail', summary: 'refused', fix: 'step one\nstep two', commands: ['Connect-ExchangeOnline -Organization x'] },
      { id: 'send', status: 'skip', summary: 'Skipped: no recipient' },
    ],
  };
  const text = renderReport(report);
  assert.match(text, /^✓ pass  settings +ok$/m);
  assert.match(text, /^✗ FAIL  smtp-auth +refused$/m);
  assert.match(text, /^- skip  send +Skipped/m);
  assert.match(text, /How to fix:\n\n✗ smtp-auth\n  step one\n  step two\n  Commands:\n    Connect-ExchangeOnline/);
  assert.ok(!text.includes('\x1b['));
  assert.ok(renderReport(report, { color: true }).includes('\x1b[31m'));
});

test('options: a bad --to or timeout is an argument error; invalid settings are a failed check', async () => {
  assert.throws(() => validateDoctorOptions({ to: 'not an address' }), (e: MailgateError) => e.code === 'ARGUMENT_INVALID' && e.problems![0]!.key === 'to');
  assert.throws(() => validateDoctorOptions({ timeoutMs: 0 }), (e: MailgateError) => e.code === 'ARGUMENT_INVALID');
  await assert.rejects(runDoctor(RAW, { to: 'x@y\r\nBcc: z@w' }), (e: MailgateError) => e.phase === 'arguments');
  const report = await runDoctor({ clientId: 'nope' });
  assert.equal(report.ok, false);
  assert.deepEqual(report.checks.map((c) => [c.id, c.status]), [
    ['settings', 'fail'], ['dns', 'skip'], ['tcp', 'skip'], ['starttls', 'skip'], ['token', 'skip'], ['token-claims', 'skip'], ['smtp-auth', 'skip'], ['send', 'skip'],
  ]);
});

test('dns failure (injected lookup) skips tcp, starttls, token and smtp-auth', async () => {
  const lookup = async () => {
    throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
  };
  const report = await runDoctor(RAW, { lookup, timeoutMs: 1000 });
  const status = Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
  assert.deepEqual(status, { settings: 'pass', dns: 'fail', tcp: 'skip', starttls: 'skip', token: 'skip', 'token-claims': 'skip', 'smtp-auth': 'skip', send: 'skip' });
  assert.ok(!JSON.stringify(report).includes(SECRET));
});

test('runDoctor takes typed EmailSettings (with Secret values) as well as raw values', async () => {
  const lookup = async () => {
    throw Object.assign(new Error('nope'), { code: 'EAI_AGAIN' });
  };
  const typed = settings();
  assert.ok(typed.clientSecret instanceof Secret);
  const report = await runDoctor(typed, { lookup, timeoutMs: 1000 });
  assert.equal(report.checks[0]!.status, 'pass');
  assert.equal(report.checks[1]!.status, 'fail');
  assert.match(report.checks[1]!.summary, /EAI_AGAIN/);
  assert.ok(!JSON.stringify(report).includes(SECRET));
});
