/**
 * Parsing a message submission (the body of `POST /api/v1/messages`) into what the outbox
 * stores, listing every problem at once.
 *
 * Why here and not in the HTTP layer: the admin page and any later entry point submit the
 * same shape; the rules (unknown fields refused, CR/LF injection refused, recipient and size
 * limits checked up front) must be identical. Shape checks are a strict zod schema; the
 * semantic checks are the core's `validateMessage`, run even when the shape has problems so
 * that all problems are reported together.
 *
 * Imports: zod, src/core, ./idempotency, ./zod-problems, ../outbox/payload.
 */
import { z } from 'zod';
import { isMailgateError, type Problem } from '../../core/errors.js';
import { validateMessage, MAX_RECIPIENTS } from '../../core/message.js';
import { mediaTypeFor } from '../../core/media-types.js';
import type { OutboundMessage } from '../../core/ports.js';
import { headerKeyProblems, requestFingerprint } from './idempotency.js';
import type { StoredPayload } from '../outbox/payload.js';
import { zodProblems } from './zod-problems.js';

const LIST_FIELDS = new Set(['to', 'cc', 'bcc']);

const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;
const MAX_ATTACHMENTS = 100;

const addressList = (what: string) =>
  z
    .union([
      z.string().meta({ description: 'One address: "user@example.com" or "Name <user@example.com>".' }),
      z.array(z.string()).max(MAX_RECIPIENTS).meta({ description: `A list of addresses (to, cc and bcc together: at most ${MAX_RECIPIENTS}).` }),
    ])
    .meta({ description: what });

/**
 * The request body. Its JSON Schema (z.toJSONSchema) is the request schema of the OpenAPI
 * document (http/openapi.ts), so the descriptions here are the API's documentation.
 */
export const messageRequestSchema = z
  .strictObject({
    from: z
      .string()
      .max(998)
      .optional()
      .meta({ description: 'The sender: "noreply@example.com" or "Name <noreply@example.com>". It must be a configured sender this API key may use (else 422, naming them); without it, the default sender.' }),
    to: addressList('Recipients.'),
    cc: addressList('Carbon-copy recipients.').optional(),
    bcc: addressList('Blind-copy recipients (not shown in the message).').optional(),
    replyTo: z.string().optional().meta({ description: 'The Reply-To address.' }),
    subject: z.string().max(998, 'must be at most 998 characters').meta({ description: 'The subject line (may be empty).' }),
    text: z.string().optional().meta({ description: 'The plain-text body. At least one of text and html is required.' }),
    html: z.string().optional().meta({ description: 'The HTML body; inline images are referenced as <img src="cid:CID">.' }),
    headers: z
      .record(z.string(), z.string())
      .optional()
      .meta({ description: 'Extra headers (e.g. X-Tag, List-Unsubscribe). Refused: the ones Mailgate sets (From, To, Subject, Message-ID, Content-*, ...), trace and signature headers (Received, DKIM-Signature, ARC-*, ...), Resent-*, Return-Receipt-To. A header line may not exceed 998 characters.' }),
    attachments: z
      .array(
        z.strictObject({
          filename: z.string().min(1).max(255).meta({ description: 'The file name shown to the recipient.' }),
          contentType: z
            .string()
            .min(1)
            .max(255)
            .optional()
            .meta({ description: 'The media type, e.g. application/pdf. Default: from the file name extension (application/octet-stream when unknown). multipart/* and message/* are refused.' }),
          content: z.string().regex(BASE64, 'must be base64').meta({ description: 'The file content, base64.' }),
          cid: z
            .string()
            .min(1)
            .max(200)
            .optional()
            .meta({ description: 'Content-ID of an inline image, referenced from the HTML as src="cid:VALUE" (e.g. "logo@example").' }),
        }),
      )
      .max(MAX_ATTACHMENTS, `at most ${MAX_ATTACHMENTS} attachments per message`)
      .optional()
      .meta({ description: 'Files attached to the message (the whole message at most 35 MB once encoded).' }),
    idempotencyKey: z
      .string()
      .min(1)
      .max(255)
      .refine((s) => !/[\r\n]/.test(s), 'must not contain line breaks')
      .optional()
      .meta({ description: 'A key of your choosing: a retried submission with the same key and content returns the first message instead of sending twice. The Idempotency-Key header does the same.' }),
  })
  .meta({ title: 'MessageRequest' });

export type MessageRequest = z.infer<typeof messageRequestSchema>;

export interface ParsedMessageRequest {
  payload: StoredPayload;
  /**
   * The payload already serialised, when the request's JSON text can be stored as is: the
   * request body itself, when normalising it changed nothing (see `storableAsSent`). Saves
   * re-serialising the body (JSON.stringify of an 11 KB text is ~18 µs on Node 20).
   */
  payloadJson?: string;
  /** From the Idempotency-Key header or the body field. */
  idempotencyKey?: string;
  /** idempotency.ts requestFingerprint (only computed with a key). */
  requestHash?: string;
  recipientCount: number;
}

export type ParseResult = { ok: true; request: ParsedMessageRequest } | { ok: false; problems: Problem[] };

const asList = (v: unknown): string[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v as string]);

/** Best-effort OutboundMessage from a body whose shape may be wrong (for semantic checks). */
function candidate(body: Record<string, unknown>): OutboundMessage {
  const attachments = Array.isArray(body.attachments)
    ? body.attachments.map((a: Record<string, unknown>) => ({
        filename: String(a?.filename ?? ''),
        contentType: a?.contentType === undefined ? mediaTypeFor(String(a?.filename ?? '')) : String(a.contentType),
        content: Buffer.from(typeof a?.content === 'string' ? a.content : '', 'base64'),
        ...(a?.cid !== undefined ? { cid: a.cid as string } : {}),
      }))
    : undefined;
  return {
    ...(typeof body.from === 'string' ? { from: body.from } : {}),
    to: asList(body.to) as string[],
    cc: asList(body.cc),
    bcc: asList(body.bcc),
    replyTo: body.replyTo as string | undefined,
    subject: body.subject as string,
    text: body.text as string | undefined,
    html: body.html as string | undefined,
    headers: body.headers && typeof body.headers === 'object' ? (body.headers as Record<string, string>) : undefined,
    attachments,
  };
}

const sameList = (sent: string | string[] | undefined, normalised: string[] | undefined): boolean =>
  sent === undefined ? normalised === undefined : Array.isArray(sent) && normalised !== undefined && sent.length === normalised.length && sent.every((a, i) => a === normalised[i]);

/**
 * Whether the request, as sent, already is its stored payload (JSON.parse of the body gives the
 * payload's fields with the same values): address lists sent as arrays of trimmed addresses (not
 * empty), attachments' base64 without whitespace, no header dropped by the schema. Everything
 * else is stored as sent anyway.
 * The body may also carry `idempotencyKey`; decodePayload ignores it (it is kept in its own
 * column as well).
 */
function storableAsSent(body: Record<string, unknown>, r: MessageRequest, m: OutboundMessage, p: StoredPayload): boolean {
  return (
    (r.from === undefined || r.from === m.from) &&
    sameList(r.to, m.to) &&
    sameList(r.cc, m.cc) &&
    sameList(r.bcc, m.bcc) &&
    (r.replyTo === undefined || r.replyTo === m.replyTo) &&
    (r.attachments === undefined || r.attachments.every((a, i) => a.contentType !== undefined && a.content.length === p.attachments![i].content.length)) &&
    // zod's record drops a "__proto__" header name; the stored payload must not have it either
    (r.headers === undefined || Object.keys(r.headers).length === Object.keys(body.headers as object).length)
  );
}

/**
 * Parse and validate a submission body (already JSON-decoded). With `json`, the text `body` was
 * decoded from, the result carries `payloadJson` when that text can be stored unchanged.
 * `idempotencyKeyHeader`: the request's `Idempotency-Key` header, an alternative to the body's
 * `idempotencyKey` (both at once only with the same value).
 */
export function parseMessageRequest(body: unknown, json?: string, options: { idempotencyKeyHeader?: string } = {}): ParseResult {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { ok: false, problems: [{ key: 'body', message: 'body: must be a JSON object' }] };
  const shape = messageRequestSchema.safeParse(body);
  const problems: Problem[] = shape.success
    ? []
    : zodProblems(shape.error, body, {
        union: () => 'must be an email address (a string) or an array of them',
        tooBig: (path, count) =>
          path.length === 1 && LIST_FIELDS.has(String(path[0])) ? `${count ?? 'too many'} recipients, more than the ${MAX_RECIPIENTS} per message that Exchange Online accepts` : undefined,
      });
  const headerKey = options.idempotencyKeyHeader;
  if (headerKey !== undefined) problems.push(...headerKeyProblems(headerKey, (body as Record<string, unknown>).idempotencyKey));
  let message: OutboundMessage | undefined;
  try {
    message = validateMessage(candidate(body as Record<string, unknown>));
  } catch (error) {
    if (!isMailgateError(error) || !error.problems) throw error;
    // The shape's problem for a field (or a field around it) says it first and best.
    const shapeKeys = problems.map((p) => p.key.replace(/\[\d+\]$/, ''));
    const covered = (key: string) => shapeKeys.some((k) => key === k || key.startsWith(`${k}.`) || key.startsWith(`${k}[`));
    for (const p of error.problems) if (!covered(p.key.replace(/\[\d+\]$/, ''))) problems.push(p);
  }
  if (problems.length || !shape.success || !message) return { ok: false, problems };
  const r = shape.data;
  const payload: StoredPayload = {
    ...(message.from ? { from: message.from } : {}),
    to: message.to,
    ...(message.cc ? { cc: message.cc } : {}),
    ...(message.bcc ? { bcc: message.bcc } : {}),
    ...(message.replyTo ? { replyTo: message.replyTo } : {}),
    subject: r.subject,
    ...(r.text !== undefined ? { text: r.text } : {}),
    ...(r.html !== undefined ? { html: r.html } : {}),
    ...(r.headers ? { headers: r.headers } : {}),
    // Base64 with line breaks is allowed in; it is stored without them (most bodies have none,
    // and rewriting a 10 MB string costs ~8 ms on the main thread).
    // A missing contentType is stored as the default for the file name, so what is stored is
    // what is sent.
    ...(r.attachments
      ? {
          attachments: r.attachments.map((a) => ({
            ...a,
            contentType: a.contentType ?? mediaTypeFor(a.filename),
            ...(/\s/.test(a.content) ? { content: a.content.replace(/\s+/g, '') } : {}),
          })),
        }
      : {}),
  };
  const idempotencyKey = headerKey ?? r.idempotencyKey;
  // The fingerprint sees an attachment's default contentType spelled out, so a retry that names
  // the default is the same request as one that left it out.
  const requestHash =
    idempotencyKey === undefined
      ? undefined
      : requestFingerprint(r.attachments ? { ...r, attachments: r.attachments.map((a) => ({ ...a, contentType: a.contentType ?? mediaTypeFor(a.filename) })) } : r);
  const recipientCount = message.to.length + (message.cc?.length ?? 0) + (message.bcc?.length ?? 0);
  const payloadJson = json !== undefined && storableAsSent(body as Record<string, unknown>, r, message, payload) ? json : undefined;
  return { ok: true, request: { payload, ...(payloadJson !== undefined ? { payloadJson } : {}), idempotencyKey, requestHash, recipientCount } };
}
