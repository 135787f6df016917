/**
 * The stored form of a message: what the API accepted, as JSON, and back to an OutboundMessage.
 *
 * Why: the outbox keeps the request exactly as validated (attachments stay base64, so no
 * re-encoding on the way in), and the worker turns it back into the core's OutboundMessage.
 * When normalising the request changed nothing, the stored JSON is the request body as sent
 * (message-request.ts `payloadJson`: no second JSON.stringify of the text at intake); it may then
 * also carry the request's `idempotencyKey`, which decoding ignores like any other extra field.
 * Values read back from the store are validated again before they reach SMTP (principle 5):
 * by the Mailer itself (`validateMessage` in mailer.ts), once, so a tampered or corrupt row
 * fails as ARGUMENT_INVALID instead of being sent.
 *
 * Imports: src/core only.
 */
import { MailgateError } from '../../core/errors.js';
import type { OutboundMessage } from '../../core/ports.js';

export interface StoredAttachment {
  filename: string;
  contentType: string;
  /** base64 */
  content: string;
  cid?: string;
}

/** The message as stored: the API body's message fields, lists normalised to arrays. */
export interface StoredPayload extends Omit<OutboundMessage, 'messageId' | 'attachments' | 'raw'> {
  attachments?: StoredAttachment[];
}

/**
 * A relayed message as stored (issue 14): the bytes as the relay will send them (base64: the
 * column is text and 8BITMIME content need not be UTF-8) and the client's envelope. `kind`
 * tells it apart from an API payload.
 */
export interface StoredRawPayload {
  kind: 'raw';
  envelope: { from: string; to: string[] };
  subject: string;
  /** base64 of the message */
  mime: string;
}

export function encodeRawPayload(p: { envelope: { from: string; to: string[] }; subject: string; content: Buffer }): string {
  const stored: StoredRawPayload = { kind: 'raw', envelope: p.envelope, subject: p.subject, mime: p.content.toString('base64') };
  return JSON.stringify(stored);
}

export function encodePayload(p: StoredPayload): string {
  return JSON.stringify(p);
}

/** Decode a stored payload into an OutboundMessage carrying its stable Message-ID (the Mailer validates it). */
export function decodePayload(json: string, messageIdHeader: string): OutboundMessage {
  let p: StoredPayload;
  try {
    p = JSON.parse(json) as StoredPayload;
  } catch (cause) {
    throw new MailgateError({ code: 'ARGUMENT_INVALID', phase: 'arguments', message: 'The stored message is not valid JSON (the outbox row is damaged).', cause });
  }
  if ((p as unknown as StoredRawPayload).kind === 'raw') {
    const r = p as unknown as StoredRawPayload;
    if (!r.envelope || typeof r.envelope.from !== 'string' || !Array.isArray(r.envelope.to) || typeof r.mime !== 'string') {
      throw new MailgateError({ code: 'ARGUMENT_INVALID', phase: 'arguments', message: 'The stored relayed message is incomplete (the outbox row is damaged).' });
    }
    return { to: r.envelope.to, subject: r.subject ?? '', messageId: messageIdHeader, raw: { envelope: { from: r.envelope.from, to: r.envelope.to }, content: Buffer.from(r.mime, 'base64') } };
  }
  return {
    ...(typeof p.from === 'string' ? { from: p.from } : {}),
    to: p.to,
    cc: p.cc,
    bcc: p.bcc,
    replyTo: p.replyTo,
    subject: p.subject,
    text: p.text,
    html: p.html,
    headers: p.headers,
    attachments: p.attachments?.map((a) => ({ filename: a.filename, contentType: a.contentType, content: Buffer.from(a.content, 'base64'), ...(a.cid !== undefined ? { cid: a.cid } : {}) })),
    messageId: messageIdHeader,
  };
}
