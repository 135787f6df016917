/**
 * Byte-faithful relay delivery (issue 14 §4-5): a message submitted to the relay arrives at the
 * emulator's mailbox, sent with XOAUTH2, with the client's envelope, its body and every original
 * header byte for byte (only Received:, Message-ID and Date added at the top, Bcc: removed); it is
 * listed by GET /api/v1/messages with the relay client as its source, and counted for the client.
 * Also with nodemailer as the client (STARTTLS required, AUTH PLAIN/LOGIN as it chooses).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { listRelayClients } from '../../src/service/access/relay-clients.js';
import { dataOf, startRelayPair, type RelayPair } from './relay-helpers.js';

describe('SMTP relay delivery', () => {
  let p: RelayPair;
  before(async () => {
    p = await startRelayPair();
  });
  after(async () => {
    await p?.stop();
  });

  it('delivers the message byte for byte with the client envelope; only the documented header changes', async () => {
    const cred = await p.client({ name: 'erp-bytes' });
    const from = p.tenant.authorizedFrom;
    const header = [
      `From: =?utf-8?q?Z=C3=BCrich_ERP?= <${from}>`,
      'To: "Customer, Jane" <jane@example.com>',
      'Bcc: hidden@example.com',
      'Subject: Invoice 42 with a rather long subject line that is folded',
      '  onto a second line',
      'X-Custom:   spaced   value\t',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
    ].join('\r\n');
    const body = [
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Grüße aus Zürich',
      '.a line that starts with a dot',
      '..two dots',
      '--b1',
      'Content-Type: application/octet-stream; name="a.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from([0, 1, 2, 255, 254, 13, 10, 46]).toString('base64'),
      '--b1--',
      '',
    ].join('\r\n');
    const message = `${header}\r\n\r\n${body}`;
    const c = await p.connectAuthed(cred);
    assert.equal(await c.send(`MAIL FROM:<${from}> BODY=8BITMIME`), '250 2.1.0 Sender OK');
    for (const r of ['jane@example.com', 'hidden@example.com']) assert.equal(await c.send(`RCPT TO:<${r}>`), '250 2.1.5 Recipient OK');
    assert.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.write(Buffer.from(dataOf(message), 'utf8'));
    const reply = await c.readReply();
    const id = /^250 2\.0\.0 Ok: queued as (.+)$/.exec(reply)?.[1];
    assert.ok(id, reply);
    c.write('QUIT\r\n');
    await p.waitForStatus([id], 'sent');

    const stored = (await p.svc.store.get(id))!;
    const got = p.emulator.messages().find((m) => m.messageId === stored.messageIdHeader)!;
    assert.ok(got, 'arrived at the mailbox with the Message-ID the relay added');
    assert.equal(got.from, from);
    assert.deepEqual(got.to, ['jane@example.com', 'hidden@example.com'], 'the client envelope, Bcc recipient included');
    assert.equal(got.authenticatedAs, from);
    const raw = p.emulator.rawMessage(got.id)!;
    const original = Buffer.from(message, 'utf8');
    const headerEnd = raw.indexOf('\r\n\r\n');
    assert.ok(raw.subarray(headerEnd + 4).equals(original.subarray(original.indexOf('\r\n\r\n') + 4)), 'body byte for byte');
    const rawHeader = raw.subarray(0, headerEnd + 2).toString('latin1');
    // Added at the top, in this order, then the original fields minus Bcc, byte for byte.
    assert.match(rawHeader, /^Received: from client\.example \(\[127\.0\.0\.1\]\)\r\n\tby \S+ \(Mailgate\) with ESMTPSA id [0-9a-f-]{36};\r\n\t\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\nMessage-ID: <[^>]+>\r\nDate: [^\r]+\r\n/);
    const originalHeaderWithoutBcc = Buffer.from(header.replace('Bcc: hidden@example.com\r\n', '') + '\r\n', 'utf8').toString('latin1');
    assert.ok(rawHeader.endsWith(originalHeaderWithoutBcc), `original header fields kept byte for byte:\n${rawHeader}`);
    assert.ok(!/^Bcc:/im.test(rawHeader), 'Bcc removed');

    const listed = await p.api('GET', '/api/v1/messages?limit=50');
    const item = listed.json.items.find((m: { id: string }) => m.id === id);
    assert.equal(item.source, 'relay');
    assert.equal(item.relayClient, 'erp-bytes');
    assert.equal((await listRelayClients(p.svc.store)).find((x) => x.name === 'erp-bytes')!.messagesSent, 1);
  });

  it('nodemailer as the client: STARTTLS, AUTH, 250 with the queued id, delivered', async () => {
    const cred = await p.client({ name: 'app-nodemailer', allowFrom: [p.tenant.authorizedFrom] });
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: p.relayPort, secure: false, requireTLS: true, auth: { user: cred.username, pass: cred.password! }, tls: { ca: p.relayCa, servername: 'localhost' } });
    try {
      const info = await transport.sendMail({ from: p.tenant.authorizedFrom, to: 'bob@example.com', subject: 'from nodemailer', text: 'hello', attachments: [{ filename: 'x.txt', content: 'attached' }] });
      const id = /^250 2\.0\.0 Ok: queued as (.+)$/.exec(info.response)?.[1];
      assert.ok(id, info.response);
      await p.waitForStatus([id], 'sent');
      const got = p.emulator.messages().find((m) => m.subject === 'from nodemailer')!;
      assert.equal(got.messageId, info.messageId, 'the client\'s own Message-ID is kept');
      assert.match(p.emulator.rawMessage(got.id)!.toString(), /attached|YXR0YWNoZWQ=/);
      // A wrong password is refused with the pinned reply.
      const bad = nodemailer.createTransport({ host: '127.0.0.1', port: p.relayPort, secure: false, requireTLS: true, auth: { user: cred.username, pass: 'nope' }, tls: { ca: p.relayCa, servername: 'localhost' } });
      await assert.rejects(bad.sendMail({ from: p.tenant.authorizedFrom, to: 'bob@example.com', subject: 'x', text: 'x' }), (e: { response?: string }) => e.response === '535 5.7.8 Authentication credentials invalid');
      bad.close();
    } finally {
      transport.close();
    }
  });
});
