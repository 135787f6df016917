/**
 * End-to-end: `mailgate send --json` as a child process against the Microsoft 365 emulator,
 * over real sockets and real TLS (the emulator's CA trusted through NODE_EXTRA_CA_CERTS),
 * for the success path and every failure an administrator meets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { runCli, singleJson } from '../helpers/cli.js';

const fixture = useEmulatedTenants({ tokenLifetimeSeconds: 3599 });
const { tenant, envFor } = fixture;

const SEND = ['send', '--to', 'someone@example.com', '--subject', 'Password reset', '--text', 'Your code is 123456', '--json'];

async function failing(env: Record<string, string>, args = SEND) {
  const r = await runCli(args, env);
  const out = singleJson(r.stdout);
  assert.equal(out.ok, false, r.stdout);
  assert.equal(r.code, 1, 'a delivery failure exits 1 (and the process ends by itself)');
  return { r, error: out.error as Record<string, any> };
}

test('a correct tenant: the message is accepted (exit 0, one JSON object, stored by the emulator)', async () => {
  const t = tenant();
  const r = await runCli(SEND, envFor(t));
  assert.equal(r.code, 0, r.stderr);
  const out = singleJson(r.stdout);
  assert.equal(out.ok, true);
  assert.match(out.response, /^250 2\.0\.0 OK/);
  assert.match(out.messageId, /^<[^@]+@contoso\.onmicrosoft\.com>$/);
  const stored = fixture.emu.messages().find((m) => m.messageId === out.messageId);
  assert.ok(stored, 'the emulator stored the message');
  assert.equal(stored.subject, 'Password reset');
  assert.equal(fixture.emu.stats().tokenRequests, 1);
});

test('human output names the server reply', async () => {
  const t = tenant();
  const r = await runCli(SEND.slice(0, -1), envFor(t));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Accepted by 127\.0\.0\.1:\d+/);
  assert.match(r.stdout, /250 2\.0\.0 OK/);
});

test('wrong secret: AADSTS7000215, exit 1', async () => {
  const t = tenant();
  const { r, error } = await failing(envFor(t, { MAILGATE_CLIENT_SECRET: 'wrong~secret_value_0123456789abcdefghij' }));
  assert.equal(r.code, 1);
  assert.equal(error.code, 'TOKEN_REJECTED');
  assert.equal(error.phase, 'token');
  assert.equal(error.retryable, false);
  assert.match(error.reply, /^AADSTS7000215/);
  assert.equal(error.diagnosis.id, 'aadsts-7000215');
});

test("the secret's ID instead of its value: a warning, then AADSTS7000215", async () => {
  const t = tenant();
  const { r, error } = await failing(envFor(t, { MAILGATE_CLIENT_SECRET: t.secretId }));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /warning: .*secret's ID/);
  assert.equal(error.diagnosis.id, 'aadsts-7000215');
});

test('expired secret: AADSTS7000222', async () => {
  const t = tenant({ secretExpires: '2025-01-01T00:00:00Z' });
  const { error } = await failing(envFor(t));
  assert.equal(error.diagnosis.id, 'aadsts-7000222');
});

test('unknown tenant: AADSTS90002 (not an opaque MSAL discovery error)', async () => {
  const t = tenant();
  const { error } = await failing(envFor(t, { MAILGATE_TENANT_ID: '00000000-1111-2222-3333-444444444444' }));
  assert.equal(error.code, 'TOKEN_REJECTED');
  assert.match(error.reply, /^AADSTS90002/);
  assert.equal(error.diagnosis.id, 'aadsts-90002');
});

test('unknown client id: AADSTS700016', async () => {
  const t = tenant();
  const { error } = await failing(envFor(t, { MAILGATE_CLIENT_ID: 'aaaaaaaa-1111-2222-3333-444444444444' }));
  assert.equal(error.diagnosis.id, 'aadsts-700016');
});

test('no admin consent: 535 5.7.3, diagnosed as the missing SMTP.SendAsApp role', async () => {
  const t = tenant({ consentedRoles: [] });
  const { error } = await failing(envFor(t));
  assert.equal(error.code, 'AUTH_FAILED');
  assert.equal(error.phase, 'auth');
  assert.match(error.reply, /^535 5\.7\.3 Authentication unsuccessful/);
  assert.equal(error.diagnosis.id, 'smtp-535-5.7.3-no-role');
});

test('service principal registered with the App Registration object id: the fix carries the oid', async () => {
  const t = tenant({ exchangeServicePrincipal: 'applicationObjectId' });
  const { error } = await failing(envFor(t));
  assert.equal(error.diagnosis.id, 'smtp-535-5.7.3-exchange-side');
  const commands: string[] = error.diagnosis.commands;
  const nsp = commands.find((c) => c.startsWith('New-ServicePrincipal'));
  assert.ok(nsp, JSON.stringify(commands));
  assert.ok(nsp.includes(`-AppId ${t.clientId}`));
  assert.ok(nsp.includes(`-ObjectId ${t.servicePrincipalObjectId}`));
  assert.equal(JSON.stringify(error).includes(t.applicationObjectId), false, 'never the application object id');
  // The token was refused, dropped and a new one tried once: two tokens, two AUTH attempts.
  assert.equal(fixture.emu.stats().tokenRequests, 2);
  assert.equal(fixture.emu.stats().authFailures, 2);
});

test('service principal missing and no FullAccess: Exchange-side diagnosis with both commands', async () => {
  for (const opts of [{ exchangeServicePrincipal: 'missing' as const }, { fullAccess: false }]) {
    const t = tenant(opts);
    const { error } = await failing(envFor(t));
    assert.equal(error.diagnosis.id, 'smtp-535-5.7.3-exchange-side');
    const cmds = error.diagnosis.commands.join('\n');
    assert.ok(cmds.includes(`Add-MailboxPermission -Identity ${t.authorizedFrom} -User ${t.servicePrincipalObjectId} -AccessRights FullAccess`), cmds);
  }
});

test('SMTP AUTH disabled for the tenant and for the mailbox: 535 5.7.139 variants', async () => {
  let t = tenant({ tenantSmtpAuthDisabled: true });
  let { error } = await failing(envFor(t));
  assert.match(error.reply, /SmtpClientAuthentication is disabled for the Tenant/);
  assert.equal(error.diagnosis.id, 'smtp-535-5.7.139-tenant');
  assert.equal(fixture.emu.stats().tokenRequests, 1, 'a 5.7.139 is not a token problem: no second token');
  t = tenant({ mailboxSmtpAuthDisabled: true });
  ({ error } = await failing(envFor(t)));
  assert.equal(error.diagnosis.id, 'smtp-535-5.7.139-mailbox');
  assert.ok(error.diagnosis.commands.some((c: string) => c.includes(`Set-CASMailbox -Identity ${t.authorizedFrom} -SmtpClientAuthenticationDisabled $false`)));
});

test('token endpoint 503 with Retry-After: retried, then delivered', async () => {
  const t = tenant();
  fixture.emu.setFaults({ tokenError: { status: 503, retryAfterSeconds: 1, count: 1 } });
  const r = await runCli(SEND, envFor(t));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(fixture.emu.stats().tokenRequests, 2);
});

test('nothing listening on the port: CONNECT_FAILED, retryable, connection diagnosis', async () => {
  const t = tenant();
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const { r, error } = await failing(envFor(t, { MAILGATE_SMTP_PORT: String(port) }));
  assert.equal(r.code, 1);
  assert.equal(error.code, 'CONNECT_FAILED');
  assert.equal(error.phase, 'connect');
  assert.equal(error.retryable, true);
  assert.equal(error.diagnosis.id, 'connect-refused');
});

test('a server that accepts but never greets: GREETING_TIMEOUT', async () => {
  const t = tenant();
  const sockets: net.Socket[] = [];
  const srv = net.createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    const { error } = await failing(envFor(t, { MAILGATE_SMTP_PORT: String((srv.address() as net.AddressInfo).port) }));
    assert.equal(error.code, 'GREETING_TIMEOUT');
    assert.equal(error.diagnosis.id, 'greeting-timeout');
  } finally {
    sockets.forEach((s) => s.destroy());
    srv.close();
  }
});

test('untrusted server certificate: TLS_FAILED, no credential sent', async () => {
  const t = tenant();
  const env = envFor(t);
  delete (env as Record<string, string | undefined>).NODE_EXTRA_CA_CERTS;
  const { error } = await failing(env);
  // The token endpoint is reached first over HTTPS with the same untrusted CA.
  assert.ok(['TOKEN_UNAVAILABLE', 'TLS_FAILED'].includes(error.code), error.code);
  assert.equal(error.retryable, false);
  assert.equal(fixture.emu.stats().authSuccesses + fixture.emu.stats().authFailures, 0);
});

test('invalid settings: exit 2 with every problem, key and environment variable', async () => {
  const r = await runCli(SEND, { MAILGATE_CLIENT_ID: 'nope', MAILGATE_SMTP_PORT: '0' });
  assert.equal(r.code, 2);
  const out = singleJson(r.stdout);
  assert.equal(out.ok, false);
  assert.equal(out.error.phase, 'settings');
  assert.equal(out.error.code, 'SETTINGS_INVALID');
  const keys = out.error.problems.map((p: { key: string }) => p.key).sort();
  assert.deepEqual(keys, ['authorizedFrom', 'clientId', 'clientSecret', 'smtpPort', 'tenantId']);
  assert.equal(out.error.problems.find((p: { key: string }) => p.key === 'clientId').env, 'MAILGATE_CLIENT_ID');
});

test('header injection in the subject: exit 2, the field named, nothing sent', async () => {
  const t = tenant();
  const r = await runCli(['send', '--to', 'a@example.com', '--subject', 'Hi\r\nBcc: victim@example.com', '--text', 'x', '--json'], envFor(t));
  assert.equal(r.code, 2);
  const out = singleJson(r.stdout);
  assert.equal(out.error.code, 'ARGUMENT_INVALID');
  assert.equal(out.error.problems[0].key, 'subject');
  assert.equal(fixture.emu.stats().tokenRequests, 0, 'refused before any network call');
  assert.equal(fixture.emu.messages().filter((m) => m.subject?.includes('victim')).length, 0);
});

test('a malformed recipient and unknown options exit 2', async () => {
  const t = tenant();
  let r = await runCli(['send', '--to', 'not-an-address', '--subject', 's', '--text', 'x', '--json'], envFor(t));
  assert.equal(r.code, 2);
  assert.equal(singleJson(r.stdout).error.problems[0].key, 'to');
  r = await runCli(['send', '--bogus'], envFor(t));
  assert.equal(r.code, 2);
});

test('no secret, token or XOAUTH2 string in stdout or stderr at debug level, success and failure', async () => {
  const t = tenant();
  const env = envFor(t, { MAILGATE_LOG_LEVEL: 'debug' });
  const ok = await runCli(SEND.slice(0, -1), env);
  assert.equal(ok.code, 0, ok.stderr);
  const bad = tenant({ exchangeServicePrincipal: 'missing' });
  const fail = await runCli(SEND, { ...envFor(bad), MAILGATE_LOG_LEVEL: 'debug' });
  assert.equal(fail.code, 1);
  for (const out of [ok.stdout, ok.stderr, fail.stdout, fail.stderr]) {
    assert.equal(out.includes(t.clientSecret!), false);
    assert.equal(out.includes(bad.clientSecret!), false);
    assert.doesNotMatch(out, /eyJ[A-Za-z0-9_-]{10,}\.eyJ/, 'no JWT');
    assert.doesNotMatch(out, /dXNlcj1/, 'no base64 XOAUTH2 ("user=")');
    assert.doesNotMatch(out, /auth=Bearer/);
  }
});
