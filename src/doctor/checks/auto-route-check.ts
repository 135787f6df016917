/**
 * Check `auto-route` (Transport auto): which transport Automatic would use for the Authorized
 * from Address now, and why, from what the SMTP and Graph checks of this run found.
 *
 * Why it exists: Automatic moves from SMTP to Graph only for failures Graph does not share
 * (core/transport-routing.ts); an administrator choosing auto wants to know, before sending,
 * where messages will go. The decision is the router's own table (`decideRoute`), fed with the
 * doctor's observations, so the doctor and the service cannot disagree. Pure.
 *
 * Imports: src/core (errors, transport-routing), ../types.
 */
import { MailgateError } from '../../core/errors.js';
import { decideRoute, type RouteTransport } from '../../core/transport-routing.js';
import type { CheckResult } from '../types.js';

export type SmtpOutcome =
  | { ok: true }
  /** The sign-in or the connection failed: the error when there is one, the TCP error code when the port did not open. */
  | { ok: false; error?: MailgateError; tcpCode?: string; roles?: string[] };

export type GraphOutcome = 'ok' | 'fail' | 'unknown';

const WHY: Record<string, string> = {
  preferred: 'SMTP signs in; Automatic prefers SMTP and moves to Graph only when SMTP refuses for a reason Graph does not share.',
  'smtp-auth-disabled': 'SMTP AUTH is disabled for the tenant or the mailbox (535 5.7.139); Graph is not subject to that setting.',
  'smtp-basic-auth-disabled': 'Basic authentication is refused (550 5.7.30); Graph uses the app\'s OAuth2 token.',
  'smtp-unreachable': 'The SMTP server cannot be reached (port blocked or unreachable) while HTTPS to Graph works.',
  'smtp-starttls-refused': 'The SMTP server refused or did not offer STARTTLS (Exchange Online always offers it: something on the path to port 587 strips it); Graph uses HTTPS to another host.',
  'smtp-tls-failed': 'The TLS handshake on the SMTP port failed (a middlebox on the path to port 587, or a certificate the SMTP server should not present); Graph uses HTTPS to another host.',
  'token-without-smtp-sendasapp': 'The token carries Mail.Send but not SMTP.SendAsApp: Graph can send, SMTP cannot.',
};

/** The transport Automatic would use, and the reason id (the router's, as in metrics). */
export function decideAutoRoute(smtp: SmtpOutcome, graph: GraphOutcome): { transport: RouteTransport | 'none'; reason: string; check: CheckResult } {
  const check = (status: CheckResult['status'], transport: RouteTransport | 'none', reason: string, summary: string) => ({
    transport, reason, check: { id: 'auto-route' as const, status, summary, details: { transport, reason, graph } },
  });
  if (smtp.ok) return check('pass', 'smtp', 'preferred', `Automatic would send by SMTP: ${WHY.preferred}`);
  let reason: string | undefined;
  if (smtp.tcpCode) reason = 'smtp-unreachable';
  else if (smtp.error) {
    const e = smtp.error;
    // The router reads the refused token's roles from the error's context, as the mailer attaches them.
    const withRoles = smtp.roles
      ? new MailgateError({ code: e.code, phase: e.phase, message: e.message, retryable: e.retryable, smtp: e.smtp, token: e.token, graph: e.graph, context: { ...e.context, tokenRoles: smtp.roles.join(' ') } })
      : e;
    reason = decideRoute('smtp', withRoles).next === 'graph' ? decideRoute('smtp', withRoles).reason : undefined;
  }
  if (!reason) {
    return check('fail', 'none', 'same-failure-on-both', 'Automatic cannot send: SMTP fails for a reason Microsoft Graph shares (or that moving would not fix), so Automatic does not move to Graph. Fix the failed SMTP check above.');
  }
  if (graph === 'fail') {
    return check('fail', 'none', reason, `Automatic would move to Microsoft Graph (${WHY[reason] ?? reason}) but Graph fails too (see graph-token and graph-send): no transport can send.`);
  }
  return check(graph === 'ok' ? 'pass' : 'warn', 'graph', reason,
    `Automatic would send by Microsoft Graph: ${WHY[reason] ?? reason}${graph === 'unknown' ? ' Give a recipient (--to) to check that Graph accepts a message.' : ''}`);
}
