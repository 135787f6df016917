/**
 * End-to-end: `mailgate doctor` and `mailgate setup-script` as child processes against the
 * Microsoft 365 emulator, with MAILGATE_* settings and the emulator's CA trusted through
 * NODE_EXTRA_CA_CERTS (as an administrator would run them). Checks exit codes (0/1/2), exactly
 * one JSON object with --json, the human form, and that no secret or token is ever printed on
 * stdout or stderr, in either form, for passing and failing runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { runCli, singleJson, type CliResult } from '../helpers/cli.js';
import { CHECK_IDS } from '../../src/doctor/types.js';

const fixture = useEmulatedTenants();
const { tenant, envFor } = fixture;

/** Neither output of the process contains the secret, a token or an XOAUTH2 string. */
function assertNoSecrets(r: CliResult, secrets: string[]): void {
  const both = r.stdout + r.stderr;
  for (const s of secrets) assert.ok(!both.includes(s), 'a secret was printed');
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(both), 'a token was printed');
  assert.ok(!/dXNlcj[A-Za-z0-9+/=]{20,}/.test(both), 'an XOAUTH2 string was printed');
  assert.ok(!/Bearer\s+\S{20,}/.test(both), 'a bearer token was printed');
}

test('doctor --json on a correct tenant: exit 0, exactly one JSON object with every check passing', async () => {
  const t = tenant();
  const r = await runCli(['doctor', '--json', '--to', 'someone@example.com'], envFor(t));
  assert.equal(r.code, 0, r.stderr);
  const report = singleJson(r.stdout);
  assert.equal(report.ok, true);
  assert.deepEqual(report.checks.map((c: { id: string }) => c.id), [...CHECK_IDS]);
  assert.ok(report.checks.every((c: { status: string }) => c.status === 'pass'), r.stdout);
  assert.equal(report.checks.find((c: { id: string }) => c.id === 'token-claims').details.oid, t.servicePrincipalObjectId);
  for (const c of report.checks) assert.deepEqual(Object.keys(c).filter((k) => !['id', 'status', 'summary', 'fix', 'commands', 'details'].includes(k)), []);
  assertNoSecrets(r, [t.clientSecret!]);
});

test('doctor --json on a broken tenant: exit 1, one JSON object, the failing check with the oid in its commands', async () => {
  const t = tenant({ fullAccess: false });
  const r = await runCli(['doctor', '--json'], envFor(t));
  assert.equal(r.code, 1, r.stderr);
  const report = singleJson(r.stdout);
  assert.equal(report.ok, false);
  const auth = report.checks.find((c: { id: string }) => c.id === 'smtp-auth');
  assert.equal(auth.status, 'fail');
  assert.ok(auth.commands.includes(`Add-MailboxPermission -Identity ${t.authorizedFrom} -User ${t.servicePrincipalObjectId} -AccessRights FullAccess`));
  assert.ok(!r.stdout.includes(t.applicationObjectId));
  assertNoSecrets(r, [t.clientSecret!]);
});

test('doctor (human form): marks per check, then the fixes; no colour when not a TTY; no secrets', async () => {
  const ok = tenant();
  const pass = await runCli(['doctor'], envFor(ok));
  assert.equal(pass.code, 0, pass.stderr);
  assert.match(pass.stdout, /^✓ pass  settings /m);
  assert.match(pass.stdout, /^✓ pass  smtp-auth /m);
  assert.match(pass.stdout, /^- skip  send /m);
  assert.match(pass.stdout, /All checks passed\./);
  assert.ok(!pass.stdout.includes('\x1b['));
  assertNoSecrets(pass, [ok.clientSecret!]);

  const broken = tenant({ exchangeServicePrincipal: 'applicationObjectId' });
  const fail = await runCli(['doctor', '--verbose'], envFor(broken));
  assert.equal(fail.code, 1);
  assert.match(fail.stdout, /^✗ FAIL  smtp-auth /m);
  assert.match(fail.stdout, /How to fix:/);
  assert.ok(fail.stdout.includes(`New-ServicePrincipal -AppId ${broken.clientId} -ObjectId ${broken.servicePrincipalObjectId} -DisplayName "Mailgate"`));
  assert.ok(!fail.stdout.includes(broken.applicationObjectId));
  assertNoSecrets(fail, [broken.clientSecret!]);
});

test('a failed token request prints no secret either (wrong secret and secret ID, both forms)', async () => {
  const t = tenant();
  const wrong = 'xyz8Q~thisIsNotTheSecret_0123456789abcdef';
  for (const secret of [wrong, t.secretId]) {
    for (const args of [['doctor', '--json'], ['doctor', '--verbose']]) {
      const r = await runCli(args, envFor(t, { MAILGATE_CLIENT_SECRET: secret }));
      assert.equal(r.code, 1, r.stderr);
      assertNoSecrets(r, [secret, t.clientSecret!]);
      if (args.includes('--json')) {
        const token = singleJson(r.stdout).checks.find((c: { id: string }) => c.id === 'token');
        assert.deepEqual(token.details.aadsts, [7000215]);
      }
    }
  }
});

test('doctor with unusable arguments: exit 2 (and one JSON object with --json)', async () => {
  const t = tenant();
  const bad = await runCli(['doctor', '--json', '--to', 'not-an-address'], envFor(t));
  assert.equal(bad.code, 2);
  const out = singleJson(bad.stdout);
  assert.equal(out.ok, false);
  assert.equal(out.error.code, 'ARGUMENT_INVALID');
  const timeout = await runCli(['doctor', '--timeout', 'soon'], envFor(t));
  assert.equal(timeout.code, 2);
  const unknown = await runCli(['doctor', '--frobnicate'], envFor(t));
  assert.equal(unknown.code, 2);
});

test('doctor with invalid settings: the settings check fails (exit 1) and lists every problem', async () => {
  const t = tenant();
  const r = await runCli(['doctor', '--json'], envFor(t, { MAILGATE_CLIENT_ID: 'not-a-guid', MAILGATE_SMTP_PORT: '99999' }));
  assert.equal(r.code, 1);
  const report = singleJson(r.stdout);
  const settings = report.checks.find((c: { id: string }) => c.id === 'settings');
  assert.equal(settings.status, 'fail');
  assert.deepEqual(settings.details.problems.map((p: { key: string }) => p.key).sort(), ['clientId', 'smtpPort']);
  assert.ok(report.checks.slice(1).every((c: { status: string }) => c.status === 'skip'));
  assertNoSecrets(r, [t.clientSecret!]);
});

test('setup-script: the script with the oid from a token; never the secret or the token', async () => {
  const t = tenant();
  const r = await runCli(['setup-script'], envFor(t));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(`$ServicePrincipalObjectId = '${t.servicePrincipalObjectId}'`));
  assert.ok(r.stdout.includes(`$AppId = '${t.clientId}'`));
  assert.ok(r.stdout.includes(`$TenantId = '${t.tenantId}'`));
  assert.ok(r.stdout.includes(`$Mailbox = '${t.authorizedFrom}'`));
  assert.ok(r.stdout.includes('New-ServicePrincipal -AppId $AppId -ObjectId $ServicePrincipalObjectId -DisplayName $DisplayName'));
  assert.ok(!r.stdout.includes(t.applicationObjectId));
  assertNoSecrets(r, [t.clientSecret!]);
});

test('setup-script without a token: the placeholder, and a note on stderr saying why', async () => {
  const t = tenant();
  const r = await runCli(['setup-script', '--format', 'powershell'], envFor(t, { MAILGATE_CLIENT_SECRET: t.secretId }));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes('$ServicePrincipalObjectId = "<paste the Object ID from Entra ID > Enterprise applications > your app>"'));
  assert.match(r.stderr, /AADSTS7000215/);
  assertNoSecrets(r, [t.clientSecret!]);
  const offline = await runCli(['setup-script', '--no-token'], envFor(t));
  assert.equal(offline.code, 0);
  assert.match(offline.stdout, /no token was requested/);
});

test('setup-script: an unknown format or invalid settings exit 2', async () => {
  const t = tenant();
  assert.equal((await runCli(['setup-script', '--format', 'bash'], envFor(t))).code, 2);
  const invalid = await runCli(['setup-script'], envFor(t, { MAILGATE_AUTHORIZED_FROM: 'nope' }));
  assert.equal(invalid.code, 2);
  assert.match(invalid.stderr, /Authorized from Address/);
});
