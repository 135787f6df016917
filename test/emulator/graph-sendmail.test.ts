// The emulated Microsoft Graph's sendMail over real HTTPS: the MIME and JSON bodies, Graph's
// 202 with request-id / client-request-id, the stored message marked `transport: 'graph'`, and
// Graph's error bodies (pinned) for the token, the permission, the user and the message.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildTenantState, mergeStates, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { fetchToken, httpsRequest } from '../helpers/emulator-client.js';
import { assertGraphError } from './graph-helpers.js';

const GRAPH = 'https://graph.microsoft.com/.default';
const OUTLOOK = 'https://outlook.office365.com/.default';

const mime = (from: string, to: string, extra = ''): string => [
  `From: Mailgate <${from}>`, `To: ${to}`, `Subject: Graph test ${extra}`, 'Message-ID: <graph-test-1@mailgate.test>',
  'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', `Hello through Graph ${extra}`, '',
].join('\r\n');

describe('Graph sendMail', () => {
  let emu: Emulator;
  const good = buildTenantState({ domain: 'contoso.onmicrosoft.com', extraMailboxes: [{ address: 'shared@contoso.onmicrosoft.com', sendAs: [] }] });
  const noMailSend = buildTenantState({ domain: 'nomailsend.onmicrosoft.com', consentedRoles: ['SMTP.SendAsApp'] });
  const unlicensed = buildTenantState({ domain: 'unlicensed.onmicrosoft.com', mailboxLicensed: false });
  const onPrem = buildTenantState({ domain: 'onprem.onmicrosoft.com', mailboxOnPremises: true });
  let token: string;

  before(async () => {
    emu = await startEmulator(mergeStates(good, noMailSend, unlicensed, onPrem));
    token = await fetchToken(emu, good.tenantId, good.clientId, good.clientSecret!, GRAPH);
  });
  after(() => emu.stop());

  const send = (user: string, body: string | Buffer, headers: Record<string, string>) =>
    httpsRequest(`${emu.graph}/v1.0/users/${encodeURIComponent(user)}/sendMail`, { method: 'POST', headers, body, ca: emu.caPem });
  const sendMime = (user: string, raw: string, bearer = token, extra: Record<string, string> = {}) =>
    send(user, Buffer.from(raw).toString('base64'), { Authorization: `Bearer ${bearer}`, 'Content-Type': 'text/plain', ...extra });

  test('the ready line names the Graph root (the HTTPS listener, like https://graph.microsoft.com)', () => {
    assert.equal(emu.graph, emu.authorityHost);
    assert.equal(JSON.parse(emu.readyLine()).graph, emu.authorityHost);
  });

  test('a base64 MIME message gets 202 Accepted, empty, with request-id and the client-request-id echoed', async () => {
    emu.clearMessages();
    const res = await sendMime(good.authorizedFrom, mime(good.authorizedFrom, 'someone@example.com'), token, { 'client-request-id': 'mailgate-42' });
    assert.equal(res.status, 202, res.body);
    assert.equal(res.body, '');
    assert.match(String(res.headers['request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(res.headers['client-request-id'], 'mailgate-42');
    const [m] = emu.messages();
    assert.equal(m!.transport, 'graph');
    assert.equal(m!.from, good.authorizedFrom);
    assert.deepEqual(m!.to, ['someone@example.com']);
    assert.equal(m!.messageId, '<graph-test-1@mailgate.test>', 'the client Message-ID is kept');
    assert.equal(m!.authenticatedAs, good.authorizedFrom);
    assert.deepEqual(m!.graph, { requestId: res.headers['request-id'], clientRequestId: 'mailgate-42', via: 'sendMail-mime', saveToSentItems: true });
    assert.equal(emu.rawMessage(m!.id)!.toString(), mime(good.authorizedFrom, 'someone@example.com'));
    const admin = await httpsRequest(`${emu.admin}/messages`, { ca: emu.caPem });
    assert.equal(admin.json()[0].transport, 'graph');
  });

  test('without a client-request-id the answer repeats the request-id in that header', async () => {
    const res = await sendMime(good.authorizedFrom, mime(good.authorizedFrom, 'someone@example.com'));
    assert.equal(res.status, 202);
    assert.equal(res.headers['client-request-id'], res.headers['request-id']);
  });

  test('Bcc recipients are taken from the MIME headers and the Bcc field is not kept in the sent copy', async () => {
    emu.clearMessages();
    const raw = mime(good.authorizedFrom, 'a@example.com').replace('To: a@example.com', 'To: a@example.com\r\nCc: b@example.com\r\nBcc: hidden@example.com');
    assert.equal((await sendMime(good.authorizedFrom, raw)).status, 202);
    const [m] = emu.messages();
    assert.deepEqual(m!.to, ['a@example.com', 'b@example.com', 'hidden@example.com']);
    assert.doesNotMatch(emu.rawMessage(m!.id)!.toString(), /^Bcc:/im);
  });

  test('a message without Message-ID gets one from Exchange', async () => {
    emu.clearMessages();
    const raw = mime(good.authorizedFrom, 'a@example.com').replace('Message-ID: <graph-test-1@mailgate.test>\r\n', '');
    assert.equal((await sendMime(good.authorizedFrom, raw)).status, 202);
    const [m] = emu.messages();
    assert.match(m!.messageId, /^<[\w-]+@\w+\.namprd\d\d\.prod\.outlook\.com>$/);
    assert.ok(emu.rawMessage(m!.id)!.toString().startsWith(`Message-ID: ${m!.messageId}\r\n`));
  });

  test('the path is case-insensitive like Graph\'s (/V1.0/Users/{id}/sendmail)', async () => {
    const res = await httpsRequest(`${emu.graph}/V1.0/Users/${good.authorizedFrom}/sendmail`, {
      method: 'POST', ca: emu.caPem, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' },
      body: Buffer.from(mime(good.authorizedFrom, 'a@example.com')).toString('base64'),
    });
    assert.equal(res.status, 202, res.body);
  });

  test('the user may be named by its object id', async () => {
    const res = await sendMime(good.userObjectId, mime(good.authorizedFrom, 'a@example.com'));
    assert.equal(res.status, 202, res.body);
  });

  test('a JSON message gets 202 and is composed into MIME with its attachments; saveToSentItems is recorded', async () => {
    emu.clearMessages();
    const res = await send(good.authorizedFrom, JSON.stringify({
      message: {
        subject: 'Grüße', body: { contentType: 'HTML', content: '<p>Hi</p>' },
        toRecipients: [{ emailAddress: { address: 'to@example.com', name: 'To' } }],
        bccRecipients: [{ emailAddress: { address: 'bcc@example.com' } }],
        internetMessageHeaders: [{ name: 'X-Mailgate-Id', value: '42' }],
        attachments: [{ '@odata.type': '#microsoft.graph.fileAttachment', name: 'a.txt', contentType: 'text/plain', contentBytes: Buffer.from('attached').toString('base64') }],
      },
      saveToSentItems: false,
    }), { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' });
    assert.equal(res.status, 202, res.body);
    const [m] = emu.messages();
    assert.equal(m!.subject, 'Grüße');
    assert.deepEqual(m!.to, ['to@example.com', 'bcc@example.com']);
    assert.equal(m!.graph!.via, 'sendMail-json');
    assert.equal(m!.graph!.saveToSentItems, false);
    const raw = emu.rawMessage(m!.id)!.toString();
    assert.match(raw, /^X-Mailgate-Id: 42$/m);
    assert.match(raw, /^Content-Type: multipart\/mixed; boundary=/m);
    assert.match(raw, /filename="a\.txt"/);
    assert.ok(raw.includes(Buffer.from('attached').toString('base64')));
    assert.doesNotMatch(raw, /^Bcc:/im);
  });

  // ---- 401: the token -------------------------------------------------------------------------
  test('no Authorization header: 401 InvalidAuthenticationToken "Access token is empty." with WWW-Authenticate', async () => {
    const res = await send(good.authorizedFrom, Buffer.from(mime(good.authorizedFrom, 'a@example.com')).toString('base64'), { 'Content-Type': 'text/plain' });
    assertGraphError(res, 401, 'InvalidAuthenticationToken', 'Access token is empty.');
    assert.match(String(res.headers['www-authenticate']), /^Bearer realm="", authorization_uri=".+\/common\/oauth2\/authorize", client_id="00000003-0000-0000-c000-000000000000"$/);
  });

  test('an Outlook (Exchange) token at Graph: 401 "Access token validation failure. Invalid audience."', async () => {
    const outlook = await fetchToken(emu, good.tenantId, good.clientId, good.clientSecret!, OUTLOOK);
    const res = await sendMime(good.authorizedFrom, mime(good.authorizedFrom, 'a@example.com'), outlook);
    assertGraphError(res, 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
    const entry = emu.log().filter((e) => e.kind === 'graph').at(-1)!;
    assert.match(String((entry as { reason?: string }).reason), /audience is https:\/\/outlook\.office365\.com/);
  });

  test('a token requested by Graph\'s app id (aud 00000003-...) is accepted', async () => {
    const byAppId = await fetchToken(emu, good.tenantId, good.clientId, good.clientSecret!, '00000003-0000-0000-c000-000000000000/.default');
    assert.equal(JSON.parse(Buffer.from(byAppId.split('.')[1]!, 'base64url').toString()).aud, '00000003-0000-0000-c000-000000000000');
    assert.equal((await sendMime(good.authorizedFrom, mime(good.authorizedFrom, 'a@example.com'), byAppId)).status, 202);
  });

  test('the national clouds\' Graph scopes give tokens for that Graph root, which the emulated Graph accepts', async () => {
    for (const root of ['https://graph.microsoft.us', 'https://dod-graph.microsoft.us', 'https://microsoftgraph.chinacloudapi.cn']) {
      const t = await fetchToken(emu, good.tenantId, good.clientId, good.clientSecret!, `${root}/.default`);
      const claims = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString());
      assert.equal(claims.aud, root);
      assert.deepEqual(claims.roles, ['Mail.Send']);
      assert.equal((await sendMime(good.authorizedFrom, mime(good.authorizedFrom, 'a@example.com'), t)).status, 202, root);
    }
  });

  test('a token that is not a JWT: 401 CompactToken parsing failed', async () => {
    assertGraphError(await sendMime(good.authorizedFrom, mime(good.authorizedFrom, 'a@example.com'), 'not-a-token'), 401, 'InvalidAuthenticationToken', 'CompactToken parsing failed with error code: 80049217');
  });

  test('a token with a broken signature: 401 "Access token validation failure."', async () => {
    const [h, p, s] = token.split('.');
    const forged = `${h}.${p}.${s!.slice(0, -4)}AAAA`;
    assertGraphError(await sendMime(good.authorizedFrom, mime(good.authorizedFrom, 'a@example.com'), forged), 401, 'InvalidAuthenticationToken', 'Access token validation failure.');
  });

  // ---- 403 / 404: permission and mailbox -------------------------------------------------------
  test('no Mail.Send application permission: 403 ErrorAccessDenied "Access is denied. Check credentials and try again."', async () => {
    const t = await fetchToken(emu, noMailSend.tenantId, noMailSend.clientId, noMailSend.clientSecret!, GRAPH);
    assertGraphError(await sendMime(noMailSend.authorizedFrom, mime(noMailSend.authorizedFrom, 'a@example.com'), t), 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
  });

  test('an address that is no mailbox of the tenant: 404 ErrorInvalidUser naming it', async () => {
    const user = 'typo@contoso.onmicrosoft.com';
    assertGraphError(await sendMime(user, mime(user, 'a@example.com')), 404, 'ErrorInvalidUser', `The requested user '${user}' is invalid.`);
  });

  test('an object id that names nobody: 404 ResourceNotFound', async () => {
    assertGraphError(await sendMime('11111111-2222-3333-4444-555555555555', mime(good.authorizedFrom, 'a@example.com')), 404, 'ResourceNotFound', 'Resource could not be discovered.');
  });

  test('a mailbox without an Exchange Online licence, or on-premises: MailboxNotEnabledForRESTAPI', async () => {
    for (const t of [unlicensed, onPrem]) {
      const tok = await fetchToken(emu, t.tenantId, t.clientId, t.clientSecret!, GRAPH);
      assertGraphError(await sendMime(t.authorizedFrom, mime(t.authorizedFrom, 'a@example.com'), tok), 404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.');
    }
  });

  test('From another mailbox without SendAs: 403 ErrorSendAsDenied', async () => {
    const res = await sendMime(good.authorizedFrom, mime('shared@contoso.onmicrosoft.com', 'a@example.com'));
    assertGraphError(res, 403, 'ErrorSendAsDenied', 'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.');
  });

  test('/me with an app-only token: 400 BadRequest', async () => {
    const res = await httpsRequest(`${emu.graph}/v1.0/me/sendMail`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' }, body: 'eA==', ca: emu.caPem });
    assertGraphError(res, 400, 'BadRequest', '/me request is only valid with delegated authentication flow.');
  });

  // ---- 400: the message ------------------------------------------------------------------------
  test('a text/plain body that is not base64: 400 ErrorMimeContentInvalidBase64String', async () => {
    const res = await send(good.authorizedFrom, 'From: x@y\r\n\r\nnot base64!', { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' });
    assertGraphError(res, 400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
  });

  test('a message with no recipients: 400 ErrorInvalidRecipients', async () => {
    const raw = mime(good.authorizedFrom, 'a@example.com').replace('To: a@example.com\r\n', '');
    assertGraphError(await sendMime(good.authorizedFrom, raw), 400, 'ErrorInvalidRecipients', "At least one recipient is not valid., A message can't be sent because it contains no recipients.");
  });

  test('a JSON body that is not JSON, or empty: 400 BadRequest', async () => {
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    assertGraphError(await send(good.authorizedFrom, '{"message": ', headers), 400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.');
    assertGraphError(await send(good.authorizedFrom, '', headers), 400, 'BadRequest', 'Empty Payload. JSON content expected.');
  });

  test('an internet message header that is not an x- header: 400 InvalidInternetMessageHeader', async () => {
    const res = await send(good.authorizedFrom, JSON.stringify({ message: { subject: 's', toRecipients: [{ emailAddress: { address: 'a@example.com' } }], internetMessageHeaders: [{ name: 'Precedence', value: 'bulk' }] } }),
      { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' });
    assertGraphError(res, 400, 'InvalidInternetMessageHeader', "The internet message header name 'Precedence' should start with 'x-' or 'X-'.");
  });

  test('neither the log, the stats nor the stored messages ever hold a token or the XOAUTH2-like secret material', async () => {
    const outlook = await fetchToken(emu, good.tenantId, good.clientId, good.clientSecret!, OUTLOOK);
    await sendMime(good.authorizedFrom, mime(good.authorizedFrom, 'a@example.com'), outlook);
    const everything = JSON.stringify([emu.log(), emu.stats(), emu.messages()]);
    for (const secret of [token, outlook, good.clientSecret!]) assert.equal(everything.includes(secret), false);
    const admin = await httpsRequest(`${emu.admin}/log`, { ca: emu.caPem });
    assert.ok(admin.json().some((e: { kind: string }) => e.kind === 'graph'));
    assert.equal(admin.body.includes(token), false);
  });

  test('the Graph token Graph accepts carries aud https://graph.microsoft.com and the Graph roles only (SMTP refuses it: smtp-auth.test.ts)', async () => {
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    assert.equal(payload.aud, 'https://graph.microsoft.com');
    assert.deepEqual(payload.roles, ['Mail.Send']);
  });
});

describe('Graph and an expired token', () => {
  test('a token past its exp: 401 "Lifetime validation failed, the token is expired."', async () => {
    const t = buildTenantState();
    // Entra back-dates nbf by five minutes; a 1-second lifetime makes a token that expires at once.
    const emu = await startEmulator(t.state, { tokenLifetimeSeconds: 1 });
    try {
      const token = await fetchToken(emu, t.tenantId, t.clientId, t.clientSecret!, GRAPH);
      await new Promise((r) => setTimeout(r, 1100));
      const res = await httpsRequest(`${emu.graph}/v1.0/users/${t.authorizedFrom}/sendMail`, {
        method: 'POST', ca: emu.caPem, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' }, body: Buffer.from(mime(t.authorizedFrom, 'a@example.com')).toString('base64'),
      });
      assertGraphError(res, 401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.');
    } finally {
      await emu.stop();
    }
  });
});
