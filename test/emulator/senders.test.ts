// Several senders in the emulator (issue 16, item 6): a shared mailbox as the XOAUTH2 user= is
// refused with Exchange's one 535 5.7.3; signing in as a mailbox with Send As on the shared
// mailbox works and the message shows From = the shared mailbox; Send As missing is the exact
// 554 5.2.252 with the mailbox and the From; a second tenant and a second app get their own
// tokens and mailboxes; the admin API's directory sets all of it up. SMTP and Graph.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { devBanner, type RunningDev } from '../../src/app/dev.js';
import { buildTenantState, mergeStates, parseState, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { fetchToken, httpsRequest, RawSmtpClient, xoauth2 } from '../helpers/emulator-client.js';
import { assertGraphError } from './graph-helpers.js';

const GRAPH = 'https://graph.microsoft.com/.default';
const SEND_AS_DENIED = (auth: string, from: string) =>
  `554 5.2.252 SendAsDenied; ${auth} not allowed to send as ${from}; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message.`;
const AUTH_UNSUCCESSFUL = /^535 5\.7\.3 Authentication unsuccessful \[[A-Z0-9]+\.[a-z0-9]+\.prod\.outlook\.com \d{4}-\d\d-\d\dT[\d:.]+Z [0-9A-F]+\]$/;

describe('several senders: shared mailboxes, Send As, several apps and tenants', () => {
  let emu: Emulator;
  // contoso: noreply@ (licensed, FullAccess for the app) has Send As on support@ (shared);
  // billing@ (shared) grants nothing. fabrikam: a second tenant with its own app and mailbox.
  const contoso = buildTenantState({
    domain: 'contoso.onmicrosoft.com',
    sharedMailboxes: [
      { address: 'support@contoso.onmicrosoft.com', sendAs: ['noreply@contoso.onmicrosoft.com'] },
      { address: 'billing@contoso.onmicrosoft.com' },
    ],
  });
  const fabrikam = buildTenantState({ domain: 'fabrikam.onmicrosoft.com', mailbox: 'alerts@fabrikam.onmicrosoft.com' });
  let token: string;

  before(async () => {
    emu = await startEmulator(mergeStates(contoso, fabrikam), { limits: false });
    token = await fetchToken(emu, contoso.tenantId, contoso.clientId, contoso.clientSecret!);
  });
  after(() => emu.stop());

  const transport = (user: string, accessToken = token) => nodemailer.createTransport({
    host: emu.smtp.host, port: emu.smtp.port, secure: false, requireTLS: true, forceAuth: true,
    tls: { ca: [emu.caPem] }, auth: { type: 'OAuth2', user, accessToken },
  });

  test('state: a mailbox is a user mailbox by default; a shared one has no licence', () => {
    const parsed = parseState({ tenants: [{ id: contoso.tenantId, domains: ['x.onmicrosoft.com'], mailboxes: [{ address: 'a@x.onmicrosoft.com' }] }] });
    assert.ok(parsed.ok);
    assert.equal(parsed.state.tenants[0]!.mailboxes[0]!.type, 'user');
    const support = contoso.state.tenants[0]!.mailboxes.find((m) => m.address === 'support@contoso.onmicrosoft.com')!;
    assert.equal(support.type, 'shared');
    assert.equal(support.licensed, false);
    assert.deepEqual(contoso.sharedMailboxes, ['support@contoso.onmicrosoft.com', 'billing@contoso.onmicrosoft.com']);
  });

  test('a shared mailbox as the XOAUTH2 user= is refused with 535 5.7.3 (the log says why)', async () => {
    const c = await RawSmtpClient.connectSecure(emu.smtp.port, emu.caPem);
    const reply = await c.send(`AUTH XOAUTH2 ${xoauth2('support@contoso.onmicrosoft.com', token)}`);
    c.close();
    assert.match(reply, AUTH_UNSUCCESSFUL);
    const session = emu.log().filter((e) => e.kind === 'smtp').at(-1)!;
    assert.ok(session.kind === 'smtp' && session.auth.some((a) => /support@contoso\.onmicrosoft\.com is a shared mailbox/.test(a.reason ?? '')), JSON.stringify(session));
  });

  test('signed in as noreply@ with Send As on support@: accepted, and the mailbox shows From = support@', async () => {
    emu.clearMessages();
    const t = transport(contoso.authorizedFrom);
    const info = await t.sendMail({ from: '"Support" <support@contoso.onmicrosoft.com>', to: 'customer@example.com', subject: 'Your ticket', text: 'Hello' });
    t.close();
    assert.match(info.response, /^250 2\.0\.0 OK /);
    const [m] = emu.messages();
    assert.equal(m!.from, 'support@contoso.onmicrosoft.com');
    assert.equal(m!.authenticatedAs, contoso.authorizedFrom);
    assert.match(emu.rawMessage(m!.id)!.toString(), /^From: "?Support"? <support@contoso\.onmicrosoft\.com>/m);
  });

  test('Send As missing: 554 5.2.252 SendAsDenied naming the signed-in mailbox and the From, exactly', async () => {
    const t = transport(contoso.authorizedFrom);
    await assert.rejects(t.sendMail({ from: 'billing@contoso.onmicrosoft.com', to: 'customer@example.com', subject: 'Invoice', text: 'x' }), (err: any) => {
      assert.equal(err.responseCode, 554);
      assert.equal(err.response, SEND_AS_DENIED(contoso.authorizedFrom, 'billing@contoso.onmicrosoft.com'));
      return true;
    });
    t.close();
  });

  test('a shared mailbox has no sign-in of its own: AUTH LOGIN is refused too', async () => {
    const c = await RawSmtpClient.connectSecure(emu.smtp.port, emu.caPem);
    const reply = await c.send(`AUTH PLAIN ${Buffer.from('\0support@contoso.onmicrosoft.com\0pw').toString('base64')}`);
    c.close();
    assert.match(reply, /^535 5\.7\.139 Authentication unsuccessful, basic authentication is disabled\./);
  });

  test('a second tenant: its own app gets its own token (its tid) and sends from its own mailbox', async () => {
    const other = await fetchToken(emu, 'fabrikam.onmicrosoft.com', fabrikam.clientId, fabrikam.clientSecret!);
    const claims = JSON.parse(Buffer.from(other.split('.')[1]!, 'base64url').toString());
    assert.equal(claims.tid, fabrikam.tenantId);
    assert.equal(claims.oid, fabrikam.servicePrincipalObjectId);
    assert.notEqual(fabrikam.tenantId, contoso.tenantId);
    emu.clearMessages();
    const t = transport('alerts@fabrikam.onmicrosoft.com', other);
    await t.sendMail({ from: 'alerts@fabrikam.onmicrosoft.com', to: 'ops@example.com', subject: 'up', text: 'x' });
    t.close();
    assert.equal(emu.messages()[0]!.authenticatedAs, 'alerts@fabrikam.onmicrosoft.com');
    // One tenant's secret does not open the other tenant (AADSTS700016: no such app there).
    await assert.rejects(fetchToken(emu, contoso.tenantId, fabrikam.clientId, fabrikam.clientSecret!), /AADSTS700016/);
    // And its token does not sign in to the other tenant's mailbox.
    const c = await RawSmtpClient.connectSecure(emu.smtp.port, emu.caPem);
    assert.match(await c.send(`AUTH XOAUTH2 ${xoauth2(contoso.authorizedFrom, other)}`), AUTH_UNSUCCESSFUL);
    c.close();
  });

  test('Graph: sendMail as noreply@ with From support@ (Send As) is accepted; with From billing@ it is ErrorSendAsDenied', async () => {
    const graphToken = await fetchToken(emu, contoso.tenantId, contoso.clientId, contoso.clientSecret!, GRAPH);
    const send = (from: string) => httpsRequest(`${emu.graph}/v1.0/users/${encodeURIComponent(contoso.authorizedFrom)}/sendMail`, {
      method: 'POST', ca: emu.caPem,
      headers: { Authorization: `Bearer ${graphToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: { subject: 's', body: { contentType: 'Text', content: 'b' }, from: { emailAddress: { address: from } }, toRecipients: [{ emailAddress: { address: 'to@example.com' } }] } }),
    });
    emu.clearMessages();
    const ok = await send('support@contoso.onmicrosoft.com');
    assert.equal(ok.status, 202, ok.body);
    assert.equal(emu.messages()[0]!.from, 'support@contoso.onmicrosoft.com');
    assertGraphError(await send('billing@contoso.onmicrosoft.com'), 403, 'ErrorSendAsDenied',
      'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.');
  });

  test('Graph reaches a shared mailbox without a licence (/users/{shared}/sendMail with Mail.Send)', async () => {
    const graphToken = await fetchToken(emu, contoso.tenantId, contoso.clientId, contoso.clientSecret!, GRAPH);
    const res = await httpsRequest(`${emu.graph}/v1.0/users/support@contoso.onmicrosoft.com/sendMail`, {
      method: 'POST', ca: emu.caPem,
      headers: { Authorization: `Bearer ${graphToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: { subject: 's', body: { contentType: 'Text', content: 'b' }, toRecipients: [{ emailAddress: { address: 'to@example.com' } }] } }),
    });
    assert.equal(res.status, 202, res.body);
  });
});

describe('the admin API directory: tenants, apps, mailboxes, FullAccess and Send As', () => {
  let emu: Emulator;
  before(async () => {
    emu = await startEmulator(undefined, { limits: false });
  });
  after(() => emu.stop());
  const admin = (path: string, method = 'GET', body?: unknown) => httpsRequest(`${emu.admin}${path}`, {
    method, ca: emu.caPem, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
  });

  test('the demo tenant has a shared mailbox the demo mailbox may send as', async () => {
    const demo = emu.demo!;
    assert.equal(demo.sharedMailbox, 'support@contoso.onmicrosoft.com');
    const view = (await admin('/directory')).json();
    const support = view.tenants[0].mailboxes.find((m: any) => m.address === demo.sharedMailbox);
    assert.deepEqual(support, { address: demo.sharedMailbox, type: 'shared', licensed: false, fullAccess: [], sendAs: [demo.authorizedFrom] });
    assert.ok(!JSON.stringify(view).includes(demo.clientSecret), 'the directory view carries no secret');
    const facts = (await admin(`/exchange?appId=${demo.clientId}&mailbox=${demo.authorizedFrom}&from=${demo.sharedMailbox}`)).json();
    assert.deepEqual(facts.fromMailbox, { address: demo.sharedMailbox, type: 'shared', sendAs: [demo.authorizedFrom] });
    assert.equal(facts.mailbox.type, 'user');
  });

  test('mailgate dev shows the demo shared mailbox and who has Send As on it', () => {
    const d = { service: { url: 'http://127.0.0.1:1' }, emulator: emu, dataDir: '/tmp/x', apiKey: 'k', credentials: { adminPasswordSource: 'env' } } as unknown as RunningDev;
    assert.match(devBanner(d, false), /^ {2}Shared mailbox: {2}support@contoso\.onmicrosoft\.com \(Send As granted to noreply@contoso\.onmicrosoft\.com;/m);
  });

  test('Send As granted and removed through the API changes what Exchange answers', async () => {
    const demo = emu.demo!;
    const created = await admin('/directory/mailboxes', 'POST', { address: 'billing@contoso.onmicrosoft.com', type: 'shared' });
    assert.equal(created.status, 201, created.body);
    assert.equal((await admin('/directory/mailboxes', 'POST', { address: 'billing@contoso.onmicrosoft.com' })).status, 409);
    assert.equal((await admin('/directory/mailboxes', 'POST', { address: 'x@nowhere.example' })).status, 404);
    const token = await fetchToken(emu, demo.tenantId, demo.clientId, demo.clientSecret);
    const sendAsBilling = async () => {
      const t = nodemailer.createTransport({ host: emu.smtp.host, port: emu.smtp.port, requireTLS: true, tls: { ca: [emu.caPem] }, auth: { type: 'OAuth2', user: demo.authorizedFrom, accessToken: token } });
      try {
        return (await t.sendMail({ from: 'billing@contoso.onmicrosoft.com', to: 'x@example.com', subject: 's', text: 't' })).response;
      } catch (err: any) {
        return err.response as string;
      } finally {
        t.close();
      }
    };
    assert.equal(await sendAsBilling(), SEND_AS_DENIED(demo.authorizedFrom, 'billing@contoso.onmicrosoft.com'));
    const granted = await admin('/directory/mailboxes/billing@contoso.onmicrosoft.com/send-as', 'POST', { trustee: demo.authorizedFrom });
    assert.equal(granted.status, 200, granted.body);
    assert.deepEqual(granted.json().sendAs, [demo.authorizedFrom]);
    assert.match(await sendAsBilling(), /^250 2\.0\.0 OK /);
    const removed = await admin(`/directory/mailboxes/billing@contoso.onmicrosoft.com/send-as/${demo.authorizedFrom}`, 'DELETE');
    assert.deepEqual(removed.json().sendAs, []);
    assert.match(await sendAsBilling(), /^554 5\.2\.252 /);
  });

  test('FullAccess on a shared mailbox for the app lets it sign in as the shared mailbox (Microsoft documents that set-up)', async () => {
    const demo = emu.demo!;
    const token = await fetchToken(emu, demo.tenantId, demo.clientId, demo.clientSecret);
    const auth = async () => {
      const c = await RawSmtpClient.connectSecure(emu.smtp.port, emu.caPem);
      try {
        return await c.send(`AUTH XOAUTH2 ${xoauth2(demo.sharedMailbox, token)}`);
      } finally {
        c.close();
      }
    };
    assert.match(await auth(), AUTH_UNSUCCESSFUL);
    assert.equal((await admin(`/directory/mailboxes/${demo.sharedMailbox}/full-access`, 'POST', { trustee: demo.servicePrincipalObjectId })).status, 200);
    assert.equal(await auth(), '235 2.7.0 Authentication successful');
    await admin(`/directory/mailboxes/${demo.sharedMailbox}/full-access/${demo.servicePrincipalObjectId}`, 'DELETE');
    assert.match(await auth(), AUTH_UNSUCCESSFUL);
  });

  test('a second app registration in the tenant and a second tenant, each with its own secret, service principal and token', async () => {
    const demo = emu.demo!;
    const app = await admin('/directory/apps', 'POST', { tenant: 'contoso.onmicrosoft.com', displayName: 'Billing', fullAccessOn: [demo.authorizedFrom] });
    assert.equal(app.status, 201, app.body);
    const second = app.json();
    assert.notEqual(second.clientId, demo.clientId);
    assert.notEqual(second.clientSecret, demo.clientSecret);
    const t2 = await fetchToken(emu, demo.tenantId, second.clientId, second.clientSecret);
    const claims2 = JSON.parse(Buffer.from(t2.split('.')[1]!, 'base64url').toString());
    assert.equal(claims2.oid, second.servicePrincipalObjectId);
    assert.equal(claims2.appid, second.clientId);
    const c = await RawSmtpClient.connectSecure(emu.smtp.port, emu.caPem);
    assert.equal(await c.send(`AUTH XOAUTH2 ${xoauth2(demo.authorizedFrom, t2)}`), '235 2.7.0 Authentication successful');
    c.close();

    const tenant = await admin('/directory/tenants', 'POST', { domain: 'fabrikam.onmicrosoft.com', sharedMailboxes: [{ address: 'help@fabrikam.onmicrosoft.com', sendAs: ['noreply@fabrikam.onmicrosoft.com'] }] });
    assert.equal(tenant.status, 201, tenant.body);
    const fab = tenant.json();
    assert.equal(fab.authorizedFrom, 'noreply@fabrikam.onmicrosoft.com');
    assert.deepEqual(fab.sharedMailboxes, ['help@fabrikam.onmicrosoft.com']);
    assert.equal((await admin('/directory/tenants', 'POST', { domain: 'fabrikam.onmicrosoft.com' })).status, 409);
    const t3 = await fetchToken(emu, 'fabrikam.onmicrosoft.com', fab.clientId, fab.clientSecret);
    emu.clearMessages();
    const t = nodemailer.createTransport({ host: emu.smtp.host, port: emu.smtp.port, requireTLS: true, tls: { ca: [emu.caPem] }, auth: { type: 'OAuth2', user: fab.authorizedFrom, accessToken: t3 } });
    await t.sendMail({ from: 'help@fabrikam.onmicrosoft.com', to: 'x@example.com', subject: 's', text: 't' });
    t.close();
    assert.equal(emu.messages()[0]!.from, 'help@fabrikam.onmicrosoft.com');
    assert.equal(emu.messages()[0]!.authenticatedAs, fab.authorizedFrom);
  });

  test('bad requests name the problem', async () => {
    const bad = await admin('/directory/mailboxes', 'POST', { address: 'not-an-address', type: 'room' });
    assert.equal(bad.status, 400);
    assert.ok(bad.json().problems.some((p: string) => p.startsWith('address:')));
    assert.ok(bad.json().problems.some((p: string) => p.startsWith('type:')));
    assert.equal((await admin('/directory/mailboxes/nobody@contoso.onmicrosoft.com/send-as', 'POST', { trustee: 'a@b.c' })).status, 404);
    assert.equal((await admin('/directory/mailboxes/nobody@contoso.onmicrosoft.com/owner', 'POST', { trustee: 'a@b.c' })).status, 404);
  });
});
