/**
 * The doctor per sender (issue 16, item 5) against the emulator: a Send As sender whose
 * signed-in mailbox lacks Send As on the From gets the exact `Add-RecipientPermission` fix with
 * the real addresses (from the real 554 5.2.252 of a test message, and from Exchange's
 * configuration without one); with Send As granted it passes; a shared mailbox used as the
 * signed-in mailbox is named as such with "sign in as a licensed mailbox with Send As"; a sender
 * of a second tenant and app is checked with its own credential; and the CLI's `--from` /
 * `--sign-in-as` run the same. The decision of `send-as` is also tested on its own.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildSetupScript, runSenderDoctor, runSendersDoctor, senderSettings, type SenderDescription } from '../../src/doctor/index.js';
import { decideSendAs } from '../../src/doctor/checks/send-as-check.js';
import { emulatorExchangeFacts } from '../../src/doctor/exchange-facts.js';
import { buildTenantState, mergeStates } from '../../src/emulator/index.js';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { runCli, singleJson } from '../helpers/cli.js';

const fixture = useEmulatedTenants();
const { tenant, envFor } = fixture;

const SHARED = 'support@contoso.onmicrosoft.com';
const NOREPLY = 'noreply@contoso.onmicrosoft.com';
const ADD_SEND_AS = `Add-RecipientPermission -Identity ${SHARED} -Trustee ${NOREPLY} -AccessRights SendAs`;

const check = (report: { checks: Array<{ id: string }> }, id: string) => report.checks.find((c) => c.id === id) as any;

describe('send-as decision', () => {
  const ctx = { tenantId: '8f3c2a1b-4d5e-4f60-9a7b-1c2d3e4f5a6b' };
  test('a passing test message proves it; no evidence is a warning with the commands', () => {
    assert.equal(decideSendAs({ from: SHARED, signInAs: NOREPLY, sent: { id: 'send', status: 'pass', summary: 'ok' } }, ctx).status, 'pass');
    const warn = decideSendAs({ from: SHARED, signInAs: NOREPLY, sent: { id: 'send', status: 'skip', summary: 'Skipped' } }, ctx);
    assert.equal(warn.status, 'warn');
    assert.ok(warn.commands!.includes(ADD_SEND_AS), JSON.stringify(warn.commands));
    assert.ok(warn.commands!.includes(`Get-RecipientPermission -Identity ${SHARED}`));
  });
  test('Exchange facts: granted to the mailbox or the service principal passes; otherwise fails naming the trustees', () => {
    const facts = (sendAs: string[]) => ({ source: 'test', facts: { source: 'test', servicePrincipals: [], mailbox: null, rbacAssignments: [], fromMailbox: { address: SHARED, type: 'shared' as const, sendAs } } });
    assert.equal(decideSendAs({ from: SHARED, signInAs: NOREPLY, facts: facts([NOREPLY.toUpperCase()]) }, ctx).status, 'pass');
    assert.equal(decideSendAs({ from: SHARED, signInAs: NOREPLY, oid: 'abc', facts: facts(['ABC']) }, ctx).status, 'pass');
    const fail = decideSendAs({ from: SHARED, signInAs: NOREPLY, facts: facts(['someone@contoso.onmicrosoft.com']) }, ctx);
    assert.equal(fail.status, 'fail');
    assert.match(fail.summary, /granted to someone@contoso\.onmicrosoft\.com/);
    assert.ok(fail.commands!.includes(ADD_SEND_AS));
  });
  test('senderSettings: the credential and the signed-in mailbox become the settings; the other secret kind is dropped', () => {
    const raw = senderSettings({ from: SHARED, signInAs: NOREPLY, credential: { tenantId: 't', clientId: 'c', clientCertificatePath: '/x.pem', smtpPort: 2587 }, transport: 'graph' }, { clientSecret: 'base-secret', socketTimeoutMs: '1000' });
    assert.equal(raw.authorizedFrom, NOREPLY);
    assert.equal(raw.clientCertificatePath, '/x.pem');
    assert.equal(raw.clientSecret, undefined);
    assert.equal(raw.smtpPort, 2587);
    assert.equal(raw.transport, 'graph');
    assert.equal(raw.socketTimeoutMs, '1000');
    assert.equal(senderSettings({ from: SHARED, credential: { tenantId: 't', clientId: 'c' } }).authorizedFrom, SHARED);
  });
});

describe('doctor per sender against the emulator', () => {
  const sender = (t: ReturnType<typeof tenant>, from: string, signInAs?: string): SenderDescription => ({
    from, ...(signInAs ? { signInAs } : {}),
    credential: { tenantId: t.tenantId, clientId: t.clientId, clientSecret: t.clientSecret!, authorityHost: fixture.emu.authorityHost, smtpHost: fixture.emu.smtp.host, smtpPort: fixture.emu.smtp.port },
  });
  const options = () => ({ ca: fixture.emu.caPem, exchangeFacts: emulatorExchangeFacts(fixture.emu.admin, { ca: fixture.emu.caPem }) });

  test('Send As missing, with a test message: send and send-as fail with Add-RecipientPermission and the real addresses', async () => {
    const t = tenant({ sharedMailboxes: [{ address: SHARED }] });
    const report = await runSenderDoctor(sender(t, SHARED, NOREPLY), { ...options(), to: 'someone@example.com' });
    assert.equal(report.ok, false);
    assert.deepEqual(report.sender, { from: SHARED, signInAs: NOREPLY });
    assert.equal(check(report, 'smtp-auth').status, 'pass', 'the signed-in side (FullAccess) is fine');
    const send = check(report, 'send');
    assert.equal(send.status, 'fail');
    assert.equal(send.details.diagnosis, 'smtp-554-5.2.252-send-as-denied');
    assert.match(send.details.reply, /^554 5\.2\.252 SendAsDenied; noreply@contoso\.onmicrosoft\.com not allowed to send as support@contoso\.onmicrosoft\.com;/);
    const sendAs = check(report, 'send-as');
    assert.equal(sendAs.status, 'fail');
    assert.ok(sendAs.commands.includes(ADD_SEND_AS), JSON.stringify(sendAs.commands));
    assert.equal(report.checks.findIndex((c) => c.id === 'send-as'), report.checks.findIndex((c) => c.id === 'send') + 1, 'send-as follows send');
  });

  test('Send As missing, without a test message: Exchange facts (Get-RecipientPermission) name it', async () => {
    const t = tenant({ sharedMailboxes: [{ address: SHARED, sendAs: ['other@contoso.onmicrosoft.com'] }], extraMailboxes: [{ address: 'other@contoso.onmicrosoft.com' }] });
    const report = await runSenderDoctor(sender(t, SHARED, NOREPLY), options());
    const sendAs = check(report, 'send-as');
    assert.equal(sendAs.status, 'fail');
    assert.match(sendAs.summary, /granted to other@contoso\.onmicrosoft\.com/);
    assert.ok(sendAs.commands.includes(ADD_SEND_AS));
    // Without facts and without a message: a warning, never a pass.
    const blind = await runSenderDoctor(sender(t, SHARED, NOREPLY), { ca: fixture.emu.caPem });
    assert.equal(check(blind, 'send-as').status, 'warn');
    assert.equal(blind.ok, true);
  });

  test('Send As granted: both sides pass and the message goes out with From = the shared mailbox', async () => {
    const t = tenant({ sharedMailboxes: [{ address: SHARED, sendAs: [NOREPLY] }] });
    fixture.emu.clearMessages();
    const report = await runSenderDoctor(sender(t, SHARED, NOREPLY), { ...options(), to: 'someone@example.com' });
    assert.equal(report.ok, true, JSON.stringify(report.checks.filter((c) => c.status !== 'pass' && c.status !== 'skip')));
    assert.equal(check(report, 'send-as').status, 'pass');
    assert.equal(fixture.emu.messages().at(-1)!.from, SHARED);
    assert.equal(fixture.emu.messages().at(-1)!.authenticatedAs, NOREPLY);
  });

  test('Graph transport: ErrorSendAsDenied gives the same send-as fix; granted, graph-send and send-as pass', async () => {
    const graphSender = (t: ReturnType<typeof tenant>): SenderDescription => ({ ...sender(t, SHARED, NOREPLY), transport: 'graph', credential: { ...sender(t, SHARED, NOREPLY).credential, graphEndpoint: fixture.emu.graph } });
    const denied = tenant({ sharedMailboxes: [{ address: SHARED }] });
    const report = await runSenderDoctor(graphSender(denied), { ...options(), to: 'someone@example.com' });
    assert.equal(check(report, 'graph-send').details.diagnosis, 'graph-send-as-denied');
    const sendAs = check(report, 'send-as');
    assert.equal(sendAs.status, 'fail');
    assert.ok(sendAs.commands.includes(ADD_SEND_AS), JSON.stringify(sendAs.commands));
    assert.equal(check(report, 'smtp-auth').status, 'skip');
    const granted = tenant({ sharedMailboxes: [{ address: SHARED, sendAs: [NOREPLY] }] });
    const ok = await runSenderDoctor(graphSender(granted), { ...options(), to: 'someone@example.com' });
    assert.equal(check(ok, 'graph-send').status, 'pass', JSON.stringify(check(ok, 'graph-send')));
    assert.equal(check(ok, 'send-as').status, 'pass');
  });

  test('a shared mailbox as the signed-in mailbox: 535 5.7.3 explained as the shared-mailbox trap', async () => {
    const t = tenant({ sharedMailboxes: [{ address: SHARED, sendAs: [NOREPLY] }] });
    const report = await runSenderDoctor(sender(t, SHARED), options());
    const auth = check(report, 'smtp-auth');
    assert.equal(auth.status, 'fail');
    assert.equal(auth.details.exchangeSide, 'shared-mailbox-sign-in');
    assert.equal(auth.details.diagnosis, 'smtp-535-5.7.3-shared-mailbox');
    assert.match(auth.summary, /support@contoso\.onmicrosoft\.com is a shared mailbox .*noreply@contoso\.onmicrosoft\.com has Send As on it/);
    assert.match(auth.fix, /Sign in as a licensed mailbox with Send As on support@contoso\.onmicrosoft\.com/);
    assert.equal(check(report, 'send-as'), undefined, 'From = signed-in mailbox: no Send As check');
  });

  test('several senders on two credentials in two tenants: one report each, the worst decides', async () => {
    const contoso = buildTenantState({ sharedMailboxes: [{ address: SHARED, sendAs: [NOREPLY] }] });
    const fabrikam = buildTenantState({ domain: 'fabrikam.onmicrosoft.com', sharedMailboxes: [{ address: 'help@fabrikam.onmicrosoft.com' }] });
    fixture.emu.setState(mergeStates(contoso, fabrikam));
    const all = await runSendersDoctor([sender(contoso, NOREPLY), sender(contoso, SHARED, NOREPLY), sender(fabrikam, 'help@fabrikam.onmicrosoft.com', fabrikam.authorizedFrom)], { ...options(), to: 'someone@example.com' });
    assert.deepEqual(all.senders.map((r) => r.ok), [true, true, false]);
    assert.equal(all.ok, false);
    const third = all.senders[2]!;
    assert.equal(check(third, 'token-claims').details.oid, fabrikam.servicePrincipalObjectId, 'the second tenant\'s own app and token');
    assert.ok(check(third, 'send-as').commands.includes(`Add-RecipientPermission -Identity help@fabrikam.onmicrosoft.com -Trustee ${fabrikam.authorizedFrom} -AccessRights SendAs`));
    for (const r of all.senders) assert.ok(!JSON.stringify(r).includes(contoso.clientSecret!) && !JSON.stringify(r).includes(fabrikam.clientSecret!));
  });
});

describe('mailgate doctor --from --sign-in-as (CLI)', () => {
  test('Send As missing: exit 1, the human report prints the Add-RecipientPermission fix with the real addresses', async () => {
    const t = tenant({ sharedMailboxes: [{ address: SHARED }] });
    const r = await runCli(['doctor', '--from', SHARED, '--sign-in-as', NOREPLY, '--to', 'someone@example.com'], envFor(t));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^Sender support@contoso\.onmicrosoft\.com, signed in as noreply@contoso\.onmicrosoft\.com \(Send As\)$/m);
    assert.match(r.stdout, /^✗ FAIL  send-as +noreply@contoso\.onmicrosoft\.com has no Send As on support@contoso\.onmicrosoft\.com: Exchange refused the test message \(554 5\.2\.252 SendAsDenied\)\.$/m);
    assert.ok(r.stdout.includes(`    ${ADD_SEND_AS}`), r.stdout);
    assert.ok(!r.stdout.includes(t.clientSecret!) && !r.stderr.includes(t.clientSecret!));
  });

  test('--json with Send As granted: exit 0, the sender in the report; --from alone signs in as the From', async () => {
    const t = tenant({ sharedMailboxes: [{ address: SHARED, sendAs: [NOREPLY] }] });
    const ok = await runCli(['doctor', '--json', '--from', SHARED, '--sign-in-as', NOREPLY, '--to', 'someone@example.com'], envFor(t));
    assert.equal(ok.code, 0, ok.stdout);
    const report = singleJson(ok.stdout);
    assert.deepEqual(report.sender, { from: SHARED, signInAs: NOREPLY });
    assert.equal(report.checks.find((c: { id: string }) => c.id === 'send-as').status, 'pass');
    const alone = singleJson((await runCli(['doctor', '--json', '--from', SHARED], envFor(t))).stdout);
    assert.deepEqual(alone.sender, { from: SHARED, signInAs: SHARED });
    assert.equal(alone.checks.find((c: { id: string }) => c.id === 'smtp-auth').status, 'fail');
    // --sign-in-as alone keeps the Authorized from Address as the From (the default sender of a Send As set-up).
    const signIn = singleJson((await runCli(['doctor', '--json', '--sign-in-as', NOREPLY], envFor(t, { MAILGATE_AUTHORIZED_FROM: SHARED }))).stdout);
    assert.deepEqual(signIn.sender, { from: SHARED, signInAs: NOREPLY });
    assert.equal(signIn.ok, true);
    assert.equal(signIn.checks.find((c: { id: string }) => c.id === 'send-as').status, 'warn', 'neither a test message nor Exchange facts: not verified');
  });
});

describe('setup-script: the Send As step for a sender whose From differs from its signed-in mailbox', () => {
  const settings = { authorizedFrom: NOREPLY, cloud: 'global' as const, clientId: '6731de76-14a6-49ae-97bc-6eba6914391e', tenantId: '8f3c2a1b-4d5e-4f60-9a7b-1c2d3e4f5a6b' };
  test('buildSetupScript({sendAs}): the From in the values, Add-RecipientPermission with the mailbox as trustee, and its verification', () => {
    const script = buildSetupScript(settings, { sendAs: [SHARED, SHARED.toUpperCase(), NOREPLY] });
    assert.match(script, /^\$SendAsFrom = @\('support@contoso\.onmicrosoft\.com'\)$/m, 'once, without the mailbox itself');
    assert.ok(script.includes(`#   ${ADD_SEND_AS}`));
    assert.match(script, /^ {4}Add-RecipientPermission -Identity \$From -Trustee \$Mailbox -AccessRights SendAs -Confirm:\$false$/m);
    assert.match(script, /Get-RecipientPermission -Identity \$From -Trustee \$Mailbox/);
    assert.ok(!script.includes("<the other From address>"), 'the placeholder hint is replaced');
    // Graph needs Send As as well.
    assert.match(buildSetupScript(settings, { sendAs: [SHARED], transport: 'graph' }), /Add-RecipientPermission -Identity \$From -Trustee \$Mailbox/);
    // Without a Send As sender the script is as before.
    const plain = buildSetupScript(settings);
    assert.ok(!plain.includes('$SendAsFrom'));
    assert.ok(plain.includes("# Add-RecipientPermission -Identity '<the other From address>' -Trustee $Mailbox -AccessRights SendAs"));
    assert.throws(() => buildSetupScript(settings, { sendAs: ["x@contoso.com'\nRemove-Mailbox"] }));
  });

  test('mailgate setup-script --from --sign-in-as: the mailbox is the signed-in one and the Send As step names the From', async () => {
    const t = tenant({ sharedMailboxes: [{ address: SHARED }] });
    const r = await runCli(['setup-script', '--no-token', '--from', SHARED, '--sign-in-as', NOREPLY], envFor(t, { MAILGATE_AUTHORIZED_FROM: 'someone.else@contoso.onmicrosoft.com' }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\$Mailbox = 'noreply@contoso\.onmicrosoft\.com'$/m);
    assert.ok(r.stdout.includes(`#   ${ADD_SEND_AS}`), r.stdout);
    const bad = await runCli(['setup-script', '--no-token', '--from', 'not an address'], envFor(t));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--from: must be a mailbox address/);
  });
});

test('doctor --sign-in-as / --from that are not mailbox addresses: exit 2 naming the flag', async () => {
  const t = tenant();
  const r = await runCli(['doctor', '--sign-in-as', "noreply'@x", '--from', 'nope'], envFor(t));
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /--from: must be a mailbox address/);
  assert.match(r.stderr, /--sign-in-as: must be a mailbox address/);
});
