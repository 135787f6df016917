// The pipelined send's reply mapping (src/transport/smtp-pipeline.ts), without sockets: every
// reply position of a MAIL FROM / RCPT TO… / BDAT LAST batch failing in turn, with Exchange
// Online's own reply texts (docs/m365.md §4), mapped to the same errors (code, phase, retryable,
// raw reply, diagnosis) as nodemailer's one-command-at-a-time replies are today.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MailgateError } from '../../src/core/errors.js';
import { diagnose } from '../../src/core/diagnosis/index.js';
import { smtpErrorToMailgate } from '../../src/transport/smtp-errors.js';
import { buildBatch, extensionKeywords, headerHasUtf8, mapBatchReplies, needsSmtpUtf8, pathFor, sayingSmtpUtf8, sendBatch, type BatchReplies, type ReplyChannel } from '../../src/transport/smtp-pipeline.js';

const ctx = { host: 'smtp.office365.com', port: 587, connected: true };
const FRONT = 'SN4PR0501CA0054.namprd05.prod.outlook.com';

// Exchange Online's replies (docs/m365.md §4, verbatim; host names filled in).
const OK = {
  mail: '250 2.1.0 Sender OK',
  rcpt: '250 2.1.5 Recipient OK',
  bdat: `250 2.0.0 OK <a1b2@contoso.com> [Hostname=BN0PR04MB8080.namprd05.prod.outlook.com]`,
};
const EXCHANGE = {
  notAuthenticated: `530 5.7.57 Client not authenticated to send mail. [${FRONT}]`,
  badOutboundSender: '550 5.1.8 Access denied, bad outbound sender',
  tenantThreshold: '550 5.7.705 Access denied, tenant has exceeded threshold',
  unregisteredDomains: '550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains',
  tooManyRecipientsThrottled: '550 5.2.254 Sender throttled due to continuous too many recipients errors.',
  invalidRecipientsThrottled: '550 5.2.255 Sender throttled due to continuous invalid recipients errors.',
  concurrent: '432 4.3.2 Concurrent connections limit exceeded.',
  threadLimit: `432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=${FRONT}]`,
  serviceNotActive: `421 4.3.2 Service not active [${FRONT}]`,
  prx4: `451 4.7.0 Temporary server error. Please try again later. PRX4 [${FRONT}]`,
  sendAsDenied: '554 5.2.252 SendAsDenied; noreply@contoso.com not allowed to send as ceo@contoso.com; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message.',
  noSendAsPermission: `550 5.7.60 SMTP; Client does not have permissions to send as this sender [${FRONT}]`,
  quota: '554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException',
  mailboxFull: '554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded',
  // What Exchange answers to BDAT when no recipient was accepted (its "Need rcpt command").
  needRcpt: '503 5.5.2 Need rcpt command',
};

const TO = ['a@example.com', 'b@example.com', 'c@example.com'];

/** Today's mapping of the same reply at the same command (nodemailer's error shape). */
function today(command: 'MAIL FROM' | 'RCPT TO' | 'DATA', response: string) {
  return smtpErrorToMailgate({ code: command === 'DATA' ? 'EMESSAGE' : 'EENVELOPE', command, response, responseCode: Number(response.slice(0, 3)), message: 'x' }, ctx);
}

function mapped(replies: BatchReplies, to = TO): MailgateError {
  const outcome = mapBatchReplies({ to }, replies);
  assert.equal(outcome.ok, false, 'the batch fails');
  if (outcome.ok) throw new Error('unreachable');
  return smtpErrorToMailgate(outcome.error, ctx);
}

function assertSameAsToday(pipelined: MailgateError, expected: MailgateError, raw: string) {
  assert.equal(pipelined.code, expected.code, 'code');
  assert.equal(pipelined.phase, expected.phase, 'phase');
  assert.equal(pipelined.retryable, expected.retryable, 'retryable');
  assert.equal(pipelined.reply, raw, 'the raw reply');
  assert.equal(pipelined.smtp?.code, expected.smtp?.code);
  assert.equal(pipelined.smtp?.enhanced, expected.smtp?.enhanced);
  const d = diagnose(pipelined, { authorizedFrom: 'noreply@contoso.com' });
  assert.equal(d.id, diagnose(expected, { authorizedFrom: 'noreply@contoso.com' }).id, 'the same diagnosis');
}

describe('the reply at each position of a pipelined batch', () => {
  for (const [name, reply] of Object.entries({ notAuthenticated: EXCHANGE.notAuthenticated, badOutboundSender: EXCHANGE.badOutboundSender, tenantThreshold: EXCHANGE.tenantThreshold, unregisteredDomains: EXCHANGE.unregisteredDomains, prx4: EXCHANGE.prx4 })) {
    test(`MAIL FROM refused (${name}): that reply decides, whatever came after it`, () => {
      // After a refused MAIL FROM, Exchange refuses every RCPT and the BDAT (no transaction).
      const e = mapped({ mail: reply, rcpt: TO.map(() => '503 5.5.2 Need mail command'), bdat: '503 5.5.2 Need mail command' });
      assertSameAsToday(e, today('MAIL FROM', reply), reply);
      assert.equal(e.smtp?.command, 'MAIL FROM');
    });
  }

  test('MAIL FROM refused: no RSET (no transaction is open)', () => {
    const o = mapBatchReplies({ to: TO }, { mail: EXCHANGE.badOutboundSender, rcpt: TO.map(() => '503 5.5.2 Need mail command'), bdat: '503 5.5.2 Need mail command' });
    assert.equal(o.reset, false);
  });

  TO.forEach((rcpt, i) => {
    test(`RCPT TO #${i + 1} of ${TO.length} refused (5xx): a success that lists ${rcpt} as rejected, as today`, () => {
      const rcptReplies = TO.map((_, j) => (j === i ? EXCHANGE.invalidRecipientsThrottled : OK.rcpt));
      const o = mapBatchReplies({ to: TO }, { mail: OK.mail, rcpt: rcptReplies, bdat: OK.bdat });
      assert.ok(o.ok);
      if (!o.ok) return;
      assert.deepEqual(o.result.rejected, [rcpt]);
      assert.deepEqual(o.result.accepted, TO.filter((r) => r !== rcpt));
      assert.equal(o.result.response, OK.bdat);
    });
    test(`RCPT TO #${i + 1} deferred (4xx): the same partial success`, () => {
      const o = mapBatchReplies({ to: TO }, { mail: OK.mail, rcpt: TO.map((_, j) => (j === i ? EXCHANGE.concurrent : OK.rcpt)), bdat: OK.bdat });
      assert.ok(o.ok && o.result.rejected.length === 1 && o.result.rejected[0] === rcpt);
    });
  });

  test('every RCPT TO refused (5xx): the last refusal, permanent, as today; BDAT LAST still got its reply and RSET follows', () => {
    const rcpt = [EXCHANGE.tooManyRecipientsThrottled, EXCHANGE.invalidRecipientsThrottled, EXCHANGE.invalidRecipientsThrottled];
    const o = mapBatchReplies({ to: TO }, { mail: OK.mail, rcpt, bdat: EXCHANGE.needRcpt });
    assert.equal(o.ok, false);
    assert.equal(o.reset, true, 'the transaction (MAIL FROM accepted) is reset');
    const e = mapped({ mail: OK.mail, rcpt, bdat: EXCHANGE.needRcpt });
    assertSameAsToday(e, today('RCPT TO', EXCHANGE.invalidRecipientsThrottled), EXCHANGE.invalidRecipientsThrottled);
    assert.equal(e.code, 'SMTP_REJECTED');
    assert.equal(e.smtp?.command, 'RCPT TO');
  });

  test('every RCPT TO refused, one of them deferred: the deferral decides (retryable), as nodemailer does', () => {
    const rcpt = [EXCHANGE.invalidRecipientsThrottled, EXCHANGE.threadLimit, EXCHANGE.invalidRecipientsThrottled];
    const e = mapped({ mail: OK.mail, rcpt, bdat: EXCHANGE.needRcpt });
    assertSameAsToday(e, today('RCPT TO', EXCHANGE.threadLimit), EXCHANGE.threadLimit);
    assert.equal(e.code, 'SMTP_TRANSIENT');
    assert.equal(e.retryable, true);
  });

  for (const [name, reply] of Object.entries({ sendAsDenied: EXCHANGE.sendAsDenied, noSendAsPermission: EXCHANGE.noSendAsPermission, quota: EXCHANGE.quota, mailboxFull: EXCHANGE.mailboxFull, threadLimit: EXCHANGE.threadLimit, prx4: EXCHANGE.prx4 })) {
    test(`BDAT LAST refused (${name}): the same error as a refused DATA today, at BDAT; RSET follows`, () => {
      const o = mapBatchReplies({ to: TO }, { mail: OK.mail, rcpt: TO.map(() => OK.rcpt), bdat: reply });
      assert.equal(o.ok, false);
      assert.equal(o.reset, true);
      const e = mapped({ mail: OK.mail, rcpt: TO.map(() => OK.rcpt), bdat: reply });
      assertSameAsToday(e, today('DATA', reply), reply);
      assert.equal(e.smtp?.command, 'BDAT');
      assert.match(e.message, /at BDAT: /);
    });
  }

  test('all replies positive: the BDAT reply is the response, nobody rejected', () => {
    const o = mapBatchReplies({ to: TO }, { mail: OK.mail, rcpt: TO.map(() => OK.rcpt), bdat: OK.bdat });
    assert.deepEqual(o, { ok: true, reset: false, result: { response: OK.bdat, accepted: TO, rejected: [] } });
  });

  test('a multi-line reply is kept whole', () => {
    const multi = '550-5.7.708 Access denied,\n550 5.7.708 traffic not accepted from this IP';
    const e = mapped({ mail: multi, rcpt: ['503 5.5.2 Need mail command'], bdat: '503 5.5.2 Need mail command' }, ['a@example.com']);
    assert.equal(e.code, 'SMTP_REJECTED');
    assert.equal(e.smtp?.code, 550);
  });
});

/** A reply channel that records the write and answers with scripted replies. */
function scripted(replies: string[]): ReplyChannel & { written: Buffer[]; handlers: number } {
  const handlers: Array<(r: string) => void> = [];
  const ch = {
    written: [] as Buffer[],
    handlers: 0,
    write(bytes: Buffer) {
      ch.written.push(bytes);
      // Like nodemailer: one reply per queued handler, in order; a 421 ends the connection.
      for (const r of replies) {
        const h = handlers.shift();
        if (!h) break;
        h(r);
        if (/^421 /.test(r)) break;
      }
    },
    expectReply(h: (r: string) => void) {
      ch.handlers++;
      handlers.push(h);
    },
  };
  return ch;
}

describe('one batch on the wire', () => {
  test('MAIL FROM, every RCPT TO and BDAT <exact size> LAST, then the bytes unchanged (no dot-stuffing), in one write', async () => {
    const raw = Buffer.from('Subject: dots\r\n\r\n.\r\n..leading dots stay as they are\r\n.', 'utf8');
    const ch = scripted([OK.mail, OK.rcpt, OK.rcpt, OK.bdat]);
    const o = await sendBatch(ch, { from: 'noreply@contoso.com', to: ['a@example.com', 'b@example.com'] }, raw, true);
    assert.ok(o.ok);
    assert.equal(ch.written.length, 1, 'one write');
    assert.equal(ch.handlers, 4, 'one reply expected per command');
    const head = `MAIL FROM:<noreply@contoso.com>\r\nRCPT TO:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nBDAT ${raw.length} LAST\r\n`;
    assert.deepEqual(ch.written[0], Buffer.concat([Buffer.from(head), raw]));
  });

  test('SMTPUTF8 only for a non-ASCII address on a server that offers it', () => {
    const raw = Buffer.from('x');
    assert.match(buildBatch({ from: 'nöreply@contoso.com', to: ['a@example.com'] }, raw, true).toString('utf8'), /^MAIL FROM:<nöreply@contoso\.com> SMTPUTF8\r\n/);
    assert.match(buildBatch({ from: 'nöreply@contoso.com', to: ['a@example.com'] }, raw, false).toString('utf8'), /^MAIL FROM:<nöreply@contoso\.com>\r\n/);
    assert.match(buildBatch({ from: 'noreply@contoso.com', to: ['a@example.com'] }, raw, true).toString('utf8'), /^MAIL FROM:<noreply@contoso\.com>\r\n/);
  });

  test('SMTPUTF8 for UTF-8 header fields with an ASCII envelope, on a server that offers it', () => {
    const raw = Buffer.from('From: Señor Escáner <noreply@contoso.com>\r\nSubject: año\r\n\r\nbody\r\n', 'utf8');
    const env = { from: 'noreply@contoso.com', to: ['a@example.com'] };
    assert.match(buildBatch(env, raw, true).toString('utf8'), /^MAIL FROM:<noreply@contoso\.com> SMTPUTF8\r\nRCPT TO:<a@example\.com>\r\n/);
    // Not offered: as before, without the keyword (the message is still sent).
    assert.match(buildBatch(env, raw, false).toString('utf8'), /^MAIL FROM:<noreply@contoso\.com>\r\n/);
    // 8-bit body text alone does not need SMTPUTF8.
    assert.match(buildBatch(env, Buffer.from('Subject: plain\r\n\r\nGrüße\r\n', 'utf8'), true).toString('utf8'), /^MAIL FROM:<noreply@contoso\.com>\r\n/);
  });

  test('an address with CR/LF or angle brackets, or no recipient, is refused before anything is written', () => {
    for (const env of [{ from: 'a@b.c\r\nRSET', to: ['x@y.z'] }, { from: 'a@b.c', to: ['x@y.z>'] }, { from: 'a@b.c', to: [] as string[] }]) {
      assert.throws(() => buildBatch(env, Buffer.from('x'), true), (e: unknown) => e instanceof MailgateError && e.code === 'ARGUMENT_INVALID');
    }
  });

  test('a 421 after a refused MAIL FROM: the MAIL FROM refusal still decides', async () => {
    const o = await sendBatch(scripted([EXCHANGE.badOutboundSender, EXCHANGE.serviceNotActive]), { from: 'noreply@contoso.com', to: TO }, Buffer.from('x'), false);
    assert.ok(!o.ok && o.error.response === EXCHANGE.badOutboundSender && o.error.command === 'MAIL FROM');
  });

  test('a 421 in the middle ends the batch at once with that reply (no more replies will come)', async () => {
    const ch = scripted([OK.mail, EXCHANGE.serviceNotActive]);
    const o = await sendBatch(ch, { from: 'noreply@contoso.com', to: TO }, Buffer.from('x'), false);
    assert.equal(o.ok, false);
    if (o.ok) return;
    assert.equal(o.reset, false, 'no RSET on a closing connection');
    const e = smtpErrorToMailgate(o.error, ctx);
    assert.equal(e.code, 'SMTP_TRANSIENT');
    assert.equal(e.reply, EXCHANGE.serviceNotActive);
    assert.equal(e.smtp?.command, 'RCPT TO');
  });
});

describe('which path a session takes', () => {
  const exchange = extensionKeywords(['SIZE 157286400', 'PIPELINING', 'DSN', 'ENHANCEDSTATUSCODES', 'AUTH LOGIN XOAUTH2', '8BITMIME', 'BINARYMIME', 'CHUNKING', 'SMTPUTF8']);
  test("Exchange's EHLO after STARTTLS: BDAT, one round trip", () => assert.equal(pathFor(exchange, true), 'bdat'));
  test('PIPELINING without CHUNKING: the pipelined DATA path', () => assert.equal(pathFor(extensionKeywords(['PIPELINING', '8BITMIME']), true), 'pipelined-data'));
  test('CHUNKING without PIPELINING, or neither: one command at a time', () => {
    assert.equal(pathFor(extensionKeywords(['CHUNKING']), true), 'one-by-one');
    assert.equal(pathFor(extensionKeywords(['8BITMIME']), true), 'one-by-one');
  });
  test('MAILGATE_SMTP_PIPELINING=off: one command at a time even on Exchange', () => assert.equal(pathFor(exchange, false), 'one-by-one'));
});

describe('does the message need SMTPUTF8 (RFC 6531 §3.4)', () => {
  const b = (s: string) => Buffer.from(s, 'utf8');
  test('a byte of 0x80 or more in the header, up to the first empty line', () => {
    assert.equal(headerHasUtf8(b('Subject: Grüße\r\n\r\nbody\r\n')), true);
    assert.equal(headerHasUtf8(b('From: a@b.c\r\nTo: Jörg <j@b.c>\r\n\r\n')), true, 'in a later field');
    assert.equal(headerHasUtf8(b('Subject: x\r\n =?utf-8?q?J=C3=B6rg?= ñ\r\n\r\n')), true, 'in a folded continuation line');
    assert.equal(headerHasUtf8(Buffer.from([0x53, 0x3a, 0x20, 0xff, 0x0d, 0x0a, 0x0d, 0x0a])), true, 'any 8-bit byte, valid UTF-8 or not');
    assert.equal(headerHasUtf8(b('Subject: Gr=?utf-8?q?=C3=BC=C3=9Fe?=\n\nü')), false, 'bare LF line ends: the body is not read');
    assert.equal(headerHasUtf8(b('Subject: plain\r\n\r\nGrüße aus Zürich\r\n')), false, 'UTF-8 only in the body');
    assert.equal(headerHasUtf8(b('\r\nGrüße\r\n')), false, 'no header at all');
    assert.equal(headerHasUtf8(b('\nGrüße\n')), false, 'no header at all (LF)');
    assert.equal(headerHasUtf8(b('Subject: ascii only\r\n')), false, 'a header without a body');
    assert.equal(headerHasUtf8(b('Subject: Grüße')), true, 'a header without an end');
    assert.equal(headerHasUtf8(Buffer.alloc(0)), false);
  });

  test('an address that is not ASCII, or UTF-8 header fields', () => {
    const ascii = b('Subject: plain\r\n\r\nü\r\n');
    assert.equal(needsSmtpUtf8({ from: 'a@example.com', to: ['b@example.com'] }, ascii), false);
    assert.equal(needsSmtpUtf8({ from: 'ä@example.com', to: ['b@example.com'] }, ascii), true);
    assert.equal(needsSmtpUtf8({ from: 'a@example.com', to: ['b@example.com', 'jörg@example.com'] }, ascii), true);
    assert.equal(needsSmtpUtf8({ from: 'a@example.com', to: ['b@example.com'] }, b('Subject: ü\r\n\r\n')), true);
  });
});

describe('SMTPUTF8 on the MAIL FROM that nodemailer writes', () => {
  /** A stand-in for nodemailer's SMTPConnection: `_sendCommand` on the prototype, as there. */
  class FakeConn {
    written: string[] = [];
    _sendCommand(str: string | Buffer, _log?: string): void {
      this.written.push(String(str));
    }
    send(lines: string[]): void {
      for (const l of lines) this._sendCommand(l);
    }
  }

  test('the first MAIL FROM gets the keyword; nothing else, and the writer is restored', () => {
    const c = new FakeConn();
    const r = sayingSmtpUtf8(c, () => {
      c.send(['MAIL FROM:<a@example.com> BODY=8BITMIME', 'RCPT TO:<b@example.com>', 'DATA', 'MAIL FROM:<later@example.com>']);
      return 'ran';
    });
    assert.equal(r, 'ran');
    assert.deepEqual(c.written, ['MAIL FROM:<a@example.com> BODY=8BITMIME SMTPUTF8', 'RCPT TO:<b@example.com>', 'DATA', 'MAIL FROM:<later@example.com>']);
    assert.equal(Object.prototype.hasOwnProperty.call(c, '_sendCommand'), false, 'restored to the prototype method');
    c.send(['MAIL FROM:<next@example.com>']);
    assert.equal(c.written.at(-1), 'MAIL FROM:<next@example.com>', 'the next message is untouched');
  });

  test('not said twice when nodemailer already said it (a UTF-8 address)', () => {
    const c = new FakeConn();
    sayingSmtpUtf8(c, () => c.send(['MAIL FROM:<ä@example.com> SMTPUTF8']));
    assert.deepEqual(c.written, ['MAIL FROM:<ä@example.com> SMTPUTF8']);
  });

  test('restored even when the send throws; without the internals the send runs unchanged', () => {
    const c = new FakeConn();
    assert.throws(() => sayingSmtpUtf8(c, () => { throw new Error('boom'); }), /boom/);
    assert.equal(Object.prototype.hasOwnProperty.call(c, '_sendCommand'), false);
    const other = { calls: 0 };
    assert.equal(sayingSmtpUtf8(other, () => ++other.calls), 1);
  });
});
