/**
 * relay-message.ts: the only changes the relay makes to a message (Received, Message-ID and Date
 * when missing, Bcc removed, the From rewrite), on edge cases: folded and repeated Bcc, a
 * message without a body or a From, an existing Reply-To, bare LF line ends, dot-unstuffing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressesOf, normaliseLineEnds, prepareRelayMessage } from '../../src/service/intake/relay/relay-message.js';
import { envelopeAddress, unstuff } from '../../src/service/intake/relay/smtp-connection.js';

const base = { received: 'from x ([127.0.0.1])', messageId: '<new@contoso.com>', now: new Date(Date.UTC(2026, 11, 3, 10, 0, 0)), envelopeFrom: 'a@contoso.com', mayUse: (a: string) => a.toLowerCase() === 'a@contoso.com', fromPolicy: 'reject' as const };

function run(message: string, over: Partial<Parameters<typeof prepareRelayMessage>[0]> = {}) {
  const r = prepareRelayMessage({ ...base, message: Buffer.from(message, 'latin1'), ...over });
  return r.ok ? { ...r, text: r.message.toString('latin1') } : r;
}

describe('relay message preparation', () => {
  it('removes every Bcc field, folded ones included, and keeps all other bytes', () => {
    const r = run('From: <a@contoso.com>\r\nBcc: x@example.com,\r\n y@example.com\r\nTo: t@example.com\r\nbcc: z@example.com\r\nMessage-ID: <m@x>\r\nDate: Thu, 3 Dec 2026 10:00:00 +0000\r\n\r\nBody\r\n') as { text: string };
    assert.equal(r.text, 'Received: from x ([127.0.0.1])\r\nFrom: <a@contoso.com>\r\nTo: t@example.com\r\nMessage-ID: <m@x>\r\nDate: Thu, 3 Dec 2026 10:00:00 +0000\r\n\r\nBody\r\n');
  });

  it('adds Message-ID, Date and (without one) From at the top', () => {
    const r = run('Subject: hi\r\n\r\nx\r\n') as { text: string; messageId: string; subject: string };
    assert.equal(r.text, 'Received: from x ([127.0.0.1])\r\nFrom: <a@contoso.com>\r\nMessage-ID: <new@contoso.com>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\nSubject: hi\r\n\r\nx\r\n');
    assert.equal(r.messageId, '<new@contoso.com>');
    assert.equal(r.subject, 'hi');
  });

  it('a header-only message without a final line end still gets a well-formed header', () => {
    const r = run('From: <a@contoso.com>\r\nMessage-ID: <m@x>\r\nDate: d\r\nSubject: no body') as { text: string };
    assert.ok(r.text.endsWith('Subject: no body\r\n'));
  });

  it('reject policy: a From the client may not use is refused, naming it', () => {
    assert.deepEqual(run('From: Boss <ceo@contoso.com>\r\n\r\nx'), { ok: false, refusedFrom: 'ceo@contoso.com' });
    assert.deepEqual(run('From: <a@contoso.com>, <ceo@contoso.com>\r\n\r\nx'), { ok: false, refusedFrom: 'ceo@contoso.com' });
  });

  it('rewrite policy: From replaced (display name kept), original in Reply-To unless one exists', () => {
    const r = run('From: "Scan, Floor 2"\r\n <scanner@printer.local>\r\nSubject: s\r\n\r\nx', { fromPolicy: 'rewrite', rewriteTo: 'a@contoso.com' }) as { text: string; rewritten: boolean };
    assert.ok(r.rewritten);
    assert.match(r.text, /\r\nFrom: "Scan, Floor 2" <a@contoso\.com>\r\nSubject: s\r\n/);
    assert.match(r.text, /\r\nReply-To: "Scan, Floor 2" <scanner@printer\.local>\r\n/);
    const kept = run('From: <scanner@printer.local>\r\nReply-To: <desk@contoso.com>\r\n\r\nx', { fromPolicy: 'rewrite', rewriteTo: 'a@contoso.com' }) as { text: string };
    assert.equal((kept.text.match(/Reply-To:/g) ?? []).length, 1);
    assert.match(kept.text, /Reply-To: <desk@contoso\.com>/);
  });

  it('line ends: bare LF and bare CR become CRLF; CRLF input is returned untouched (same buffer)', () => {
    assert.equal(normaliseLineEnds(Buffer.from('a\nb\rc\r\nd')).toString(), 'a\r\nb\r\nc\r\nd');
    const crlf = Buffer.from('a\r\nb\r\n');
    assert.equal(normaliseLineEnds(crlf), crlf);
  });

  it('dot-unstuffing removes one leading dot per line', () => {
    assert.equal(unstuff(Buffer.from('..a\r\n...b\r\nc.\r\n')).toString(), '.a\r\n..b\r\nc.\r\n');
  });

  it('addresses in a From value: angle brackets, bare lists, quoted commas and comments', () => {
    assert.deepEqual(addressesOf('"Doe, John" <j@x.com>'), ['j@x.com']);
    assert.deepEqual(addressesOf('a@x.com, b@y.com'), ['a@x.com', 'b@y.com']);
    assert.deepEqual(addressesOf('a@x.com (Alice)'), ['a@x.com']);
  });

  it('envelope addresses: a UTF-8 local part is kept, an internationalised domain becomes its A-label, what the delivery refuses is undefined', () => {
    assert.equal(envelopeAddress('jörg.müller@example.com'), 'jörg.müller@example.com');
    assert.equal(envelopeAddress('kunde@bücher.example'), 'kunde@xn--bcher-kva.example');
    assert.equal(envelopeAddress('KUNDE@Bücher.Example'), 'KUNDE@xn--bcher-kva.example');
    assert.equal(envelopeAddress('plain@Example.COM'), 'plain@Example.COM', 'an ASCII domain is kept as given');
    for (const bad of ['user@exa_mple.com', 'user@xn--ü.example', 'user@ü_x.example', 'no-at-sign', 'a b@example.com', 'x@[127.0.0.1]']) assert.equal(envelopeAddress(bad), undefined, bad);
  });
});
