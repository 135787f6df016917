// Sending through the emulated Exchange with nodemailer: the final DATA reply, what is stored
// (memory, admin API, data directory), and the SendAs rule at the end of DATA.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { buildTenantState, startEmulator, type BuiltTenant, type Emulator } from '../../src/emulator/index.js';
import { fetchToken, httpsRequest, RawSmtpClient, xoauth2 } from '../helpers/emulator-client.js';

const SEND_AS_DENIED = (auth: string, from: string) =>
  `554 5.2.252 SendAsDenied; ${auth} not allowed to send as ${from}; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message.`;

describe('sending messages', () => {
  let emulator: Emulator;
  let dataDir: string;
  let token: string;
  let tenant: BuiltTenant;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mailgate-emulator-test-'));
    tenant = buildTenantState({
      extraMailboxes: [
        // The service principal may send as "sales"; "support" lets the noreply mailbox send as it; "ceo" grants nothing.
        { address: 'sales@contoso.onmicrosoft.com', sendAs: [] },
        { address: 'support@contoso.onmicrosoft.com', sendAs: ['noreply@contoso.onmicrosoft.com'] },
        { address: 'ceo@contoso.onmicrosoft.com' },
      ],
    });
    tenant.state.tenants[0]!.mailboxes[1]!.sendAs = [tenant.servicePrincipalObjectId];
    emulator = await startEmulator(tenant.state, { dataDir, limits: false });
    token = await fetchToken(emulator, tenant.tenantId, tenant.clientId, tenant.clientSecret!);
  });
  after(async () => {
    await emulator.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const transport = () => nodemailer.createTransport({
    host: emulator.smtp.host, port: emulator.smtp.port, secure: false, requireTLS: true, forceAuth: true,
    tls: { ca: [emulator.caPem] }, // no servername: the certificate's IP SAN (127.0.0.1) must match
    auth: { type: 'OAuth2', user: tenant.authorizedFrom, accessToken: token },
  });

  test('nodemailer sends; the final reply is 250 2.0.0 OK <message-id> [Hostname=...]', async () => {
    const t = transport();
    const info = await t.sendMail({
      from: tenant.authorizedFrom, to: ['alice@example.com', 'bob@example.com'], subject: 'Grüße – hello', text: 'Hi!',
    });
    t.close();
    assert.match(info.response, new RegExp(`^250 2\\.0\\.0 OK ${info.messageId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\[Hostname=[A-Z]{2}\\dPR\\d\\dMB\\d{4}\\.namprd\\d\\d\\.prod\\.outlook\\.com\\]$`));
    assert.deepEqual(info.accepted, ['alice@example.com', 'bob@example.com']);
  });

  test('the message is listed with envelope, decoded subject and Message-ID, and its raw form is kept', async () => {
    const stored = emulator.messages().at(-1)!;
    assert.equal(stored.from, tenant.authorizedFrom);
    assert.deepEqual(stored.to, ['alice@example.com', 'bob@example.com']);
    assert.equal(stored.subject, 'Grüße – hello');
    assert.match(stored.messageId, /^<.+@.+>$/);
    assert.equal(stored.authenticatedAs, tenant.authorizedFrom);
    const raw = emulator.rawMessage(stored.id)!.toString();
    assert.match(raw, /^Content-Type: text\/plain/m);
    assert.equal(stored.size, emulator.rawMessage(stored.id)!.length);
  });

  test('the admin API lists the messages and serves the raw message', async () => {
    const list = await httpsRequest(`${emulator.admin}/messages`, { ca: emulator.caPem });
    assert.equal(list.status, 200);
    const [first] = list.json();
    assert.deepEqual(Object.keys(first).sort(), ['authenticatedAs', 'from', 'id', 'messageId', 'receivedAt', 'size', 'subject', 'to', 'transport']);
    assert.equal(first.transport, 'smtp');
    const raw = await httpsRequest(`${emulator.admin}/messages/${first.id}/raw`, { ca: emulator.caPem });
    assert.equal(raw.status, 200);
    assert.equal(raw.headers['content-type'], 'message/rfc822');
    assert.equal(raw.body, emulator.rawMessage(first.id)!.toString());
    assert.equal((await httpsRequest(`${emulator.admin}/messages/nope/raw`, { ca: emulator.caPem })).status, 404);
  });

  test('with a data directory, ca.pem and each message (.eml + .json) are written there', async () => {
    const files = await readdir(join(dataDir, 'messages'));
    const id = emulator.messages()[0]!.id;
    assert.ok(files.includes(`${id}.eml`) && files.includes(`${id}.json`));
    assert.equal(await readFile(join(dataDir, 'ca.pem'), 'utf8'), emulator.caPem);
    assert.equal(emulator.caFile, join(dataDir, 'ca.pem'));
  });

  test('a message without Message-ID gets one assigned by the server', async () => {
    const c = await RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem);
    await c.send(`AUTH XOAUTH2 ${xoauth2(tenant.authorizedFrom, token)}`);
    await c.send(`MAIL FROM:<${tenant.authorizedFrom}>`);
    await c.send('RCPT TO:<x@example.com>');
    await c.send('DATA');
    const reply = await c.send(`From: ${tenant.authorizedFrom}\r\nSubject: no id\r\n\r\nbody\r\n.`);
    c.close();
    assert.match(reply, /^250 2\.0\.0 OK <[^>]+@[A-Z0-9]+\.namprd\d\d\.prod\.outlook\.com> \[Hostname=/);
  });

  test('From header of another mailbox without SendAs: 554 5.2.252 SendAsDenied at the end of DATA', async () => {
    const t = transport();
    await assert.rejects(t.sendMail({ from: 'ceo@contoso.onmicrosoft.com', to: 'x@example.com', subject: 's', text: 't', envelope: { from: tenant.authorizedFrom, to: ['x@example.com'] } }), (err: any) => {
      assert.equal(err.responseCode, 554);
      assert.equal(err.response, SEND_AS_DENIED(tenant.authorizedFrom, 'ceo@contoso.onmicrosoft.com'));
      return true;
    });
    t.close();
    const session = emulator.log().filter((e) => e.kind === 'smtp').at(-1)!;
    assert.ok(session.kind === 'smtp' && session.notes.some((n) => /does not grant SendAs/.test(n)));
  });

  test('an envelope sender of another mailbox without SendAs is refused the same way', async () => {
    const c = await RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem);
    await c.send(`AUTH XOAUTH2 ${xoauth2(tenant.authorizedFrom, token)}`);
    assert.equal(await c.send('MAIL FROM:<ceo@contoso.onmicrosoft.com>'), '250 2.1.0 Sender OK');
    await c.send('RCPT TO:<x@example.com>');
    await c.send('DATA');
    assert.equal(await c.send(`From: ${tenant.authorizedFrom}\r\nSubject: s\r\n\r\nb\r\n.`), SEND_AS_DENIED(tenant.authorizedFrom, 'ceo@contoso.onmicrosoft.com'));
    // the session survives a refused message
    assert.equal(await c.send('NOOP'), '250 2.0.0 OK');
    c.close();
  });

  test('an address outside the tenant as From is refused too', async () => {
    const t = transport();
    await assert.rejects(t.sendMail({ from: 'someone@gmail.com', to: 'x@example.com', subject: 's', text: 't', envelope: { from: tenant.authorizedFrom, to: ['x@example.com'] } }), (err: any) => err.responseCode === 554);
    t.close();
  });

  test('SendAs granted to the service principal (oid) lets the app send as that mailbox', async () => {
    const t = transport();
    const info = await t.sendMail({ from: 'sales@contoso.onmicrosoft.com', to: 'x@example.com', subject: 's', text: 't' });
    t.close();
    assert.match(info.response, /^250 2\.0\.0 OK /);
  });

  test('SendAs granted to the authenticated mailbox works as well', async () => {
    const t = transport();
    const info = await t.sendMail({ from: '"Support" <support@contoso.onmicrosoft.com>', to: 'x@example.com', subject: 's', text: 't' });
    t.close();
    assert.match(info.response, /^250 /);
  });

  test('the stats count accepted and refused messages', () => {
    const stats = emulator.stats();
    assert.ok(stats.messagesAccepted >= 4);
    assert.ok(stats.messagesRejected >= 3);
  });
});
