/**
 * Message validation at the boundary: every field of an outbound message is checked once,
 * before anything is sent, and every problem is reported with the field it concerns.
 *
 * Why: header injection (CR/LF in a subject, an address, a display name or a header) and
 * malformed addresses must be refused as invalid arguments, never half-sent. The CLI, the HTTP
 * API and the delivery worker (for values read back from the store) all call `validateMessage`.
 *
 * Imports: nothing outside src/core.
 */
import { z } from 'zod';
import { MailgateError, type Problem } from './errors.js';
import type { OutboundMessage } from './ports.js';

/** Exchange Online's default recipients-per-message limit (docs/m365.md §5.1). */
export const MAX_RECIPIENTS = 500;
/** Exchange Online's default maximum message size (35 MB, docs/m365.md §5.1). */
export const MAX_MESSAGE_BYTES = 35 * 1024 * 1024;

const emailSchema = z.email();
const CRLF = /[\r\n]/;
const HEADER_NAME = /^[!-9;-~]+$/; // printable ASCII except colon
const RESERVED_HEADERS = new Set(['from', 'to', 'cc', 'bcc', 'subject', 'message-id', 'date', 'mime-version', 'content-type', 'content-transfer-encoding', 'reply-to', 'sender', 'return-path']);

/** Split `Name <addr@x>` into its parts; a bare address has no name. */
export function splitAddress(input: string): { name?: string; address: string } {
  const m = /^\s*(.*?)\s*<([^<>]+)>\s*$/.exec(input);
  if (m) return { name: m[1].replace(/^"(.*)"$/, '$1') || undefined, address: m[2].trim() };
  return { address: input.trim() };
}

function checkAddress(field: string, value: unknown, problems: Problem[]): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push({ key: field, message: `${field}: an email address is required` });
    return undefined;
  }
  if (CRLF.test(value)) {
    problems.push({ key: field, message: `${field}: line breaks (CR/LF) are not allowed in an address` });
    return undefined;
  }
  const { address } = splitAddress(value);
  if (!emailSchema.safeParse(address).success) {
    problems.push({ key: field, message: `${field}: "${address.slice(0, 100)}" is not a valid email address` });
    return undefined;
  }
  return value.trim();
}

function checkList(field: string, value: unknown, problems: Problem[]): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v, i) => checkAddress(list.length > 1 ? `${field}[${i}]` : field, v, problems)).filter((v): v is string => !!v);
}

/**
 * Validate a message. Returns it normalised (addresses trimmed, lists as arrays), or throws
 * MailgateError ARGUMENT_INVALID listing every problem.
 */
export function validateMessage(input: OutboundMessage, limits = { maxRecipients: MAX_RECIPIENTS }): OutboundMessage {
  const problems: Problem[] = [];
  const from = input.from === undefined ? undefined : checkAddress('from', input.from, problems);
  const to = checkList('to', input.to, problems);
  const cc = checkList('cc', input.cc, problems);
  const bcc = checkList('bcc', input.bcc, problems);
  const replyTo = input.replyTo === undefined ? undefined : checkAddress('replyTo', input.replyTo, problems);
  if (input.to === undefined || (Array.isArray(input.to) && input.to.length === 0)) {
    problems.push({ key: 'to', message: 'to: at least one recipient is required' });
  }
  const total = to.length + cc.length + bcc.length;
  if (total > limits.maxRecipients) {
    problems.push({ key: 'to', message: `to/cc/bcc: ${total} recipients, more than the ${limits.maxRecipients} per message that Exchange Online accepts` });
  }
  if (typeof input.subject !== 'string') problems.push({ key: 'subject', message: 'subject: text is required' });
  else if (CRLF.test(input.subject)) problems.push({ key: 'subject', message: 'subject: line breaks (CR/LF) are not allowed' });
  if (input.text === undefined && input.html === undefined) {
    problems.push({ key: 'text', message: 'text or html: a message body is required' });
  }
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    if (!HEADER_NAME.test(name)) problems.push({ key: `headers.${name}`, message: `headers: "${name.slice(0, 60)}" is not a valid header name` });
    else if (RESERVED_HEADERS.has(name.toLowerCase())) problems.push({ key: `headers.${name}`, message: `headers: ${name} is set by Mailgate and cannot be overridden` });
    if (typeof value !== 'string' || CRLF.test(value)) problems.push({ key: `headers.${name}`, message: `headers: the value of ${name.slice(0, 60)} must be text without line breaks (CR/LF)` });
  }
  (input.attachments ?? []).forEach((a, i) => {
    if (!a.filename || CRLF.test(a.filename)) problems.push({ key: `attachments[${i}].filename`, message: `attachments[${i}].filename: a file name without line breaks is required` });
    if (!a.contentType || CRLF.test(a.contentType) || !/^[\w.+-]+\/[\w.+-]+/.test(a.contentType)) {
      problems.push({ key: `attachments[${i}].contentType`, message: `attachments[${i}].contentType: a MIME type such as application/pdf is required` });
    }
  });
  if (input.messageId !== undefined && (CRLF.test(input.messageId) || !/^<[^<>\s]+@[^<>\s]+>$/.test(input.messageId))) {
    problems.push({ key: 'messageId', message: 'messageId: must look like <unique@host>' });
  }
  const size = Buffer.byteLength(input.text ?? '') + Buffer.byteLength(input.html ?? '') +
    (input.attachments ?? []).reduce((n, a) => n + Math.ceil(a.content.length / 3) * 4, 0);
  if (size > MAX_MESSAGE_BYTES) {
    problems.push({ key: 'attachments', message: `message: about ${Math.round(size / 1048576)} MB, more than the ${MAX_MESSAGE_BYTES / 1048576} MB Exchange Online accepts by default` });
  }
  if (problems.length) {
    throw new MailgateError({
      code: 'ARGUMENT_INVALID',
      phase: 'arguments',
      message: `Invalid message: ${problems.map((p) => p.message).join('; ')}`,
      problems,
    });
  }
  return { ...input, from, to, cc: cc.length ? cc : undefined, bcc: bcc.length ? bcc : undefined, replyTo };
}
