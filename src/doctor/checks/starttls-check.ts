/**
 * Check `starttls`: the server greets, offers STARTTLS, and the TLS handshake succeeds with
 * TLS 1.2 or later and a trusted certificate; also reports which AUTH mechanisms the server
 * offers once the connection is encrypted.
 *
 * Why it exists: after the port opens, three different things can still stop a sign-in before
 * any credential is sent — a server (or proxy) that never greets, SMTP inspection that hides
 * STARTTLS, and TLS interception with a foreign certificate. The connection is made with the
 * product's own SmtpSession (same TLS rules as `mailgate send`), so what passes here works there.
 * `observeStarttls` is the I/O; `decideStarttls` is pure.
 *
 * Imports: node:tls, src/transport/smtp-session, src/core (errors, diagnosis), ../types.
 */
import tls from 'node:tls';
import { MailgateError, isMailgateError } from '../../core/errors.js';
import { diagnose } from '../../core/diagnosis/index.js';
import type { DiagnosisContext } from '../../core/diagnosis/types.js';
import { SmtpSession, type SessionOptions } from '../../transport/smtp-session.js';
import type { CheckResult } from '../types.js';
import { checkFromDiagnosis } from './diagnosis-result.js';

export interface TlsFacts {
  protocol?: string;
  cipher?: string;
  certificateSubject?: string;
  certificateIssuer?: string;
  certificateValidTo?: string;
}

export type StarttlsObservation =
  | { ok: true; ms: number; implicitTls: boolean; tls: TlsFacts; authMechanisms?: string[] }
  | { ok: false; ms: number; implicitTls: boolean; error: MailgateError; greetingTimeoutMs: number };

function name(entity: unknown): string | undefined {
  if (!entity || typeof entity !== 'object') return undefined;
  const e = entity as Record<string, unknown>;
  const parts = [e.CN, e.O].filter((v): v is string => typeof v === 'string' && v.length > 0);
  return parts.length ? parts.join(', ') : undefined;
}

/**
 * What the encrypted connection looks like. Reads nodemailer's socket, which its typings declare
 * public (`_socket`), and the AUTH mechanisms it parsed from the second EHLO (not typed, so read
 * defensively). Both are details for the report; nothing depends on them.
 */
export function tlsFactsOf(session: SmtpSession): { tls: TlsFacts; authMechanisms?: string[] } {
  const facts: TlsFacts = {};
  const socket = session.conn._socket;
  if (socket instanceof tls.TLSSocket) {
    facts.protocol = socket.getProtocol() ?? undefined;
    facts.cipher = socket.getCipher()?.name;
    const cert = socket.getPeerCertificate();
    if (cert && Object.keys(cert).length) {
      facts.certificateSubject = name(cert.subject);
      facts.certificateIssuer = name(cert.issuer);
      facts.certificateValidTo = cert.valid_to ? new Date(cert.valid_to).toISOString() : undefined;
    }
  }
  const offered = session.offeredAuthMechanisms();
  return { tls: facts, authMechanisms: offered.length ? offered : undefined };
}

/** Connects (greeting, EHLO, STARTTLS, TLS handshake, EHLO), records what it saw, and quits. Never throws. */
export async function observeStarttls(options: SessionOptions): Promise<StarttlsObservation> {
  const started = Date.now();
  const session = new SmtpSession(options);
  try {
    await session.connect();
    const facts = tlsFactsOf(session);
    return { ok: true, ms: Date.now() - started, implicitTls: options.secure, ...facts };
  } catch (e) {
    const error = isMailgateError(e)
      ? e
      : new MailgateError({ code: 'INTERNAL', phase: 'connect', message: String((e as Error)?.message ?? e), cause: e });
    return { ok: false, ms: Date.now() - started, implicitTls: options.secure, error, greetingTimeoutMs: options.greetingTimeoutMs };
  } finally {
    session.close();
  }
}

export function decideStarttls(o: StarttlsObservation, ctx: DiagnosisContext, mode: 'xoauth2' | 'password'): CheckResult {
  const where = `${ctx.smtpHost}:${ctx.smtpPort}`;
  if (o.ok) {
    const t = o.tls;
    const details: Record<string, unknown> = { ms: o.ms, ...t, ...(o.authMechanisms ? { authMechanisms: o.authMechanisms } : {}) };
    const how = o.implicitTls ? 'Implicit TLS' : 'STARTTLS';
    const summary =
      `${how} with ${where} succeeded: ${t.protocol ?? 'TLS'}` +
      (t.certificateSubject ? `, certificate for ${t.certificateSubject}` : '') +
      (t.certificateIssuer ? ` issued by ${t.certificateIssuer}` : '') +
      (o.authMechanisms ? `; AUTH mechanisms offered: ${o.authMechanisms.join(' ') || 'none'}` : '') + '.';
    const wanted = mode === 'xoauth2' ? ['XOAUTH2'] : ['LOGIN', 'PLAIN'];
    if (o.authMechanisms && !o.authMechanisms.some((m) => wanted.includes(m.toUpperCase()))) {
      return {
        id: 'starttls',
        status: 'warn',
        summary: `${summary.slice(0, -1)}, but not ${wanted.join(' or ')}.`,
        fix: `The server at ${where} does not offer AUTH ${wanted.join('/')} after STARTTLS, so the sign-in will probably fail. Check SMTP Client Server and Port (smtp.office365.com:587 for the global cloud).`,
        details,
      };
    }
    return { id: 'starttls', status: 'pass', summary, details };
  }
  const err = o.error;
  const d = diagnose(err, ctx);
  const seconds = (o.greetingTimeoutMs / 1000).toLocaleString('en', { maximumFractionDigits: 1 });
  const summary =
    err.code === 'GREETING_TIMEOUT'
      ? `${where} accepted the TCP connection but sent no SMTP greeting within ${seconds} s: it is not an SMTP server answering, or a proxy or firewall holds the connection.`
      : undefined;
  return checkFromDiagnosis('starttls', d, err, { summary, details: { ms: o.ms } });
}
