/**
 * Build the RFC 5322 message (MIME) from a validated OutboundMessage, with nodemailer's
 * MailComposer, and the SMTP envelope that goes with it.
 *
 * The Message-ID is fixed here (given, or made from a random UUID and the sender's domain), so
 * a retry of the same stored message carries the same Message-ID and a duplicate can be
 * recognised downstream.
 */
import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import { encode as qpEncode } from 'nodemailer/lib/qp';
import type { OutboundMessage } from '../core/ports.js';
import { splitAddress } from '../core/message.js';

export interface ComposedMessage {
  raw: Buffer;
  messageId: string;
  envelope: { from: string; to: string[] };
}

// Run nodemailer's quoted-printable encoder a few times, on a short input through every branch
// (plain bytes, an escaped '=', trailing white space before a line break), before any real body
// (V8 records type feedback only from a function's ~8th call on, hence the repetitions). An
// 11 KB body's first encoding otherwise makes V8 compile the encoder's loop on the stack (OSR)
// before the code after the loop ever ran; that compiled loop then bailed out at the end of
// every later body, about once per message for the whole life of the process (measured with
// --trace-deopt in the delivery thread: 1,192 deopts of encodeBytes for 3,500 messages, 0
// after this line).
for (let i = 0; i < 32; i++) qpEncode('warm-up =\t \r\nline\u00e9 ');

/** Any character outside US-ASCII. */
const NON_ASCII = /[^\x00-\x7f]/;

function newMessageId(fromAddress: string): string {
  const domain = splitAddress(fromAddress).address.split('@')[1] ?? 'mailgate.local';
  return `<${randomUUID()}@${domain}>`;
}

/**
 * @param options.keepBcc keep the Bcc header in the MIME (Graph's MIME sendMail takes the
 *   recipients from the headers and removes Bcc itself; SMTP gives them in the envelope and
 *   must not show them). Everything else is identical for both transports.
 */
export async function composeMessage(msg: OutboundMessage, defaultFrom: string, options: { keepBcc?: boolean } = {}): Promise<ComposedMessage> {
  const from = msg.from ?? defaultFrom;
  const messageId = msg.messageId ?? newMessageId(from);
  // Addresses go to MailComposer already split, so a display name can never be re-parsed
  // into more addresses than the envelope has.
  const parts = (list: string[] | undefined) => list?.map((a) => {
    const { name, address } = splitAddress(a);
    return { name: name ?? '', address };
  });
  // For US-ASCII bodies, name the transfer encoding instead of letting nodemailer pick it:
  // its choice scans the body several times with regular expressions, which was half of the
  // composition's CPU for an 11 KB message (0.49 → 0.27 ms). It would pick quoted-printable
  // (or 7bit, which quoted-printable equals for short lines) anyway. Other bodies keep
  // nodemailer's choice between quoted-printable and base64.
  const ascii = (v: string | undefined) => v === undefined || !NON_ASCII.test(v);
  const composer = new MailComposer({
    // (textEncoding also steers how non-ASCII header words are encoded, hence the subject.)
    textEncoding: ascii(msg.text) && ascii(msg.html) && ascii(msg.subject) ? 'quoted-printable' : undefined,
    from: parts([from])![0],
    to: parts(msg.to),
    cc: parts(msg.cc),
    bcc: parts(msg.bcc),
    replyTo: msg.replyTo === undefined ? undefined : parts([msg.replyTo])![0],
    subject: msg.subject,
    text: msg.text,
    html: msg.html,
    headers: msg.headers,
    messageId,
    attachments: (msg.attachments ?? []).map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content, ...(a.cid !== undefined ? { cid: a.cid } : {}) })),
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const node = composer.compile();
  node.keepBcc = options.keepBcc === true;
  const raw = await node.build();
  const rcpt = [...msg.to, ...(msg.cc ?? []), ...(msg.bcc ?? [])].map((a) => splitAddress(a).address);
  return { raw, messageId, envelope: { from: splitAddress(from).address, to: [...new Set(rcpt)] } };
}
