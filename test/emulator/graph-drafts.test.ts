// The emulated Graph's path for messages over 4 MB, over real HTTPS: create a draft (MIME or
// JSON; needs Mail.ReadWrite), add attachments inline or through an upload session (PUT byte
// ranges to the pre-authenticated upload URL, no Authorization), then send the draft (202).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { buildTenantState, mergeStates, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { fetchToken, httpsRequest } from '../helpers/emulator-client.js';
import { assertGraphError } from './graph-helpers.js';

const GRAPH = 'https://graph.microsoft.com/.default';
const MB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The decoded bytes of the attachment part named `name` in a raw message. */
function attachmentBytes(raw: string, name: string): Buffer {
  const at = raw.indexOf(`filename="${name}"`);
  assert.ok(at !== -1, `no attachment ${name}`);
  const start = raw.indexOf('\r\n\r\n', at) + 4;
  const end = raw.indexOf('\r\n--', start);
  return Buffer.from(raw.slice(start, end).replace(/\s+/g, ''), 'base64');
}

describe('Graph drafts, attachments, upload sessions and send', () => {
  let emu: Emulator;
  const rw = buildTenantState({ domain: 'contoso.onmicrosoft.com', consentedRoles: ['SMTP.SendAsApp', 'Mail.Send', 'Mail.ReadWrite'], extraMailboxes: [{ address: 'other@contoso.onmicrosoft.com' }] });
  const sendOnly = buildTenantState({ domain: 'sendonly.onmicrosoft.com' });
  let token: string;
  let sendOnlyToken: string;

  before(async () => {
    emu = await startEmulator(mergeStates(rw, sendOnly));
    token = await fetchToken(emu, rw.tenantId, rw.clientId, rw.clientSecret!, GRAPH);
    sendOnlyToken = await fetchToken(emu, sendOnly.tenantId, sendOnly.clientId, sendOnly.clientSecret!, GRAPH);
  });
  after(() => emu.stop());

  const users = (mailbox = rw.authorizedFrom) => `${emu.graph}/v1.0/users/${encodeURIComponent(mailbox)}`;
  const post = (url: string, body: string, contentType = 'application/json', bearer = token) =>
    httpsRequest(url, { method: 'POST', ca: emu.caPem, headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': contentType }, body });
  const put = (url: string, chunk: Buffer, range: string, headers: Record<string, string> = {}) =>
    httpsRequest(url, { method: 'PUT', ca: emu.caPem, headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': range, ...headers }, body: chunk });
  const mimeDraft = (extra = '') => Buffer.from([
    `From: ${rw.authorizedFrom}`, 'To: to@example.com', 'Bcc: hidden@example.com', 'Subject: Big one', 'Message-ID: <big-1@mailgate.test>',
    'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', `The file is attached.${extra}`, '',
  ].join('\r\n')).toString('base64');

  async function createMimeDraft(): Promise<string> {
    const res = await post(`${users()}/messages`, mimeDraft(), 'text/plain');
    assert.equal(res.status, 201, res.body);
    return res.json().id;
  }

  async function upload(draftId: string, bytes: Buffer, name: string, chunk = 3 * MB): Promise<void> {
    const session = await post(`${users()}/messages/${draftId}/attachments/createUploadSession`,
      JSON.stringify({ AttachmentItem: { attachmentType: 'file', name, size: bytes.length, contentType: 'application/octet-stream' } }));
    assert.equal(session.status, 201, session.body);
    const { uploadUrl, nextExpectedRanges } = session.json();
    assert.deepEqual(nextExpectedRanges, ['0-']);
    for (let start = 0; start < bytes.length; start += chunk) {
      const end = Math.min(start + chunk, bytes.length) - 1;
      const res = await put(uploadUrl, bytes.subarray(start, end + 1), `bytes ${start}-${end}/${bytes.length}`);
      if (end + 1 < bytes.length) {
        assert.equal(res.status, 200, res.body);
        assert.deepEqual(res.json().NextExpectedRanges, [String(end + 1)]);
      } else {
        assert.equal(res.status, 201, res.body);
        assert.equal(res.body, '');
        assert.match(String(res.headers.location), /Attachments\('/);
      }
    }
  }

  test('a 10 MB attachment: MIME draft → upload session in 3 MB ranges → send → 202, one message with the exact bytes', async () => {
    emu.clearMessages();
    const file = randomBytes(10 * MB);
    const draftId = await createMimeDraft();
    await upload(draftId, file, 'report.bin');
    const sent = await post(`${users()}/messages/${draftId}/send`, '');
    assert.equal(sent.status, 202, sent.body);
    assert.equal(sent.body, '');
    const [m] = emu.messages();
    assert.equal(emu.messages().length, 1);
    assert.equal(m!.transport, 'graph');
    assert.equal(m!.graph!.via, 'draft');
    assert.equal(m!.messageId, '<big-1@mailgate.test>');
    assert.deepEqual(m!.to, ['to@example.com', 'hidden@example.com']);
    const raw = emu.rawMessage(m!.id)!.toString('latin1');
    assert.doesNotMatch(raw, /^Bcc:/im);
    assert.match(raw, /^Content-Type: multipart\/mixed; boundary=/m);
    assert.match(raw, /The file is attached\./);
    assert.equal(sha(attachmentBytes(raw, 'report.bin')), sha(file));
    // The draft is gone once sent.
    assertGraphError(await post(`${users()}/messages/${draftId}/send`, ''), 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  });

  test('the draft\'s JSON: 201 with id, isDraft, the recipients and a Location', async () => {
    const res = await post(`${users()}/messages`, mimeDraft(), 'text/plain');
    assert.equal(res.status, 201);
    const d = res.json();
    assert.equal(d.isDraft, true);
    assert.match(d.id, /^AAMkAG[\w-]+$/);
    assert.equal(d.subject, 'Big one');
    assert.deepEqual(d.toRecipients, [{ emailAddress: { name: 'to@example.com', address: 'to@example.com' } }]);
    assert.equal(d.internetMessageId, '<big-1@mailgate.test>');
    assert.equal(res.headers.location, `${users()}/messages/${d.id}`);
    assert.match(String(res.headers['request-id']), /^[0-9a-f-]{36}$/);
  });

  test('a JSON draft with an inline-added small attachment and an uploaded big one, into a multipart/mixed root', async () => {
    emu.clearMessages();
    const created = await post(`${users()}/messages`, JSON.stringify({
      subject: 'JSON draft', body: { contentType: 'Text', content: 'see attachments' }, toRecipients: [{ emailAddress: { address: 'to@example.com' } }],
      attachments: [{ '@odata.type': '#microsoft.graph.fileAttachment', name: 'first.txt', contentBytes: Buffer.from('first').toString('base64') }],
    }));
    assert.equal(created.status, 201, created.body);
    const id = created.json().id;
    const small = await post(`${users()}/messages/${id}/attachments`, JSON.stringify({ '@odata.type': '#microsoft.graph.fileAttachment', name: 'small.txt', contentType: 'text/plain', contentBytes: Buffer.from('small one').toString('base64') }));
    assert.equal(small.status, 201, small.body);
    assert.equal(small.json().size, 9);
    const big = randomBytes(3 * MB + 17);
    await upload(id, big, 'big.bin', 2 * MB);
    assert.equal((await post(`${users()}/messages/${id}/send`, '')).status, 202);
    const raw = emu.rawMessage(emu.messages()[0]!.id)!.toString('latin1');
    assert.equal(attachmentBytes(raw, 'first.txt').toString(), 'first');
    assert.equal(attachmentBytes(raw, 'small.txt').toString(), 'small one');
    assert.equal(sha(attachmentBytes(raw, 'big.bin')), sha(big));
  });

  test('a MIME draft that is already multipart/mixed gets the uploaded attachment as one more part', async () => {
    emu.clearMessages();
    const raw = [`From: ${rw.authorizedFrom}`, 'To: to@example.com', 'Subject: mixed', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b1"', '',
      '--b1', 'Content-Type: text/plain', '', 'text part', '--b1', 'Content-Type: text/plain; name="a.txt"', 'Content-Disposition: attachment; filename="a.txt"', '', 'aaa', '--b1--', ''].join('\r\n');
    const res = await post(`${users()}/messages`, Buffer.from(raw).toString('base64'), 'text/plain');
    const big = randomBytes(3 * MB);
    await upload(res.json().id, big, 'c.bin');
    assert.equal((await post(`${users()}/messages/${res.json().id}/send`, '')).status, 202);
    const sent = emu.rawMessage(emu.messages()[0]!.id)!.toString('latin1');
    assert.equal(sent.match(/^--b1$/gm)!.length, 3);
    assert.match(sent, /--b1--\r\n$/);
    assert.equal(sha(attachmentBytes(sent, 'c.bin')), sha(big));
  });

  test('without Mail.ReadWrite no draft can be made: 403 ErrorAccessDenied', async () => {
    const res = await post(`${users(sendOnly.authorizedFrom)}/messages`, mimeDraft(), 'text/plain', sendOnlyToken);
    assertGraphError(res, 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
  });

  test('an upload session for less than 3 MB: 400 ErrorAttachmentSizeShouldNotBeLessThanMinimumSize', async () => {
    const id = await createMimeDraft();
    const res = await post(`${users()}/messages/${id}/attachments/createUploadSession`, JSON.stringify({ AttachmentItem: { attachmentType: 'file', name: 'x', size: 3 * MB - 1 } }));
    assertGraphError(res, 400, 'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize', 'Attachment size must be greater than the minimum size.');
  });

  test('the upload URL refuses an Authorization header, a range that does not continue, a chunk over 4 MB, a wrong authtoken', async () => {
    const id = await createMimeDraft();
    const session = await post(`${users()}/messages/${id}/attachments/createUploadSession`, JSON.stringify({ AttachmentItem: { attachmentType: 'file', name: 'x.bin', size: 9 * MB } }));
    const url: string = session.json().uploadUrl;
    assert.ok(url.startsWith(`${emu.graph}/api/v2.0/Users('`), url);
    const chunk = Buffer.alloc(MB);
    assertGraphError(await put(url, chunk, `bytes 0-${MB - 1}/${9 * MB}`, { Authorization: `Bearer ${token}` }), 400, 'ErrorInvalidRequest', 'The upload URL is pre-authenticated: send no Authorization header to it.');
    assertGraphError(await put(url, chunk, `bytes ${MB}-${2 * MB - 1}/${9 * MB}`), 416, 'ErrorInvalidRange', 'The Content-Range does not continue the upload at the next expected byte.');
    assertGraphError(await put(url, Buffer.alloc(4 * MB + 1), `bytes 0-${4 * MB}/${9 * MB}`), 413, 'RequestEntityTooLarge', 'The maximum request length supported is 4MB.');
    assertGraphError(await put(url.replace(/authtoken=.*/, 'authtoken=wrong'), chunk, `bytes 0-${MB - 1}/${9 * MB}`), 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    assert.equal((await put(url, chunk, `bytes 0-${MB - 1}/${9 * MB}`)).status, 200, 'the session survived the refusals');
    const logged = emu.log().filter((e) => e.kind === 'graph' && e.endpoint === 'upload');
    assert.ok(logged.every((e) => !JSON.stringify(e).includes('authtoken=')), 'the upload URL\'s token is never logged');
  });

  test('a draft is found only in its own mailbox; an unknown id: 404 ErrorItemNotFound', async () => {
    const id = await createMimeDraft();
    assertGraphError(await post(`${users('other@contoso.onmicrosoft.com')}/messages/${id}/send`, ''), 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    assertGraphError(await post(`${users()}/messages/AAMkAGnope/send`, ''), 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  });

  test('a draft over the mailbox\'s MaxSendSize: 413 ErrorMessageSizeExceeded at send', async () => {
    const small = await startEmulator(rw.state, { limits: { maxMessageSize: 4 * MB } });
    try {
      const t = await fetchToken(small, rw.tenantId, rw.clientId, rw.clientSecret!, GRAPH);
      const base = `${small.graph}/v1.0/users/${rw.authorizedFrom}`;
      const req = (url: string, body: string | Buffer, type: string, headers: Record<string, string> = { Authorization: `Bearer ${t}` }, method = 'POST') =>
        httpsRequest(url, { method, ca: small.caPem, headers: { 'Content-Type': type, ...headers }, body });
      const id = (await req(`${base}/messages`, mimeDraft(), 'text/plain')).json().id;
      const { uploadUrl } = (await req(`${base}/messages/${id}/attachments/createUploadSession`, JSON.stringify({ AttachmentItem: { name: 'x', size: 3 * MB + 1 } }), 'application/json')).json();
      assert.equal((await req(uploadUrl, Buffer.alloc(3 * MB + 1), 'application/octet-stream', { 'Content-Range': `bytes 0-${3 * MB}/${3 * MB + 1}` }, 'PUT')).status, 201);
      const res = await req(`${base}/messages/${id}/send`, '', 'application/json');
      assertGraphError(res, 413, 'ErrorMessageSizeExceeded', 'The message exceeds the maximum supported size.');
      assert.equal(small.messages().length, 0);
    } finally {
      await small.stop();
    }
  });
});
