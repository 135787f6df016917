/**
 * Automatic routing between SMTP and Microsoft Graph, as a decision table:
 * (transport, failure) → (next transport, reason), pure and total.
 *
 * Why: with Transport auto, a sender uses the transport that works and moves only when one
 * cannot work for a reason the other does not share: SMTP AUTH switched off (535 5.7.139),
 * Basic authentication refused (550 5.7.30), port 587 unreachable or blocked (refused, timed
 * out, no greeting, or the connection reset before the session is up: HTTPS to Graph, another
 * host and port, may still work), STARTTLS refused or not offered (Exchange Online always offers
 * it: a firewall's SMTP inspection stripped it), the TLS handshake on 587 failed (a middlebox on
 * the SMTP path), a token with Mail.Send but without SMTP.SendAsApp; Graph refusing the app (ErrorAccessDenied)
 * or the mailbox (MailboxNotEnabledForRESTAPI); a message too large for one Graph request goes
 * by SMTP (that one message only). Everything else stays on its transport: a recipient refused,
 * a quota, throttling, a server error would meet the same fate, or worse, a duplicate, on the
 * other side.
 *
 * Never a duplicate through the switch: a failure moves only when the message certainly was not
 * accepted (`certainlyNotAccepted`): refused before it was handed over (token, connection, TLS,
 * authentication, a Graph 4xx answer, nothing sent; a connection lost at the greeting, EHLO or
 * STARTTLS, before any message command). A dropped connection after DATA or a
 * sendMail request without an answer is retried on the same transport first.
 *
 * Imports: ./errors only.
 */
import { isMailgateError, type MailgateError } from './errors.js';

export type RouteTransport = 'smtp' | 'graph';

export interface RouteDecision {
  /** The transport to use instead; undefined: stay (retry or fail on the same transport). */
  next?: RouteTransport;
  /** Stable reason id, e.g. `smtp-auth-disabled` (metrics label, admin page). */
  reason: string;
  /** Whether the choice holds for the next messages (until re-probed), or for this message only. */
  sticky: boolean;
}

interface RouteRow {
  reason: string;
  from: RouteTransport;
  when: (e: MailgateError) => boolean;
  sticky: boolean;
}

const smtpIs = (code: number, enhanced?: string) => (e: MailgateError) => e.smtp?.code === code && (enhanced === undefined || e.smtp.enhanced === enhanced);
const graphCode = (...codes: string[]) => (e: MailgateError) => codes.includes((e.graph?.code ?? '').toLowerCase());
/** The connection dropped at the greeting, EHLO or STARTTLS: no message command was sent on it. */
const lostBeforeSession = (e: MailgateError) => e.code === 'CONNECTION_LOST' && (e.phase === 'connect' || e.phase === 'tls');
const roles = (e: MailgateError): string[] | undefined => (typeof e.context.tokenRoles === 'string' ? e.context.tokenRoles.split(' ').filter(Boolean) : undefined);

/** The table: first match wins. Rows not listed stay on their transport. */
export const ROUTE_RULES: readonly RouteRow[] = [
  { reason: 'smtp-auth-disabled', from: 'smtp', sticky: true, when: smtpIs(535, '5.7.139') },
  { reason: 'smtp-basic-auth-disabled', from: 'smtp', sticky: true, when: smtpIs(550, '5.7.30') },
  { reason: 'smtp-unreachable', from: 'smtp', sticky: true, when: (e) => e.code === 'CONNECT_FAILED' || e.code === 'CONNECT_TIMEOUT' || e.code === 'GREETING_TIMEOUT' || lostBeforeSession(e) },
  { reason: 'smtp-starttls-refused', from: 'smtp', sticky: true, when: (e) => e.code === 'STARTTLS_UNAVAILABLE' },
  { reason: 'smtp-tls-failed', from: 'smtp', sticky: true, when: (e) => e.code === 'TLS_FAILED' },
  {
    reason: 'token-without-smtp-sendasapp', from: 'smtp', sticky: true,
    when: (e) => e.code === 'AUTH_FAILED' && smtpIs(535, '5.7.3')(e) && !!roles(e)?.includes('Mail.Send') && !roles(e)?.includes('SMTP.SendAsApp'),
  },
  { reason: 'graph-access-denied', from: 'graph', sticky: true, when: (e) => e.graph?.status === 403 && graphCode('erroraccessdenied')(e) },
  { reason: 'graph-mailbox-not-enabled', from: 'graph', sticky: true, when: graphCode('mailboxnotenabledforrestapi') },
  { reason: 'too-large-for-graph', from: 'graph', sticky: false, when: (e) => e.code === 'GRAPH_TOO_LARGE' || e.graph?.status === 413 },
];

/**
 * Whether a failed send certainly did not hand the message over: refused before acceptance, or
 * nothing was sent. Unknown outcomes (connection lost mid-dialogue, no answer from Graph,
 * Mailgate's own interruption after sending started) are not.
 */
export function certainlyNotAccepted(error: unknown): boolean {
  if (!isMailgateError(error)) return false;
  if (error.context.notSent === true || error.context.notTried === true) return true;
  if (lostBeforeSession(error)) return true;
  switch (error.code) {
    case 'SETTINGS_INVALID': case 'ARGUMENT_INVALID': case 'TOKEN_REJECTED': case 'TOKEN_UNAVAILABLE':
    case 'CONNECT_FAILED': case 'CONNECT_TIMEOUT': case 'GREETING_TIMEOUT': case 'STARTTLS_UNAVAILABLE': case 'TLS_FAILED':
    case 'AUTH_FAILED': case 'GRAPH_UNREACHABLE': case 'GRAPH_TOO_LARGE':
      return true;
    case 'GRAPH_AUTH_FAILED': case 'GRAPH_REJECTED': case 'GRAPH_TRANSIENT':
      // An answer from Graph other than 202: it did not accept the message.
      return error.graph !== undefined;
    default:
      return false;
  }
}

/**
 * The decision for a failure on `transport`: move (with the reason) only when a row matches and
 * the message certainly was not accepted; otherwise stay.
 */
export function decideRoute(transport: RouteTransport, error: unknown): RouteDecision {
  if (!isMailgateError(error)) return { reason: 'not-a-transport-failure', sticky: false };
  const row = ROUTE_RULES.find((r) => r.from === transport && r.when(error));
  if (!row) return { reason: 'same-failure-on-both', sticky: false };
  if (!certainlyNotAccepted(error)) return { reason: 'outcome-unknown', sticky: false };
  return { next: transport === 'smtp' ? 'graph' : 'smtp', reason: row.reason, sticky: row.sticky };
}
