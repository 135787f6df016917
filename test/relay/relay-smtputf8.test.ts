/**
 * SMTPUTF8 pass-through (RFC 6531), end to end: a relay client that says `MAIL FROM:<...>
 * SMTPUTF8` and sends a UTF-8 local part or UTF-8 header fields. The message reaches the
 * emulator's mailbox byte for byte (header and body), and the delivery to "Exchange" (which
 * advertises SMTPUTF8, as Exchange Online does: docs/m365.md) says SMTPUTF8 on its MAIL FROM when
 * the message needs it. An internationalised domain is delivered in its A-label (punycode) form,
 * which names the same domain.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SmtpSessionLogEntry } from '../../src/emulator/index.js';
import { dataOf, startRelayPair, type RelayPair } from './relay-helpers.js';

describe('SMTP relay: SMTPUTF8 pass-through', () => {
  let p: RelayPair;
  before(async () => {
    p = await startRelayPair();
  });
  after(async () => {
    await p?.stop();
  });

  /** Submit one message over a fresh authenticated connection; its queued id. */
  async function submit(o: { name: string; mailParams: string; to: string[]; message: string }): Promise<string> {
    const cred = await p.client({ name: o.name });
    const c = await p.connectAuthed(cred);
    const ehlo = await c.send('EHLO printer.local');
    assert.ok(ehlo.split('\n').some((l) => l.slice(4) === 'SMTPUTF8'), `SMTPUTF8 advertised: ${ehlo}`);
    assert.equal(await c.send(`MAIL FROM:<${p.tenant.authorizedFrom}>${o.mailParams}`), '250 2.1.0 Sender OK');
    for (const r of o.to) assert.equal(await c.send(`RCPT TO:<${r}>`), '250 2.1.5 Recipient OK');
    assert.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.write(Buffer.from(dataOf(o.message), 'utf8'));
    const reply = await c.readReply();
    const id = /^250 2\.0\.0 Ok: queued as (.+)$/.exec(reply)?.[1];
    assert.ok(id, reply);
    c.write('QUIT\r\n');
    return id;
  }

  /** The delivered copy: the mailbox entry, its raw bytes, and the MAIL FROM line the delivery used. */
  async function delivered(id: string): Promise<{ to: string[]; raw: Buffer; mailFrom: string; rcptTo: string[] }> {
    await p.waitForStatus([id], 'sent');
    const stored = (await p.svc.store.get(id))!;
    const got = p.emulator.messages().find((m) => m.messageId === stored.messageIdHeader);
    assert.ok(got, 'arrived at the mailbox');
    const session = p.emulator.log().find((e): e is SmtpSessionLogEntry => e.kind === 'smtp' && e.messages.includes(got.id));
    assert.ok(session, 'the emulator logged the session that carried it');
    // The n-th accepted MAIL FROM of the session carried its n-th stored message.
    const mails = session.commands.filter((c) => /^MAIL FROM:/i.test(c.command) && /^250/.test(c.reply ?? ''));
    const mailFrom = mails[session.messages.indexOf(got.id)]?.command ?? '';
    const rcptTo = session.commands.filter((c) => /^RCPT TO:/i.test(c.command)).map((c) => c.command);
    return { to: got.to, raw: p.emulator.rawMessage(got.id)!, mailFrom, rcptTo };
  }

  /** The original header fields end the delivered header byte for byte, and the body is unchanged. */
  function assertByteFaithful(raw: Buffer, header: string, body: string): void {
    const end = raw.indexOf('\r\n\r\n');
    assert.ok(raw.subarray(end + 4).equals(Buffer.from(body, 'utf8')), 'body byte for byte');
    const deliveredHeader = raw.subarray(0, end + 2);
    const original = Buffer.from(`${header}\r\n`, 'utf8');
    assert.ok(deliveredHeader.subarray(deliveredHeader.length - original.length).equals(original), `original UTF-8 header fields byte for byte:\n${deliveredHeader.toString('utf8')}`);
  }

  it('a UTF-8 local part and UTF-8 header fields: byte for byte at the mailbox, delivered with SMTPUTF8', async () => {
    const from = p.tenant.authorizedFrom;
    const header = [`From: Zürich ERP <${from}>`, 'To: Jörg Müller <jörg.müller@example.com>', 'Subject: Grüße – Rechnung №42', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit'].join('\r\n');
    const body = 'Grüße aus Zürich — 日本語も。\r\n';
    const id = await submit({ name: 'erp-utf8', mailParams: ' SMTPUTF8 BODY=8BITMIME', to: ['jörg.müller@example.com'], message: `${header}\r\n\r\n${body}` });
    const got = await delivered(id);
    assert.deepEqual(got.to, ['jörg.müller@example.com'], 'the UTF-8 local part as given');
    assert.match(got.mailFrom, / SMTPUTF8\b/, `the delivery's MAIL FROM: ${got.mailFrom}`);
    assertByteFaithful(got.raw, header, body);
  });

  let headersOnly: Awaited<ReturnType<typeof delivered>> | undefined;
  it('UTF-8 header fields with an ASCII envelope: byte for byte at the mailbox', async () => {
    const from = p.tenant.authorizedFrom;
    const header = [`From: Señor Escáner <${from}>`, 'To: <ana@example.com>', 'Subject: Documento escaneado – año 2026', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8'].join('\r\n');
    const body = 'Adjunto: ñandú.pdf\r\n';
    const id = await submit({ name: 'scanner-utf8', mailParams: ' SMTPUTF8', to: ['ana@example.com'], message: `${header}\r\n\r\n${body}` });
    headersOnly = await delivered(id);
    assertByteFaithful(headersOnly.raw, header, body);
  });

  // RFC 6531 §3.4 wants SMTPUTF8 on MAIL FROM for UTF-8 header fields too, not only for a UTF-8
  // address (all nodemailer looks at): the SMTP send path adds it (src/transport/smtp-pipeline.ts
  // `needsSmtpUtf8`).
  it('UTF-8 header fields with an ASCII envelope: the delivery says SMTPUTF8', () => {
    assert.ok(headersOnly, 'the previous test delivered the message');
    assert.match(headersOnly.mailFrom, /^MAIL FROM:<[\x00-\x7f]+> (?:.* )?SMTPUTF8\b/, `the delivery's MAIL FROM: ${headersOnly.mailFrom}`);
  });

  it('an internationalised domain is delivered in its A-label form; an ASCII message gets no SMTPUTF8', async () => {
    const from = p.tenant.authorizedFrom;
    const header = [`From: <${from}>`, 'To: <kunde@xn--bcher-kva.example>', 'Subject: plain ASCII', 'MIME-Version: 1.0', 'Content-Type: text/plain'].join('\r\n');
    const body = 'ascii only\r\n';
    const id = await submit({ name: 'erp-idn', mailParams: '', to: ['kunde@bücher.example'], message: `${header}\r\n\r\n${body}` });
    const got = await delivered(id);
    // On the wire to Exchange (the emulator's store shows the domain decoded again, as smtp-server does).
    assert.ok(got.rcptTo.includes('RCPT TO:<kunde@xn--bcher-kva.example>'), `the delivery's RCPT TO: ${got.rcptTo.join(' | ')}`);
    assert.ok((await p.svc.store.get(id))!.toSummary.includes('kunde@xn--bcher-kva.example'), 'stored with the A-label');
    assert.doesNotMatch(got.mailFrom, /SMTPUTF8/, `no SMTPUTF8 when nothing needs it: ${got.mailFrom}`);
    assertByteFaithful(got.raw, header, body);
  });

  it('an envelope address the delivery could not use is refused before the 250, not failed after it', async () => {
    const cred = await p.client({ name: 'erp-bad-domain' });
    const c = await p.connectAuthed(cred);
    assert.equal(await c.send(`MAIL FROM:<${p.tenant.authorizedFrom}> SMTPUTF8`), '250 2.1.0 Sender OK');
    for (const bad of ['user@exa_mple.com', 'user@xn--ü.example', 'user@ü_x.example']) {
      assert.equal(await c.send(`RCPT TO:<${bad}>`), '501 5.1.3 Bad recipient address syntax', bad);
    }
    assert.equal(await c.send('RCPT TO:<ok@example.com>'), '250 2.1.5 Recipient OK');
    c.write('QUIT\r\n');
  });
});
