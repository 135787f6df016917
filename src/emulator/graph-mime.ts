/**
 * Messages as the emulated Graph receives them: the base64 MIME body of `sendMail` (and of a MIME
 * draft), the JSON `message` resource (composed into MIME here, as Exchange does), attachments
 * added to a draft, and the copy that is kept: Bcc removed (Exchange never transmits it) and a
 * Message-ID added when the client gave none (the client's own is kept, as Exchange keeps it).
 *
 * Why it exists: Graph has no envelope, so the recipients come from the To, Cc and Bcc headers;
 * both body kinds and drafts must end up as one raw message the store and the tests can read.
 * A small purpose-built composer is enough (plain or HTML body, base64 attachments).
 *
 * Imports: node:crypto, zod, ./message-headers.ts.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { headerValue, parseAddresses, parseHeaderFields } from './message-headers.js';

const BASE64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes the base64 text of a MIME body (line breaks allowed); `undefined` when it is not base64. */
export function decodeBase64Mime(text: string): Buffer | undefined {
  const compact = text.replace(/[\r\n\t ]+/g, '');
  if (!compact || compact.length % 4 !== 0 || !BASE64_TEXT.test(compact)) return undefined;
  return Buffer.from(compact, 'base64');
}

export interface ParsedMime {
  to: string[];
  cc: string[];
  bcc: string[];
  from: string[];
  subject: string | undefined;
  messageId: string | undefined;
}

/** The header facts Graph needs from a raw message; `undefined` when it has no header fields at all. */
export function parseMime(raw: Buffer): ParsedMime | undefined {
  const fields = parseHeaderFields(raw);
  if (!fields.length) return undefined;
  const all = (name: string) => fields.filter((f) => f.name === name).flatMap((f) => parseAddresses(f.value));
  return {
    to: all('to'), cc: all('cc'), bcc: all('bcc'), from: all('from'),
    subject: headerValue(fields, 'subject'),
    messageId: headerValue(fields, 'message-id')?.match(/<[^<>\s]+>/)?.[0],
  };
}

/** Splits a raw message at the blank line: the header block (with its final line break) and the body. */
function splitMessage(raw: Buffer): { head: string; body: Buffer } {
  const text = raw.toString('latin1');
  const match = /\r?\n\r?\n/.exec(text);
  if (!match) return { head: text.endsWith('\n') ? text : `${text}\r\n`, body: Buffer.alloc(0) };
  const headEnd = match.index + match[0].length;
  const lineBreak = match[0].startsWith('\r') ? 2 : 1;
  return { head: text.slice(0, match.index + lineBreak), body: raw.subarray(headEnd) };
}

/** Header lines (folded continuation lines kept with their field) of a header block. */
function headerLines(head: string): string[] {
  const lines: string[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (!line) continue;
    if (/^[ \t]/.test(line) && lines.length) lines[lines.length - 1] += `\r\n${line}`;
    else lines.push(line);
  }
  return lines;
}

const fieldName = (line: string): string => line.slice(0, Math.max(0, line.indexOf(':'))).trim().toLowerCase();

/** The copy Exchange keeps and transmits: no Bcc field, and a Message-ID (ours when the client sent none). */
export function storedCopy(raw: Buffer, newMessageId: () => string): { raw: Buffer; messageId: string } {
  const { head, body } = splitMessage(raw);
  const lines = headerLines(head).filter((l) => fieldName(l) !== 'bcc');
  let messageId = parseMime(raw)?.messageId;
  if (!messageId) {
    messageId = newMessageId();
    lines.unshift(`Message-ID: ${messageId}`);
  }
  return { raw: Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]), messageId };
}

// ---- The JSON message resource ---------------------------------------------------------------

const recipient = z.object({ emailAddress: z.object({ address: z.string().max(320), name: z.string().max(256).optional() }) });

/** An attachment in `message.attachments` or `POST .../attachments` (fileAttachment only). */
export const fileAttachmentSchema = z.object({
  '@odata.type': z.string().optional(),
  name: z.string().min(1).max(255),
  contentType: z.string().max(255).optional(),
  contentBytes: z.string(),
  isInline: z.boolean().optional(),
  contentId: z.string().max(255).optional(),
});

/** The parts of Graph's `message` resource the emulator composes (others are accepted and ignored). */
export const graphMessageSchema = z.object({
  subject: z.string().max(10_000).optional(),
  body: z.object({ contentType: z.string().optional(), content: z.string().optional() }).optional(),
  toRecipients: z.array(recipient).optional(),
  ccRecipients: z.array(recipient).optional(),
  bccRecipients: z.array(recipient).optional(),
  replyTo: z.array(recipient).optional(),
  from: recipient.optional(),
  internetMessageHeaders: z.array(z.object({ name: z.string().max(256), value: z.string().max(10_000) })).optional(),
  attachments: z.array(fileAttachmentSchema).optional(),
});

export type GraphMessage = z.output<typeof graphMessageSchema>;

export interface AttachmentData {
  name: string;
  contentType: string;
  bytes: Buffer;
  isInline: boolean;
  contentId?: string;
}

/** Text safe for one header line: control characters (CR/LF included) become spaces. */
// eslint-disable-next-line no-control-regex
const oneLine = (s: string): string => s.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
const encodeWord = (s: string): string => (/^[\x20-\x7e]*$/.test(s) ? s : `=?utf-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`);
const mailbox = (r: { emailAddress: { address: string; name?: string } }): string => {
  const address = oneLine(r.emailAddress.address).replace(/[<>\s,]/g, '');
  const name = r.emailAddress.name ? oneLine(r.emailAddress.name) : '';
  return name ? `${/^[\x20-\x7e]*$/.test(name) ? `"${name.replace(/["\\]/g, '')}"` : encodeWord(name)} <${address}>` : address;
};
const base64Lines = (bytes: Buffer): string => bytes.toString('base64').replace(/.{76}/g, '$&\r\n');
const newBoundary = (): string => `_000_${randomBytes(12).toString('hex')}_`;
const quoteParam = (s: string): string => `"${oneLine(s).replace(/["\\]/g, '')}"`;

function attachmentPart(a: AttachmentData): string {
  return [
    `Content-Type: ${oneLine(a.contentType)}; name=${quoteParam(a.name)}`,
    `Content-Disposition: ${a.isInline ? 'inline' : 'attachment'}; filename=${quoteParam(a.name)}`,
    ...(a.contentId ? [`Content-ID: <${oneLine(a.contentId).replace(/[<>]/g, '')}>`] : []),
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(a.bytes),
  ].join('\r\n');
}

/** The attachments of a JSON message, decoded; `undefined` when one's contentBytes is not base64. */
export function decodeAttachments(list: GraphMessage['attachments']): AttachmentData[] | undefined {
  const out: AttachmentData[] = [];
  for (const a of list ?? []) {
    const bytes = decodeBase64Mime(a.contentBytes || '');
    if (!bytes && a.contentBytes !== '') return undefined;
    out.push({ name: a.name, contentType: a.contentType ?? 'application/octet-stream', bytes: bytes ?? Buffer.alloc(0), isInline: a.isInline ?? false, ...(a.contentId ? { contentId: a.contentId } : {}) });
  }
  return out;
}

/** Composes the MIME message Exchange makes of a JSON `message` (Bcc kept here; `storedCopy` drops it). */
export function composeFromJson(message: GraphMessage, fromMailbox: string, messageId: string, now: Date, attachments: AttachmentData[]): Buffer {
  const list = (rs: GraphMessage['toRecipients']) => (rs ?? []).map(mailbox).join(', ');
  const headers = [
    `From: ${message.from ? mailbox(message.from) : fromMailbox}`,
    ...(message.toRecipients?.length ? [`To: ${list(message.toRecipients)}`] : []),
    ...(message.ccRecipients?.length ? [`Cc: ${list(message.ccRecipients)}`] : []),
    ...(message.bccRecipients?.length ? [`Bcc: ${list(message.bccRecipients)}`] : []),
    ...(message.replyTo?.length ? [`Reply-To: ${list(message.replyTo)}`] : []),
    `Subject: ${encodeWord(oneLine(message.subject ?? ''))}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${messageId}`,
    ...(message.internetMessageHeaders ?? []).map((h) => `${oneLine(h.name)}: ${encodeWord(oneLine(h.value))}`),
    'MIME-Version: 1.0',
  ];
  const html = (message.body?.contentType ?? 'text').toLowerCase() === 'html';
  const bodyPart = [`Content-Type: text/${html ? 'html' : 'plain'}; charset="utf-8"`, 'Content-Transfer-Encoding: base64', '', base64Lines(Buffer.from(message.body?.content ?? '', 'utf8'))].join('\r\n');
  if (!attachments.length) return Buffer.from(`${headers.join('\r\n')}\r\n${bodyPart}\r\n`, 'latin1');
  const boundary = newBoundary();
  const parts = [bodyPart, ...attachments.map(attachmentPart)].map((p) => `--${boundary}\r\n${p}\r\n`).join('');
  return Buffer.from(`${headers.join('\r\n')}\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n${parts}--${boundary}--\r\n`, 'latin1');
}

const CONTENT_FIELDS = new Set(['content-type', 'content-transfer-encoding', 'content-disposition', 'content-id', 'content-description']);

/** Adds attachments to a raw message: into its multipart/mixed root, or by wrapping the root in a new one. */
export function addAttachmentsToMime(raw: Buffer, attachments: AttachmentData[]): Buffer {
  if (!attachments.length) return raw;
  const { head, body } = splitMessage(raw);
  const lines = headerLines(head);
  const contentType = lines.find((l) => fieldName(l) === 'content-type') ?? '';
  const boundary = /multipart\/mixed/i.test(contentType) ? /boundary="?([^";\r\n]+)"?/i.exec(contentType)?.[1] : undefined;
  const added = attachments.map((a) => `--${boundary ?? ''}\r\n${attachmentPart(a)}\r\n`);
  if (boundary) {
    const text = body.toString('latin1');
    const close = text.lastIndexOf(`--${boundary}--`);
    if (close !== -1) {
      return Buffer.concat([Buffer.from(head + (head.endsWith('\n') ? '' : '\r\n'), 'latin1'), Buffer.from('\r\n', 'latin1'), body.subarray(0, close), Buffer.from(added.join(''), 'latin1'), body.subarray(close)]);
    }
  }
  const wrapper = newBoundary();
  const outer = lines.filter((l) => !CONTENT_FIELDS.has(fieldName(l)));
  const inner = lines.filter((l) => CONTENT_FIELDS.has(fieldName(l)));
  const first = `--${wrapper}\r\n${inner.length ? inner.join('\r\n') : 'Content-Type: text/plain; charset="us-ascii"'}\r\n\r\n`;
  const rest = attachments.map((a) => `\r\n--${wrapper}\r\n${attachmentPart(a)}`).join('');
  return Buffer.concat([
    Buffer.from(`${outer.join('\r\n')}\r\nContent-Type: multipart/mixed; boundary="${wrapper}"\r\n\r\n${first}`, 'latin1'),
    body,
    Buffer.from(`${rest}\r\n--${wrapper}--\r\n`, 'latin1'),
  ]);
}

/** Graph's recipient JSON for addresses (`[{ emailAddress: { address } }]`). */
export const recipientsJson = (addresses: string[]) => addresses.map((address) => ({ emailAddress: { name: address, address } }));
