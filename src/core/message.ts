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
import type { Attachment, OutboundMessage } from './ports.js';

/** Exchange Online's default recipients-per-message limit (docs/m365.md §5.1). */
export const MAX_RECIPIENTS = 500;
/** Exchange Online's default maximum message size (35 MB, docs/m365.md §5.1). */
export const MAX_MESSAGE_BYTES = 35 * 1024 * 1024;

const emailSchema = z.email();
const CRLF = /[\r\n]/;
const HEADER_NAME = /^[!-9;-~]+$/; // printable ASCII except colon
const RESERVED_HEADERS = new Set(['from', 'to', 'cc', 'bcc', 'subject', 'message-id', 'date', 'mime-version', 'content-type', 'content-transfer-encoding', 'reply-to', 'sender', 'return-path']);

/**
 * Headers an application must not set, with the reason given back to it.
 *
 * - Trace and authentication headers (`Received`, `Received-SPF`, `Authentication-Results`,
 *   `DKIM-Signature`, `DomainKey-Signature`, `ARC-*`): only MTAs add them; a forged one misleads
 *   the recipient's filters and breaks (or fakes) the signatures Exchange adds.
 * - `Resent-*`: re-sending is a different operation (RFC 5322 §3.6.6), and a Resent-From makes
 *   mail programs show a sender other than the Authorized from Address.
 * - `Content-*` at the top level (Content-Disposition, Content-ID, …; Content-Language is
 *   allowed): the MIME structure is Mailgate's, a top-level Content-Disposition turns the body
 *   into an attachment in some mail programs.
 * - `X-MS-Exchange-Organization-*`: Exchange trusts these from inside the organisation (spam
 *   verdicts, routing); an application has no business setting them.
 * - `Return-Receipt-To`: non-standard and obsolete; some MTAs answer it with a delivery report,
 *   which makes it a backscatter tool.
 *
 * `Disposition-Notification-To` is allowed (decision): it is the standard read-receipt request
 * (RFC 8098), legitimately used by applications (signed documents, notices), the recipient's mail
 * program asks before answering it, and it carries nothing the application could not send by
 * itself. Its value must be a valid email address (so it cannot smuggle anything else).
 */
const FORBIDDEN_HEADERS: { test: (lower: string) => boolean; why: string }[] = [
  { test: (h) => ['received', 'received-spf', 'authentication-results', 'dkim-signature', 'domainkey-signature'].includes(h) || h.startsWith('arc-'), why: 'is a trace or signature header that only mail servers add' },
  { test: (h) => h.startsWith('resent-'), why: 'is a re-sending header (RFC 5322 §3.6.6); Mailgate sends new messages only' },
  { test: (h) => h.startsWith('content-') && h !== 'content-language', why: 'describes the MIME structure, which Mailgate builds (only Content-Language may be set)' },
  { test: (h) => h.startsWith('x-ms-exchange-organization-'), why: 'is trusted by Exchange inside the organisation and cannot be set by an application' },
  { test: (h) => h === 'return-receipt-to', why: 'is obsolete and non-standard (use Disposition-Notification-To for a read receipt)' },
];

/** RFC 5322 §2.1.1: no line of a message may exceed 998 characters (CRLF excluded). */
export const MAX_LINE = 998;

/**
 * Whether `Name: value` can be written with no line over 998 characters. Mail composition folds
 * a header only at whitespace (non-ASCII text is encoded in short words), so the longest run of
 * non-whitespace characters must fit on one line with the header name.
 */
function foldable(headerName: string, value: string): boolean {
  if (headerName.length + 2 + value.length <= MAX_LINE) return true;
  if (/[^\x00-\x7f]/.test(value)) return true; // encoded words are short and folded
  let longest = 0;
  for (const run of value.split(/[ \t]+/)) longest = Math.max(longest, run.length);
  return headerName.length + 2 + longest <= MAX_LINE;
}

/** What a (JSON) value is, for "must be X, not Y" messages: "a number", "an array", ... */
export function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** Attachment media types that are refused: their content is a structure, not a file. */
function structuralMediaType(contentType: string): boolean {
  return /^\s*(?:multipart|message)\//i.test(contentType);
}

/** Split `Name <addr@x>` into its parts; a bare address has no name. */
export function splitAddress(input: string): { name?: string; address: string } {
  const m = /^\s*(.*?)\s*<([^<>]+)>\s*$/.exec(input);
  if (m) return { name: m[1].replace(/^"(.*)"$/, '$1') || undefined, address: m[2].trim() };
  return { address: input.trim() };
}

function checkAddress(field: string, value: unknown, problems: Problem[], header = 'To'): string | undefined {
  if (value === undefined || (typeof value === 'string' && value.trim() === '')) {
    problems.push({ key: field, message: `${field}: an email address is required` });
    return undefined;
  }
  if (typeof value !== 'string') {
    problems.push({ key: field, message: `${field}: must be an email address (a string), not ${describeType(value)}` });
    return undefined;
  }
  if (CRLF.test(value)) {
    problems.push({ key: field, message: `${field}: line breaks (CR/LF) are not allowed in an address` });
    return undefined;
  }
  const { address, name } = splitAddress(value);
  if (!emailSchema.safeParse(address).success) {
    problems.push({ key: field, message: `${field}: "${address.slice(0, 100)}" is not a valid email address` });
    return undefined;
  }
  if (name !== undefined && !foldable(header, name)) {
    problems.push({ key: field, message: `${field}: the display name has more than ${MAX_LINE - header.length - 2} characters without a space, too long for one header line (${MAX_LINE} characters at most)` });
    return undefined;
  }
  return value.trim();
}

/** The problems of one address given on its own (e.g. the recipient of a test message); [] when valid. */
export function addressProblems(field: string, value: unknown): Problem[] {
  const problems: Problem[] = [];
  checkAddress(field, value, problems);
  return problems;
}

function checkList(field: string, value: unknown, problems: Problem[], header: string): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v, i) => checkAddress(list.length > 1 ? `${field}[${i}]` : field, v, problems, header)).filter((v): v is string => !!v);
}

function checkHeaders(headers: unknown, problems: Problem[]): void {
  if (headers === undefined) return;
  if (!headers || typeof headers !== 'object' || Array.isArray(headers)) {
    problems.push({ key: 'headers', message: `headers: must be an object of header names and string values, not ${describeType(headers)}` });
    return;
  }
  for (const [name, value] of Object.entries(headers)) {
    const key = `headers.${name}`;
    const lower = name.toLowerCase();
    const forbidden = FORBIDDEN_HEADERS.find((f) => f.test(lower));
    if (!HEADER_NAME.test(name)) problems.push({ key, message: `headers: "${name.slice(0, 60)}" is not a valid header name` });
    else if (RESERVED_HEADERS.has(lower)) problems.push({ key, message: `headers: ${name} is set by Mailgate and cannot be overridden` });
    else if (forbidden) problems.push({ key, message: `headers: ${name} cannot be set: it ${forbidden.why}` });
    if (typeof value !== 'string') problems.push({ key, message: `${key}: must be a string, not ${describeType(value)}` });
    else if (CRLF.test(value)) problems.push({ key, message: `headers: the value of ${name.slice(0, 60)} must be text without line breaks (CR/LF)` });
    else if (!foldable(name, value)) {
      problems.push({ key, message: `${key}: too long for one header line (${MAX_LINE} characters at most, and it has no space where it could be folded)` });
    } else if (lower === 'disposition-notification-to' && !emailSchema.safeParse(splitAddress(value).address).success) {
      problems.push({ key, message: `${key}: must be the email address that receives the read receipt` });
    }
  }
}

/** The bytes a body part takes, or a problem when it is not text. */
function bodyBytes(field: 'text' | 'html', value: unknown, problems: Problem[]): number {
  if (value === undefined) return 0;
  if (typeof value !== 'string') {
    problems.push({ key: field, message: `${field}: must be a string, not ${describeType(value)}` });
    return 0;
  }
  return Buffer.byteLength(value);
}

const listLength = (v: unknown): number => (v === undefined ? 0 : Array.isArray(v) ? v.length : 1);

/**
 * Validate a message. Returns it normalised (addresses trimmed, lists as arrays), or throws
 * MailgateError ARGUMENT_INVALID listing every problem.
 */
export function validateMessage(input: OutboundMessage, limits = { maxRecipients: MAX_RECIPIENTS }): OutboundMessage {
  const problems: Problem[] = [];
  const from = input.from === undefined ? undefined : checkAddress('from', input.from, problems, 'From');
  const to = checkList('to', input.to, problems, 'To');
  const cc = checkList('cc', input.cc, problems, 'Cc');
  const bcc = checkList('bcc', input.bcc, problems, 'Bcc');
  const replyTo = input.replyTo === undefined ? undefined : checkAddress('replyTo', input.replyTo, problems, 'Reply-To');
  if (input.to === undefined || (Array.isArray(input.to) && input.to.length === 0)) {
    problems.push({ key: 'to', message: 'to: at least one recipient is required' });
  }
  const total = listLength(input.to) + listLength(input.cc) + listLength(input.bcc);
  if (total > limits.maxRecipients) {
    problems.push({ key: 'to', message: `to/cc/bcc: ${total} recipients, more than the ${limits.maxRecipients} per message that Exchange Online accepts` });
  }
  if (input.subject === undefined) problems.push({ key: 'subject', message: 'subject: a subject line is required (it may be empty: "")' });
  else if (typeof input.subject !== 'string') problems.push({ key: 'subject', message: `subject: must be a string, not ${describeType(input.subject)}` });
  else if (CRLF.test(input.subject)) problems.push({ key: 'subject', message: 'subject: line breaks (CR/LF) are not allowed' });
  else if (!foldable('Subject', input.subject)) problems.push({ key: 'subject', message: `subject: too long for one header line (${MAX_LINE} characters at most, and it has no space where it could be folded)` });
  if (input.text === undefined && input.html === undefined) {
    problems.push({ key: 'text', message: 'text or html: a message body is required' });
  }
  checkHeaders(input.headers, problems);
  const attachments: unknown = input.attachments;
  if (attachments !== undefined && !Array.isArray(attachments)) {
    problems.push({ key: 'attachments', message: `attachments: must be an array, not ${describeType(attachments)}` });
  }
  const attachmentList = Array.isArray(attachments) ? (attachments as Partial<Attachment>[]) : [];
  attachmentList.forEach((a, i) => {
    if (!a || typeof a !== 'object') {
      problems.push({ key: `attachments[${i}]`, message: `attachments[${i}]: must be an object with filename and content, not ${describeType(a)}` });
      return;
    }
    if (typeof a.filename !== 'string' || !a.filename || CRLF.test(a.filename)) problems.push({ key: `attachments[${i}].filename`, message: `attachments[${i}].filename: a file name without line breaks is required` });
    if (typeof a.contentType !== 'string' || !a.contentType || CRLF.test(a.contentType) || !/^[\w.+-]+\/[\w.+-]+/.test(a.contentType)) {
      problems.push({ key: `attachments[${i}].contentType`, message: `attachments[${i}].contentType: a MIME type such as application/pdf is required` });
    } else if (structuralMediaType(a.contentType)) {
      problems.push({ key: `attachments[${i}].contentType`, message: `attachments[${i}].contentType: ${a.contentType.slice(0, 60)} cannot be attached (its content would be read as message structure and lost); attach the file as application/octet-stream` });
    }
    if (a.cid !== undefined && (typeof a.cid !== 'string' || !/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.@]{1,200}$/.test(a.cid))) {
      problems.push({ key: `attachments[${i}].cid`, message: `attachments[${i}].cid: a Content-ID such as logo@example (letters, digits and . @ - _ +, no spaces or angle brackets) referenced as src="cid:logo@example"` });
    }
  });
  if (input.messageId !== undefined && (typeof input.messageId !== 'string' || CRLF.test(input.messageId) || !/^<[^<>\s]+@[^<>\s]+>$/.test(input.messageId))) {
    problems.push({ key: 'messageId', message: 'messageId: must look like <unique@host>' });
  }
  // The size is reported under the part that makes the message too large, so the client
  // knows what to shrink (a large text body was once blamed on the attachments).
  const parts = {
    text: bodyBytes('text', input.text, problems),
    html: bodyBytes('html', input.html, problems),
    attachments: attachmentList.reduce((n, a) => n + (a && a.content instanceof Uint8Array ? Math.ceil(a.content.length / 3) * 4 : 0), 0),
  };
  const size = parts.text + parts.html + parts.attachments;
  if (size > MAX_MESSAGE_BYTES) {
    const largest = (Object.keys(parts) as (keyof typeof parts)[]).reduce((a, b) => (parts[b] > parts[a] ? b : a));
    const mb = (n: number) => Math.round(n / 1048576);
    problems.push({
      key: largest,
      message: `${largest}: the message would be about ${mb(size)} MB (${largest} ${mb(parts[largest])} MB), more than the ${MAX_MESSAGE_BYTES / 1048576} MB Exchange Online accepts by default`,
    });
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
