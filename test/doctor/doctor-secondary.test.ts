/**
 * The doctor and the secondary credential (issue 17, rotation), end to end against the
 * emulator (real sockets, real TLS, a real token request with each credential alone): a
 * secondary that works, one Entra refuses with AADSTS7000215 (its Secret ID pasted), one whose
 * secret expired (AADSTS7000222), a secondary certificate (thumbprint, expiry), and a refused
 * primary with a working secondary (the service fails over: a warning, and the chain continues
 * with the secondary's token). A failing secondary is a `warn`, never a `fail`; the check IDs
 * stay the same; no secret or token appears in the report; `mailgate doctor --json` carries it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTenantState, createClientCertificate, type BuiltTenant } from '../../src/emulator/index.js';
import { runDoctor } from '../../src/doctor/run-doctor.js';
import { CHECK_IDS, type CheckId, type CheckResult, type DoctorOptions, type DoctorReport } from '../../src/doctor/types.js';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { runCli, singleJson } from '../helpers/cli.js';

const fixture = useEmulatedTenants();
const DAY = 86_400_000;
const SECOND = 'Sd38Q~the-second-secret-of-the-app-0123456789';

/** The tenant with a second secret on the app (its id, value and expiry), made the emulator's state. */
function tenantWithTwoSecrets(second: { id?: string; value?: string; expires?: string } = {}, o: Parameters<typeof buildTenantState>[0] = {}): BuiltTenant & { secondId: string } {
  const t = buildTenantState(o);
  const secondId = second.id ?? randomUUID();
  t.state.tenants[0]!.apps[0]!.secrets.push({ id: secondId, value: second.value ?? SECOND, expires: second.expires ?? new Date(Date.now() + 365 * DAY).toISOString() } as never);
  fixture.emu.setState(t.state);
  fixture.emu.clearFaults();
  fixture.emu.resetStats();
  return { ...t, secondId };
}

async function doctor(t: BuiltTenant, extra: Record<string, string>, options: DoctorOptions = {}): Promise<DoctorReport> {
  const report = await runDoctor(fixture.rawFor(t, extra), { ca: fixture.emu.caPem, ...options });
  assert.deepEqual(report.checks.map((c) => c.id), [...CHECK_IDS], 'the check IDs stay stable');
  assert.equal(report.ok, !report.checks.some((c) => c.status === 'fail'));
  const text = JSON.stringify(report);
  for (const s of [t.clientSecret!, SECOND, extra.clientSecretSecondary].filter((x): x is string => !!x && x.length > 8 && !/^[0-9a-f-]{36}$/.test(x))) {
    assert.ok(!text.includes(s), 'no secret in the report');
  }
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(text), 'no token in the report');
  return report;
}

const check = (r: DoctorReport, id: CheckId): CheckResult => r.checks.find((c) => c.id === id)!;
const secondaryOf = (c: CheckResult): Record<string, any> => c.details!.secondary as Record<string, any>;

test('a secondary that works: token passes and says so; its kind and expiry are in settings, with the 14-day warning', async () => {
  const t = tenantWithTwoSecrets();
  const expires = new Date(Date.now() + 10 * DAY).toISOString().slice(0, 10);
  const r = await doctor(t, { clientSecretSecondary: SECOND, clientSecretExpiresSecondary: expires }, { to: 'someone@example.com' });
  assert.equal(r.ok, true);
  const token = check(r, 'token');
  assert.equal(token.status, 'pass', token.summary);
  assert.match(token.summary, /The secondary client secret works too \(a token with it alone\)/);
  assert.equal(secondaryOf(token).ok, true);
  assert.equal(secondaryOf(token).credential, 'client secret');
  const settings = check(r, 'settings');
  assert.equal(settings.status, 'warn');
  assert.equal(secondaryOf(settings).credential, 'client secret');
  assert.equal(secondaryOf(settings).expiresAt, `${expires}T00:00:00.000Z`);
  assert.match(settings.fix!, new RegExp(`The secondary client secret of app ${t.clientId} expires in \\d+ days .*A failover to it would fail`));
  assert.match(settings.fix!, /mailgate credentials remove default/);
  assert.ok(settings.commands!.some((c) => c.includes(`az ad app credential reset --id ${t.clientId} --append`)), settings.commands!.join('\n'));
  assert.equal(check(r, 'send').status, 'pass');
});

test('a secondary Entra refuses with AADSTS7000215 (its Secret ID pasted): a warning with the exact fix, delivery still checked on the primary', async () => {
  const t = tenantWithTwoSecrets();
  const r = await doctor(t, { clientSecretSecondary: t.secondId }, { to: 'someone@example.com', credential: 'default' });
  assert.equal(r.ok, true, 'a failing secondary never fails the report');
  const token = check(r, 'token');
  assert.equal(token.status, 'warn');
  assert.match(token.summary, /Delivery works on the primary, but the secondary client secret cannot take over until it is fixed: Microsoft Entra ID refused the secondary client secret \(AADSTS7000215\): the secondary client secret is a GUID, which is the secret's ID, not its Value/);
  assert.deepEqual(secondaryOf(token).aadsts, [7000215]);
  assert.equal(secondaryOf(token).ok, false);
  assert.match(token.fix!, /The secondary client secret holds the Secret ID/);
  assert.match(token.fix!, /Replace the secondary: `mailgate credentials remove default`, then `mailgate credentials add default`/);
  assert.ok(!token.fix!.includes('MAILGATE_CLIENT_SECRET)'), 'the fix names the secondary, not the primary setting');
  assert.ok(token.commands!.some((c) => c.includes(t.clientId)), 'commands with the real client ID');
  for (const id of ['token-claims', 'smtp-auth', 'send'] as const) assert.equal(check(r, id).status, 'pass', id);
});

test('a secondary whose secret expired (AADSTS7000222): warn in token, and settings says it expired', async () => {
  const past = new Date(Date.now() - 2 * DAY).toISOString();
  const t = tenantWithTwoSecrets({ expires: past });
  const r = await doctor(t, { clientSecretSecondary: SECOND, clientSecretExpiresSecondary: past.slice(0, 10) }, { credential: 'contoso' });
  assert.equal(r.ok, true);
  const token = check(r, 'token');
  assert.equal(token.status, 'warn');
  assert.deepEqual(secondaryOf(token).aadsts, [7000222]);
  assert.match(token.summary, /AADSTS7000222/);
  assert.match(token.fix!, new RegExp(`Create a new client secret: App registrations → the app ${t.clientId}`));
  assert.match(token.fix!, /`mailgate credentials remove contoso`/, 'the credential is named in the commands');
  const settings = check(r, 'settings');
  assert.equal(settings.status, 'warn');
  assert.match(settings.fix!, /The secondary client secret "contoso" of app .* expired on/);
});

test('the primary expired, the secondary works: the service would fail over, so token warns and the chain runs with the secondary', async () => {
  const t = tenantWithTwoSecrets({}, { secretExpires: new Date(Date.now() - DAY).toISOString() });
  const r = await doctor(t, { clientSecretSecondary: SECOND }, { to: 'someone@example.com' });
  assert.equal(r.ok, true, JSON.stringify(r.checks.map((c) => [c.id, c.status])));
  const token = check(r, 'token');
  assert.equal(token.status, 'warn');
  assert.match(token.summary, /refused the primary credential \(AADSTS7000222\) and issued a token with the secondary client secret: Mailgate switches to the secondary/);
  assert.deepEqual(token.details!.aadsts, [7000222], "the primary's refusal stays in the details");
  assert.match(token.fix!, /Make the secondary primary: `mailgate credentials test default`, then `mailgate credentials promote default`/);
  assert.match(token.fix!, /remove the refused credential, now the secondary: `mailgate credentials remove default`/);
  assert.ok(token.commands!.some((c) => c.includes(`az ad app credential reset --id ${t.clientId} --append`)), 'the command that creates the next credential, with the real client ID');
  for (const id of ['token-claims', 'smtp-auth', 'send'] as const) assert.equal(check(r, id).status, 'pass', id);
});

test('both refused: the primary fails as before and the secondary\'s answer is named', async () => {
  const t = tenantWithTwoSecrets({}, { secretExpires: new Date(Date.now() - DAY).toISOString() });
  const r = await doctor(t, { clientSecretSecondary: 'Xy1Q~not-a-secret-of-this-app-0123456789' });
  assert.equal(r.ok, false);
  const token = check(r, 'token');
  assert.equal(token.status, 'fail');
  assert.match(token.summary, /The secondary client secret was refused too \(AADSTS7000215\)/);
  assert.deepEqual(token.details!.aadsts, [7000222]);
  assert.equal(check(r, 'token-claims').status, 'skip');
});

test('a secondary certificate: its thumbprint and expiry in settings; not uploaded, Entra refuses it (AADSTS700027) and token warns', async () => {
  const cert = await createClientCertificate();
  const t = tenantWithTwoSecrets();
  const dir = mkdtempSync(join(tmpdir(), 'doctor-secondary-'));
  try {
    const pemFile = join(dir, 'client.pem');
    writeFileSync(pemFile, `${cert.certPem}\n${cert.privateKeyPem}`, { mode: 0o600 });
    const r = await doctor(t, { clientCertificatePathSecondary: pemFile });
    const settings = check(r, 'settings');
    assert.equal(secondaryOf(settings).credential, 'certificate');
    assert.match(String(secondaryOf(settings).certificateThumbprint), /^[0-9A-F]{40}$/);
    assert.ok(Date.parse(String(secondaryOf(settings).certificateNotAfter)) > Date.now());
    const token = check(r, 'token');
    assert.equal(token.status, 'warn');
    assert.deepEqual(secondaryOf(token).aadsts, [700027]);
    assert.equal(secondaryOf(token).certificateThumbprint, secondaryOf(settings).certificateThumbprint);
    assert.equal(r.ok, true);

    // Uploaded to the app: the secondary certificate works.
    t.state.tenants[0]!.apps[0]!.certificates.push({ thumbprintSha256: cert.thumbprintSha256, pem: cert.certPem, expires: new Date(Date.now() + 365 * DAY).toISOString() } as never);
    fixture.emu.setState(t.state);
    const ok = await doctor(t, { clientCertificatePathSecondary: pemFile });
    assert.equal(check(ok, 'token').status, 'pass');
    assert.match(check(ok, 'token').summary, /The secondary certificate works too/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unreadable secondary certificate is a settings warning, not a failure', async () => {
  const t = tenantWithTwoSecrets();
  const r = await doctor(t, { clientCertificatePathSecondary: '/nonexistent/secondary.pem' });
  const settings = check(r, 'settings');
  assert.equal(settings.status, 'warn');
  assert.match(settings.fix!, /Secondary client certificate cannot be used: .*Delivery works on the primary, but there is no failover/);
  assert.equal(check(r, 'token').status, 'warn');
  assert.equal(r.ok, true);
});

test('mailgate doctor --json carries the secondary; exit 0 with a refused secondary; nothing secret printed', async () => {
  const t = tenantWithTwoSecrets();
  const r = await runCli(['doctor', '--json'], fixture.envFor(t, { MAILGATE_CLIENT_SECRET_SECONDARY: t.secondId }));
  assert.equal(r.code, 0, r.stderr);
  const report = singleJson(r.stdout);
  assert.deepEqual(report.checks.map((c: { id: string }) => c.id), [...CHECK_IDS]);
  const token = report.checks.find((c: { id: string }) => c.id === 'token');
  assert.equal(token.status, 'warn');
  assert.deepEqual(token.details.secondary.aadsts, [7000215]);
  const both = r.stdout + r.stderr;
  assert.ok(!both.includes(t.clientSecret!));
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(both));
  const text = await runCli(['doctor'], fixture.envFor(t, { MAILGATE_CLIENT_SECRET_SECONDARY: SECOND }));
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /The secondary client secret works too/);
  assert.ok(!text.stdout.includes(SECOND));
});

test('Transport graph: graph-token tests and reports the secondary (token is skipped there); a failover gets Graph\'s token from the secondary', async () => {
  const t = tenantWithTwoSecrets();
  const graph = { transport: 'graph', graphEndpoint: fixture.emu.graph };
  const refused = await runDoctor(fixture.rawFor(t, { ...graph, clientSecretSecondary: t.secondId }), { ca: fixture.emu.caPem, to: 'someone@example.com' });
  const gt = check(refused, 'graph-token');
  assert.equal(gt.status, 'warn', gt.summary);
  assert.deepEqual(secondaryOf(gt).aadsts, [7000215]);
  assert.equal(check(refused, 'graph-send').status, 'pass');
  assert.equal(refused.ok, true);

  const t2 = tenantWithTwoSecrets({}, { secretExpires: new Date(Date.now() - DAY).toISOString() });
  const failover = await runDoctor(fixture.rawFor(t2, { ...graph, clientSecretSecondary: SECOND }), { ca: fixture.emu.caPem, to: 'someone@example.com' });
  const ft = check(failover, 'graph-token');
  assert.equal(ft.status, 'warn', ft.summary);
  assert.match(ft.summary, /refused the primary credential \(AADSTS7000222\)/);
  assert.equal(check(failover, 'graph-send').status, 'pass', 'sent with the secondary\'s Graph token');
  assert.equal(failover.ok, true);
  assert.ok(!JSON.stringify(failover).includes(SECOND));
});

test('mailgate doctor with MAILGATE_CONFIG: a named credential\'s secondary is tested too, and the commands name the credential', async () => {
  const t = tenantWithTwoSecrets();
  const dir = mkdtempSync(join(tmpdir(), 'doctor-secondary-config-'));
  try {
    const file = join(dir, 'mailgate.yaml');
    writeFileSync(file, `credentials:
  - name: contoso
    tenantId: ${t.tenantId}
    clientId: ${t.clientId}
    clientSecret: env:CONTOSO_SECRET
    secondary:
      clientSecret: env:CONTOSO_SECONDARY
senders:
  - address: ${t.authorizedFrom}
    credential: contoso
`);
    const env = {
      NODE_EXTRA_CA_CERTS: fixture.emu.caFile,
      MAILGATE_CONFIG: file,
      CONTOSO_SECRET: t.clientSecret!,
      CONTOSO_SECONDARY: t.secondId,
      MAILGATE_AUTHORITY_HOST: fixture.emu.authorityHost,
      MAILGATE_SMTP_HOST: fixture.emu.smtp.host,
      MAILGATE_SMTP_PORT: String(fixture.emu.smtp.port),
    };
    const r = await runCli(['doctor', '--json'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = singleJson(r.stdout);
    const report = out.senders[0];
    const token = report.checks.find((c: { id: string }) => c.id === 'token');
    assert.equal(token.status, 'warn', token.summary);
    assert.deepEqual(token.details.secondary.aadsts, [7000215]);
    assert.match(token.fix, /`mailgate credentials remove contoso`/);
    const settings = report.checks.find((c: { id: string }) => c.id === 'settings');
    assert.match(settings.details.credentialExpiry, /set clientSecretExpires on the credential "contoso"/, 'the named credential\'s own key, not the Email Settings field');
    assert.match(settings.details.secondary.credentialExpiry, /set secondary\.clientSecretExpires on the credential "contoso"/);
    assert.ok(!(r.stdout + r.stderr).includes(t.clientSecret!));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
