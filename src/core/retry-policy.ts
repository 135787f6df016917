/**
 * classifyForRetry(error): may this failure be retried, after how long at least, and why.
 *
 * Why: retrying the wrong failure is harmful, not just useless. Exchange Online throttles a
 * mailbox that keeps resending messages it refused permanently (550 5.2.25x continuous-error
 * throttling, docs/m365.md §10.10), and Entra throttles identical token requests (AADSTS50196).
 * So the policy is data, one ordered table (first match wins), pinned by fixtures of real
 * replies: 4xx SMTP replies and network failures are retried, 5xx and refused credentials
 * never are. The delivery worker computes its backoff schedule on top of `minDelayMs`.
 *
 * Chosen delays (the issue left them open):
 * - 432 4.3.2 (more than 3 concurrent connections for the mailbox): 60 s. The slot frees only
 *   when another sender's session ends, and that sender is outside this process (Mailgate's own
 *   pool stays at 3); retrying within seconds just collects more 432s.
 * - 421 (server closing: draining front end, PRX4): 5 s, then a new connection.
 * - other 4xx: 30 s; unknown temporary condition, a minimum for the worker's exponential backoff.
 * - token endpoint 5xx/network: 2 s; 429 without Retry-After: 10 s; Retry-After is honoured
 *   (capped at 1 hour so a bogus header cannot park a message forever).
 * - AADSTS50196 (request loop) and AADSTS90055 (tenant throttling): 60 s unless Retry-After says.
 * - connect/greeting failures: 5 s; a connection lost mid-dialogue: 1 s (reconnect).
 * - Microsoft Graph: 429 waits Retry-After (10 s without one), 503/504 Retry-After or 5 s,
 *   other 5xx 30 s; every other 4xx is permanent (permission, mailbox, recipients, size).
 * - 421 4.7.66 (TLS 1.0/1.1 refused) is a 4xx by form but a configuration problem: a retry over
 *   the same TLS gets the same answer, so it is not retried.
 *
 * Pure: no I/O, never throws.
 * Imports: nothing outside src/core.
 */
import { isMailgateError, type ErrorCode, type GraphReply, type SmtpReply, type TokenEndpointReply } from './errors.js';
import { collectSignals, foreignSmtpReply, hasGroup, inferErrorCode, type Signals } from './diagnosis/signals.js';

export interface RetryDecision {
  retryable: boolean;
  /** Why, in one sentence (for logs and the per-attempt history). */
  reason: string;
  /** Wait at least this long before the next attempt. */
  minDelayMs?: number;
  /** Stable id of the table row that decided, e.g. `smtp-5xx`. */
  rule: string;
}

interface Facts {
  code?: ErrorCode;
  smtp?: SmtpReply;
  token?: TokenEndpointReply;
  graph?: GraphReply;
  aadsts: readonly number[];
  signals: Signals;
}

interface RetryRow {
  rule: string;
  when: (f: Facts) => boolean;
  retryable: boolean;
  reason: string;
  minDelayMs?: number | ((f: Facts) => number);
}

const SECOND = 1000;
const MAX_RETRY_AFTER_MS = 3600 * SECOND;

/** Retry-After in ms (capped), or the fallback. */
const retryAfterOr = (fallbackMs: number) => (f: Facts) => {
  const s = f.token?.retryAfterSeconds ?? f.graph?.retryAfterSeconds;
  return typeof s === 'number' && Number.isFinite(s) && s >= 0 ? Math.min(s * SECOND, MAX_RETRY_AFTER_MS) : fallbackMs;
};
const replyClass = (f: Facts) => (f.smtp ? Math.floor(f.smtp.code / 100) : 0);
const codeIs = (...codes: ErrorCode[]) => (f: Facts) => f.code !== undefined && codes.includes(f.code);

/** The ordered table: first match wins. */
export const RETRY_RULES: readonly RetryRow[] = [
  // ---- SMTP replies decide first, whatever our error code ----
  { rule: 'smtp-421-4.7.66', when: (f) => f.smtp?.code === 421 && f.smtp.enhanced === '4.7.66', retryable: false,
    reason: 'The server refuses TLS 1.0/1.1 (421 4.7.66): a configuration problem that a retry over the same TLS does not fix.' },
  { rule: 'smtp-432-4.3.2', when: (f) => f.smtp?.code === 432, retryable: true, minDelayMs: 60 * SECOND,
    reason: 'The mailbox already has 3 concurrent SMTP connections (432 4.3.2); wait for another sender\'s session to end.' },
  { rule: 'smtp-421', when: (f) => f.smtp?.code === 421, retryable: true, minDelayMs: 5 * SECOND,
    reason: 'The server is closing the connection (421, transient); reconnect and send again.' },
  { rule: 'smtp-4xx', when: (f) => replyClass(f) === 4, retryable: true, minDelayMs: 30 * SECOND,
    reason: 'Temporary SMTP failure (4xx); a later attempt can succeed.' },
  { rule: 'smtp-550-5.2.25x-throttled', when: (f) => replyClass(f) === 5 && /^5\.2\.25[1-5]$/.test(f.smtp?.enhanced ?? '') && /throttled/i.test(f.smtp?.raw ?? ''), retryable: false,
    reason: 'The mailbox is throttled for continuous errors (550 5.2.25x); every retry prolongs the throttle.' },
  { rule: 'smtp-5xx', when: (f) => replyClass(f) === 5, retryable: false,
    reason: 'Permanent SMTP failure (5xx); retrying it would get the mailbox throttled for continuous errors.' },
  // ---- Microsoft Graph (docs/m365.md §5.2, §6.4): 429/503/504 transient, other 4xx permanent ----
  { rule: 'graph-429', when: (f) => f.graph?.status === 429, retryable: true, minDelayMs: retryAfterOr(10 * SECOND),
    reason: 'Microsoft Graph throttles the app for this mailbox (429); wait as long as Retry-After says (immediate retries count against the limit).' },
  { rule: 'graph-503-504', when: (f) => f.graph?.status === 503 || f.graph?.status === 504, retryable: true, minDelayMs: retryAfterOr(5 * SECOND),
    reason: 'Microsoft Graph is temporarily unavailable (503/504); retry after Retry-After or a short wait.' },
  { rule: 'graph-5xx', when: (f) => (f.graph?.status ?? 0) >= 500, retryable: true, minDelayMs: retryAfterOr(30 * SECOND),
    reason: 'Microsoft Graph answered with a server error (5xx); a later attempt can succeed.' },
  { rule: 'graph-4xx', when: (f) => (f.graph?.status ?? 0) >= 400, retryable: false,
    reason: 'Microsoft Graph refused the request (4xx: permission, mailbox, recipients, size, quota); the same request gets the same answer until something changes.' },
  { rule: 'graph-too-large', when: codeIs('GRAPH_TOO_LARGE'), retryable: false,
    reason: 'The message does not fit one Graph request (4 MB); a retry by Graph fails the same way.' },
  { rule: 'graph-tls', when: (f) => f.code === 'GRAPH_UNREACHABLE' && ['tlsUntrusted', 'tlsHostname', 'tlsExpired', 'tlsVersion'].some((g) => hasGroup(f.signals, g as Parameters<typeof hasGroup>[1])), retryable: false,
    reason: 'The Graph endpoint\'s certificate is not trusted; every retry meets the same certificate.' },
  { rule: 'graph-unreachable', when: codeIs('GRAPH_UNREACHABLE'), retryable: true, minDelayMs: 5 * SECOND,
    reason: 'The Graph endpoint could not be reached and nothing was sent; the network may recover.' },
  { rule: 'graph-outcome-unknown', when: codeIs('GRAPH_OUTCOME_UNKNOWN'), retryable: true, minDelayMs: 5 * SECOND,
    reason: 'The sendMail request got no answer; it is sent again on the same transport with the same Message-ID.' },
  { rule: 'graph-transient', when: codeIs('GRAPH_TRANSIENT'), retryable: true, minDelayMs: retryAfterOr(10 * SECOND),
    reason: 'Microsoft Graph answered with a temporary error.' },
  { rule: 'graph-rejected', when: codeIs('GRAPH_REJECTED', 'GRAPH_AUTH_FAILED'), retryable: false,
    reason: 'Microsoft Graph refused the request permanently.' },
  // ---- Token endpoint ----
  { rule: 'aadsts-50196', when: (f) => f.aadsts.includes(50196), retryable: true, minDelayMs: retryAfterOr(60 * SECOND),
    reason: 'Entra detected a token request loop (AADSTS50196); wait before asking again.' },
  { rule: 'aadsts-90055', when: (f) => f.aadsts.includes(90055), retryable: true, minDelayMs: retryAfterOr(60 * SECOND),
    reason: 'Entra throttles token requests for the tenant (AADSTS90055).' },
  { rule: 'token-temporarily-unavailable', when: (f) => f.token?.error === 'temporarily_unavailable', retryable: true, minDelayMs: retryAfterOr(2 * SECOND),
    reason: 'The token endpoint is temporarily unavailable.' },
  { rule: 'token-http-429', when: (f) => f.token?.status === 429, retryable: true, minDelayMs: retryAfterOr(10 * SECOND),
    reason: 'The token endpoint throttles requests (HTTP 429); wait as long as Retry-After says.' },
  { rule: 'token-http-5xx', when: (f) => (f.token?.status ?? 0) >= 500, retryable: true, minDelayMs: retryAfterOr(2 * SECOND),
    reason: 'The token endpoint answered with a server error (HTTP 5xx).' },
  { rule: 'token-rejected', when: codeIs('TOKEN_REJECTED'), retryable: false,
    reason: 'Entra refused the credentials or the set-up (AADSTS); the same request gets the same answer until an administrator fixes it.' },
  { rule: 'token-tls', when: (f) => f.code === 'TOKEN_UNAVAILABLE' && ['tlsUntrusted', 'tlsHostname', 'tlsExpired', 'tlsVersion'].some((g) => hasGroup(f.signals, g as Parameters<typeof hasGroup>[1])), retryable: false,
    reason: 'The token endpoint\'s certificate is not trusted (TLS inspection, a wrong authority host, an old TLS version); every retry meets the same certificate.' },
  { rule: 'token-unavailable', when: codeIs('TOKEN_UNAVAILABLE'), retryable: true, minDelayMs: retryAfterOr(2 * SECOND),
    reason: 'The token endpoint could not be reached (network or transient error).' },
  // ---- Connection ----
  { rule: 'connect', when: codeIs('CONNECT_TIMEOUT', 'CONNECT_FAILED'), retryable: true, minDelayMs: 5 * SECOND,
    reason: 'The SMTP server could not be reached; the network may recover.' },
  { rule: 'greeting-timeout', when: codeIs('GREETING_TIMEOUT'), retryable: true, minDelayMs: 5 * SECOND,
    reason: 'The SMTP server did not greet in time; a new connection may reach a healthy server.' },
  { rule: 'connection-lost', when: codeIs('CONNECTION_LOST'), retryable: true, minDelayMs: 1 * SECOND,
    reason: 'The connection was lost mid-dialogue; reconnect and send again.' },
  { rule: 'tls', when: codeIs('STARTTLS_UNAVAILABLE', 'TLS_FAILED'), retryable: false,
    reason: 'TLS could not be established safely (no STARTTLS, untrusted certificate or old TLS); this needs a configuration change.' },
  // ---- Our codes without a reply ----
  { rule: 'auth-failed', when: codeIs('AUTH_FAILED'), retryable: false,
    reason: 'The server refused the sign-in; a set-up step must be fixed first.' },
  { rule: 'smtp-transient', when: codeIs('SMTP_TRANSIENT'), retryable: true, minDelayMs: 30 * SECOND,
    reason: 'Temporary SMTP failure; a later attempt can succeed.' },
  { rule: 'smtp-rejected', when: codeIs('SMTP_REJECTED'), retryable: false,
    reason: 'The server refused the message permanently.' },
  { rule: 'invalid-input', when: codeIs('SETTINGS_INVALID', 'ARGUMENT_INVALID'), retryable: false,
    reason: 'Invalid settings or message; nothing was sent and a retry would fail the same way.' },
  { rule: 'interrupted', when: codeIs('INTERRUPTED'), retryable: true, minDelayMs: 1 * SECOND,
    reason: 'Mailgate stopped the send itself (shutdown, settings changed, delivery thread restarted); the message is sent again.' },
  { rule: 'internal', when: codeIs('INTERNAL'), retryable: false,
    reason: 'An internal error; not retried so that a bug cannot resend in a loop.' },
  // ---- Anything else ----
  { rule: 'network-signal', when: (f) => f.code === undefined && (hasGroup(f.signals, 'reset') || hasGroup(f.signals, 'timeout')), retryable: true, minDelayMs: 5 * SECOND,
    reason: 'A network error; the network may recover.' },
];

const UNKNOWN: RetryDecision = { retryable: false, rule: 'unknown', reason: 'An unclassified error; not retried so that an unknown failure cannot resend in a loop.' };

function factsOf(error: unknown): Facts {
  const signals = collectSignals(error);
  if (isMailgateError(error)) {
    const listed = Array.isArray(error.token?.aadsts) ? error.token!.aadsts! : [];
    const described = [...(error.token?.description ?? '').matchAll(/AADSTS(\d{4,9})/g)].map((m) => Number(m[1]));
    return { code: error.code, smtp: error.smtp, token: error.token, graph: error.graph, aadsts: listed.length ? listed : described, signals };
  }
  return { code: inferErrorCode(signals), smtp: foreignSmtpReply(error), aadsts: [], signals };
}

/**
 * Decides whether a failure may be retried. Pure and total.
 * @example
 * const d = classifyForRetry(err);
 * if (d.retryable) scheduleRetry(Math.max(d.minDelayMs ?? 0, backoff(attempt)));
 */
export function classifyForRetry(error: unknown): RetryDecision {
  try {
    const facts = factsOf(error);
    const row = RETRY_RULES.find((r) => r.when(facts));
    if (!row) return { ...UNKNOWN };
    const decision: RetryDecision = { retryable: row.retryable, reason: row.reason, rule: row.rule };
    const delay = typeof row.minDelayMs === 'function' ? row.minDelayMs(facts) : row.minDelayMs;
    if (row.retryable && delay !== undefined) decision.minDelayMs = delay;
    return decision;
  } catch {
    return { ...UNKNOWN };
  }
}
