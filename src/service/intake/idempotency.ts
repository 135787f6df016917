/**
 * Idempotency of message submissions: where the client's key comes from (the `Idempotency-Key`
 * header or the body's `idempotencyKey`) and the fingerprint that decides whether a repeated
 * key is the same request (200, the original message) or a different one (409).
 *
 * Why a module: the header and the body field must follow one rule (1–255 characters, no line
 * breaks; both at once only when equal), and the fingerprint must not depend on spellings that
 * mean the same message: `"to": "x"` and `"to": ["x"]` are one request, so a client that
 * retries with the other spelling gets its original message, not a 409. Keys are scoped per API
 * key by the store (NewMessage.apiKeyId), not here.
 *
 * Imports: node:crypto, src/core errors (types).
 */
import { createHash } from 'node:crypto';
import type { Problem } from '../../core/errors.js';

/** The HTTP header name (as Stripe and most APIs spell it). */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** What is wrong with a key (from the header or the body), or undefined. */
export function idempotencyKeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'must not be empty';
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) return `must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`;
  if (/[\r\n]/.test(key)) return 'must not contain line breaks';
  return undefined;
}

/**
 * The problems of a header key given together with the body's field: the header's own problem,
 * and a conflict when the body names a different key (which of the two the client meant cannot
 * be known, so neither wins).
 */
export function headerKeyProblems(header: string, bodyKey: unknown): Problem[] {
  const out: Problem[] = [];
  const p = idempotencyKeyProblem(header);
  if (p) out.push({ key: IDEMPOTENCY_HEADER, message: `${IDEMPOTENCY_HEADER} header: ${p}` });
  if (typeof bodyKey === 'string' && bodyKey !== header) {
    out.push({ key: 'idempotencyKey', message: `idempotencyKey: differs from the ${IDEMPOTENCY_HEADER} header; send the key once (the header or the body field), or the same value in both` });
  }
  return out;
}

const ADDRESS_LISTS = new Set(['to', 'cc', 'bcc']);

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}

/**
 * SHA-256 of the request without its idempotency key: keys sorted, and an address list given
 * as one string counted as the one-element list it means. Arrays of addresses hash exactly as
 * before this normalisation, so keys stored by an older Mailgate still match their retries.
 */
export function requestFingerprint(request: Record<string, unknown>): string {
  const normal: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(request)) {
    if (k === 'idempotencyKey') continue;
    normal[k] = ADDRESS_LISTS.has(k) && typeof v === 'string' ? [v] : v;
  }
  return createHash('sha256').update(JSON.stringify(canonical(normal))).digest('hex');
}
