/**
 * Microsoft Graph's answers and network failures → MailgateError, the way smtp-errors.ts maps
 * SMTP replies: a stable code, the phase, whether a retry can help (from core/retry-policy's
 * table), and the reply itself (`graph`: status, Graph's error code and message, request-id,
 * client-request-id, Retry-After) for the diagnosis tables (core/diagnosis/graph-rules.ts).
 *
 * Graph's error body is untrusted input: parsed once, at most 64 KB (the HTTPS helper caps it),
 * only the string fields `error.code`, `error.message` (500 characters at most) and
 * `error.innerError.code` / `request-id` are kept; anything else is dropped.
 *
 * Which code:
 * - 401, 403 ErrorAccessDenied, 404 (ErrorInvalidUser, ResourceNotFound) and
 *   MailboxNotEnabledForRESTAPI: GRAPH_AUTH_FAILED (a set-up step; the worker pauses delivery);
 * - 429, 5xx: GRAPH_TRANSIENT; other 4xx: GRAPH_REJECTED (per message);
 * - no answer: GRAPH_UNREACHABLE when nothing was sent, GRAPH_OUTCOME_UNKNOWN after.
 *
 * Imports: src/core only.
 */
import { MailgateError, type ErrorCode, type GraphReply, type Phase } from '../../core/errors.js';
import { classifyForRetry } from '../../core/retry-policy.js';

const MAX_MESSAGE = 500;
const CODE = /^[A-Za-z0-9_.-]{1,80}$/;
const ID = /^[A-Za-z0-9-]{1,80}$/;

/** Retry-After in seconds: delta-seconds or an HTTP date; undefined when absent or unparsable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d{1,7}$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - now) / 1000)) : undefined;
}

/** The safe fields of a Graph answer. */
export function graphReplyOf(status: number, headers: Record<string, string>, body: string, clientRequestId?: string): GraphReply {
  const reply: GraphReply = { status };
  let parsed: unknown;
  try {
    parsed = body ? JSON.parse(body) : undefined;
  } catch {
    parsed = undefined;
  }
  const error = parsed && typeof parsed === 'object' ? (parsed as { error?: unknown }).error : undefined;
  if (error && typeof error === 'object') {
    const e = error as { code?: unknown; message?: unknown; innerError?: unknown; innererror?: unknown };
    if (typeof e.code === 'string' && CODE.test(e.code)) reply.code = e.code;
    if (typeof e.message === 'string') reply.message = e.message.replace(/[\r\n\t]+/g, ' ').slice(0, MAX_MESSAGE);
    const inner = (e.innerError ?? e.innererror) as { code?: unknown; 'request-id'?: unknown } | undefined;
    if (inner && typeof inner === 'object') {
      if (typeof inner.code === 'string' && CODE.test(inner.code)) reply.innerCode = inner.code;
      if (typeof inner['request-id'] === 'string' && ID.test(inner['request-id'])) reply.requestId = inner['request-id'];
    }
  } else if (body && !reply.message) {
    // Not Graph's JSON (a proxy's page): a short, single-line excerpt.
    reply.message = body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200) || undefined;
  }
  const requestId = headers['request-id'];
  if (requestId && ID.test(requestId)) reply.requestId = requestId;
  if (clientRequestId && ID.test(clientRequestId)) reply.clientRequestId = clientRequestId;
  const retryAfter = parseRetryAfter(headers['retry-after']);
  if (retryAfter !== undefined) reply.retryAfterSeconds = retryAfter;
  return reply;
}

const SETUP_CODES = new Set(['erroraccessdenied', 'errorinvaliduser', 'resourcenotfound', 'mailboxnotenabledforrestapi', 'invalidauthenticationtoken']);

function codeFor(reply: GraphReply): { code: ErrorCode; phase: Phase } {
  const c = (reply.code ?? '').toLowerCase();
  if (reply.status === 429 || reply.status >= 500) return { code: 'GRAPH_TRANSIENT', phase: 'send' };
  if (c === 'mailboxnotenabledforrestapi') return { code: 'GRAPH_AUTH_FAILED', phase: 'auth' };
  if (c === 'errorsendasdenied' || c === 'errorquotaexceeded') return { code: 'GRAPH_REJECTED', phase: 'send' };
  if (reply.status === 401 || reply.status === 404 || (reply.status === 403 && (c === '' || SETUP_CODES.has(c)))) return { code: 'GRAPH_AUTH_FAILED', phase: 'auth' };
  return { code: 'GRAPH_REJECTED', phase: 'send' };
}

/** The error for a Graph answer other than 202. */
export function graphAnswerError(reply: GraphReply, context: Record<string, string | number | boolean | undefined>): MailgateError {
  const { code, phase } = codeFor(reply);
  const init = {
    code,
    phase,
    message: `Microsoft Graph answered ${reply.status}${reply.code ? ` ${reply.code}` : ''}${reply.message ? `: ${reply.message}` : ''}`,
    graph: reply,
    context,
  };
  return new MailgateError({ ...init, retryable: classifyForRetry(new MailgateError(init)).retryable });
}

/** The error for a request that got no answer. */
export function graphNetworkError(error: unknown, host: string, context: Record<string, string | number | boolean | undefined>): MailgateError {
  const e = error as { message?: string; code?: string; requestSent?: boolean };
  const sent = e?.requestSent !== false;
  const init = sent
    ? { code: 'GRAPH_OUTCOME_UNKNOWN' as const, phase: 'send' as const, message: `The sendMail request to ${host} got no answer (${e?.message ?? String(error)}); Graph may have accepted it` }
    : { code: 'GRAPH_UNREACHABLE' as const, phase: 'connect' as const, message: `Microsoft Graph at ${host} could not be reached (${e?.message ?? String(error)}); nothing was sent` };
  const ctx = { ...context, graphHost: host, ...(sent ? {} : { notSent: true }), ...(e?.code ? { systemCode: e.code } : {}) };
  const probe = new MailgateError({ ...init, context: ctx, cause: error });
  return new MailgateError({ ...init, context: ctx, cause: error, retryable: classifyForRetry(probe).retryable });
}
