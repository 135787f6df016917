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
 * Imports: zod, src/core, ./payload.
 */
import { z } from 'zod';
import { isMailgateError, type Problem } from '../core/errors.js';
import { validateMessage, MAX_RECIPIENTS } from '../core/message.js';
import type { OutboundMessage } from '../core/ports.js';
import { headerKeyProblems, requestFingerprint } from './idempotency.js';
import type { StoredPayload } from './payload.js';

const addressList = z.union([z.string(), z.array(z.string()).max(MAX_RECIPIENTS + 1)]);
const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

export const messageRequestSchema = z.strictObject({
  to: addressList,
  cc: addressList.optional(),
  bcc: addressList.optional(),
  replyTo: z.string().optional(),
  subject: z.string().max(998, 'must be at most 998 characters'),
  text: z.string().optional(),
  html: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  attachments: z
    .array(
      z.strictObject({
        filename: z.string().min(1).max(255),
        contentType: z.string().min(1).max(255),
        content: z.string().regex(BASE64, 'must be base64'),
      }),
    )
    .max(100)
    .optional(),
  idempotencyKey: z.string().min(1).max(255).refine((s) => !/[\r\n]/.test(s), 'must not contain line breaks').optional(),
});

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

function pathKey(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

function zodProblems(error: z.ZodError): Problem[] {
  const out: Problem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) {
        const key = pathKey([...issue.path, k]);
        out.push({ key, message: `${key}: unknown field` });
      }
      continue;
    }
    const key = pathKey(issue.path) || 'body';
    const message = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
    out.push({ key, message: `${key}: ${message}` });
  }
  return out;
}

const asList = (v: unknown): string[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v as string]);

/** Best-effort OutboundMessage from a body whose shape may be wrong (for semantic checks). */
function candidate(body: Record<string, unknown>): OutboundMessage {
  const attachments = Array.isArray(body.attachments)
    ? body.attachments.map((a: Record<string, unknown>) => ({ filename: String(a?.filename ?? ''), contentType: String(a?.contentType ?? ''), content: Buffer.from(typeof a?.content === 'string' ? a.content : '', 'base64') }))
    : undefined;
  return {
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
    sameList(r.to, m.to) &&
    sameList(r.cc, m.cc) &&
    sameList(r.bcc, m.bcc) &&
    (r.replyTo === undefined || r.replyTo === m.replyTo) &&
    (r.attachments === undefined || r.attachments.every((a, i) => a.content.length === p.attachments![i].content.length)) &&
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
  const problems: Problem[] = shape.success ? [] : zodProblems(shape.error);
  const headerKey = options.idempotencyKeyHeader;
  if (headerKey !== undefined) problems.push(...headerKeyProblems(headerKey, (body as Record<string, unknown>).idempotencyKey));
  let message: OutboundMessage | undefined;
  try {
    message = validateMessage(candidate(body as Record<string, unknown>));
  } catch (error) {
    if (!isMailgateError(error) || !error.problems) throw error;
    const seen = new Set(problems.map((p) => p.key.replace(/\[\d+\]$/, '')));
    for (const p of error.problems) if (!seen.has(p.key.replace(/\[\d+\]$/, ''))) problems.push(p);
  }
  if (problems.length || !shape.success || !message) return { ok: false, problems };
  const r = shape.data;
  const payload: StoredPayload = {
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
    ...(r.attachments ? { attachments: r.attachments.map((a) => (/\s/.test(a.content) ? { ...a, content: a.content.replace(/\s+/g, '') } : a)) } : {}),
  };
  const idempotencyKey = headerKey ?? r.idempotencyKey;
  const requestHash = idempotencyKey === undefined ? undefined : requestFingerprint(r);
  const recipientCount = message.to.length + (message.cc?.length ?? 0) + (message.bcc?.length ?? 0);
  const payloadJson = json !== undefined && storableAsSent(body as Record<string, unknown>, r, message, payload) ? json : undefined;
  return { ok: true, request: { payload, ...(payloadJson !== undefined ? { payloadJson } : {}), idempotencyKey, requestHash, recipientCount } };
}
