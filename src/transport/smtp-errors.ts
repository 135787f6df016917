/**
 * Map a nodemailer SMTP client error to a MailgateError with the right code and phase.
 *
 * nodemailer tells us its own error type (`code`: ECONNECTION, ETIMEDOUT, ESOCKET, EDNS, ETLS,
 * EAUTH, EENVELOPE, EMESSAGE, EPROTOCOL), the server's reply (`response`, `responseCode`) and the
 * command that failed (`command`: CONN, STARTTLS, AUTH XOAUTH2, MAIL FROM, RCPT TO, DATA).
 * From those: 4xx is transient and retryable; 5xx is permanent (never retry a 5xx: Exchange
 * throttles senders that keep repeating failures, docs/m365.md §10.10); network trouble is retryable.
 */
import { MailgateError, parseSmtpReply, type ErrorCode, type Phase } from '../core/errors.js';
import { scrubText } from '../core/secret.js';
import { classifyForRetry } from '../core/retry-policy.js';

export interface NodemailerErrorLike {
  message?: string;
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
  originalCode?: string;
  errno?: string;
  cause?: unknown;
}

export interface SmtpErrorContext {
  host: string;
  port: number;
  user?: string;
  /** Whether the connection was already up when the error happened. */
  connected: boolean;
  secrets?: string[];
}

function phaseOfCommand(command: string | undefined, fallback: Phase): Phase {
  if (!command) return fallback;
  const c = command.toUpperCase();
  if (c === 'CONN' || c === 'EHLO' || c === 'HELO' || c === 'GREETING') return 'connect';
  if (c.startsWith('STARTTLS')) return 'tls';
  if (c.startsWith('AUTH')) return 'auth';
  return 'send';
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_SSL|ERR_TLS|EPROTO|WRONG_VERSION|HOSTNAME|ALTNAME/i;
const REFUSED = /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EADDRNOTAVAIL/;

export function smtpErrorToMailgate(err: unknown, ctx: SmtpErrorContext): MailgateError {
  if (err instanceof MailgateError) return err;
  const e = (err ?? {}) as NodemailerErrorLike;
  const message = scrubText(String(e.message ?? err), ctx.secrets ?? []);
  const sys = `${e.originalCode ?? ''} ${e.errno ?? ''} ${message}`;
  const context = { host: ctx.host, port: ctx.port, user: ctx.user, nodemailerCode: e.code, command: e.command };
  const reply = e.response ? parseSmtpReply(scrubText(e.response, ctx.secrets ?? []), e.command) : undefined;
  // `retryable` is decided by the retry table (core/retry-policy.ts), the one place for it;
  // the value given here is only the fallback when no table row matches.
  const make = (code: ErrorCode, phase: Phase, fallbackRetryable: boolean, text: string) => {
    const init = { code, phase, message: text, smtp: reply, context, cause: err };
    const decision = classifyForRetry(new MailgateError({ ...init, retryable: fallbackRetryable }));
    return new MailgateError({ ...init, retryable: decision.rule === 'unknown' ? fallbackRetryable : decision.retryable });
  };

  if (reply) {
    const phase = phaseOfCommand(e.command, 'send');
    const transient = reply.code >= 400 && reply.code < 500;
    if (phase === 'tls') return make('STARTTLS_UNAVAILABLE', 'tls', false, `The server refused STARTTLS: ${reply.raw}`);
    if (transient) return make('SMTP_TRANSIENT', phase, true, `Temporary SMTP failure at ${e.command ?? 'the dialogue'}: ${reply.raw}`);
    if (phase === 'auth') return make('AUTH_FAILED', 'auth', false, `Authentication refused: ${reply.raw}`);
    if (phase === 'connect') return make('SMTP_REJECTED', 'connect', false, `The server refused the session: ${reply.raw}`);
    return make('SMTP_REJECTED', 'send', false, `The server refused the message at ${e.command ?? 'DATA'}: ${reply.raw}`);
  }
  if (e.code === 'ETIMEDOUT' && /Connection timeout/i.test(message)) {
    return make('CONNECT_TIMEOUT', 'connect', true, `No TCP connection to ${ctx.host}:${ctx.port} within the timeout`);
  }
  if (e.code === 'ETIMEDOUT' && /Greeting never received/i.test(message)) {
    return make('GREETING_TIMEOUT', 'connect', true, `${ctx.host}:${ctx.port} accepted the connection but sent no SMTP greeting`);
  }
  if (e.code === 'ETLS' || (TLS_CODES.test(sys) && !ctx.connected) || TLS_CODES.test(e.originalCode ?? '')) {
    if (/STARTTLS/i.test(message) && !TLS_CODES.test(e.originalCode ?? '')) {
      return make('STARTTLS_UNAVAILABLE', 'tls', false, `${ctx.host}:${ctx.port} does not support STARTTLS; no credential was sent`);
    }
    return make('TLS_FAILED', 'tls', false, `TLS with ${ctx.host}:${ctx.port} failed: ${message}`);
  }
  if (e.code === 'EDNS' || (REFUSED.test(sys) && !ctx.connected)) {
    return make('CONNECT_FAILED', 'connect', true, `Cannot connect to ${ctx.host}:${ctx.port}: ${message}`);
  }
  if (!ctx.connected) return make('CONNECT_FAILED', 'connect', true, `Cannot connect to ${ctx.host}:${ctx.port}: ${message}`);
  return make('CONNECTION_LOST', phaseOfCommand(e.command, 'send'), true, `The connection to ${ctx.host}:${ctx.port} was lost: ${message}`);
}
