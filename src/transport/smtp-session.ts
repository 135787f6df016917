/**
 * One SMTP submission connection: connect, STARTTLS, authenticate, send messages, quit.
 *
 * The discipline that keeps credentials safe lives here:
 * - TLS is required before AUTH: nodemailer's `requireTLS` sends STARTTLS even when it is not
 *   advertised and fails if the upgrade fails, and `authenticate` refuses to run on a
 *   connection that is not encrypted — a token or password never crosses in clear text.
 * - TLS 1.2 minimum, the certificate verified against the trust store (plus an extra CA).
 * - Authentication is mandatory: a session that is not authenticated never sends MAIL FROM.
 * - XOAUTH2 is run by our own handler: as one line with the initial response (what nodemailer
 *   and Outlook send), or in two steps (`AUTH XOAUTH2`, `334`, response) for servers with short
 *   command lines such as Dovecot 2.3 (dependencies.md §4a). A `334` error challenge is answered
 *   with an empty line, as RFC 7628 requires, to collect the final reply.
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SMTPConnectionCustomAuthContext } from 'nodemailer/lib/smtp-connection';
import { MailgateError, parseSmtpReply } from '../core/errors.js';
import { buildXOAuth2 } from '../core/xoauth2.js';
import { smtpErrorToMailgate } from './smtp-errors.js';
import type { Secret } from '../core/secret.js';
import { trustedCas } from '../auth/https-request.js';

export interface SessionOptions {
  host: string;
  port: number;
  /** Implicit TLS (port 465) instead of STARTTLS. */
  secure: boolean;
  ca?: string | Buffer;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
  /** Client name sent with EHLO. */
  clientName?: string;
  /** XOAUTH2 as one line (default) or in two steps. */
  xoauth2Mode?: 'initial-response' | 'two-step';
  localAddress?: string;
}

export type SessionCredentials =
  | { kind: 'xoauth2'; user: string; token: string }
  | { kind: 'password'; user: string; password: Secret };

export interface SessionSendResult {
  response: string;
  accepted: string[];
  rejected: string[];
}

export class SmtpSession {
  readonly conn: SMTPConnection;
  /** When the token used to authenticate this session expires (epoch ms). */
  tokenExpiresAt?: number;
  messagesSent = 0;
  lastUsedAt = Date.now();
  closed = false;
  #connected = false;
  #secrets: string[] = [];

  constructor(private readonly o: SessionOptions) {
    this.conn = new SMTPConnection({
      host: o.host,
      port: o.port,
      secure: o.secure,
      requireTLS: true,
      name: o.clientName,
      localAddress: o.localAddress,
      connectionTimeout: o.connectionTimeoutMs,
      greetingTimeout: o.greetingTimeoutMs,
      socketTimeout: o.socketTimeoutMs,
      logger: false,
      debug: false,
      tls: {
        minVersion: 'TLSv1.2',
        servername: /^[\d.]+$|:/.test(o.host) ? undefined : o.host,
        ...(o.ca ? { ca: trustedCas(o.ca) } : {}),
      },
      customAuth: { XOAUTH2: (ctx: SMTPConnectionCustomAuthContext) => this.#runXOAuth2(ctx) },
    });
    this.conn.on('error', () => {
      this.closed = true;
    });
    this.conn.on('end', () => {
      this.closed = true;
    });
  }

  #ctx() {
    return { host: this.o.host, port: this.o.port, connected: this.#connected, secrets: this.#secrets };
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.conn.connect((err) => {
        if (err) {
          this.closed = true;
          reject(smtpErrorToMailgate(err, this.#ctx()));
          return;
        }
        this.#connected = true;
        resolve();
      });
    });
  }

  /** Authenticate; refuses to send any credential unless the connection is encrypted. */
  authenticate(creds: SessionCredentials): Promise<void> {
    if (!this.conn.secure) {
      this.close();
      return Promise.reject(
        new MailgateError({
          code: 'STARTTLS_UNAVAILABLE',
          phase: 'tls',
          message: `The connection to ${this.o.host}:${this.o.port} is not encrypted; no credential was sent`,
          context: { host: this.o.host, port: this.o.port },
        }),
      );
    }
    const secret = creds.kind === 'xoauth2' ? creds.token : creds.password.reveal();
    this.#secrets = [secret];
    const auth =
      creds.kind === 'xoauth2'
        ? { method: 'XOAUTH2', user: creds.user, pass: creds.token }
        : { user: creds.user, pass: creds.password.reveal() };
    return new Promise((resolve, reject) => {
      this.conn.login(auth, (err) => {
        if (err) {
          reject(smtpErrorToMailgate({ ...err, message: err.message, code: err.code, response: err.response, responseCode: err.responseCode, command: err.command ?? 'AUTH' }, { ...this.#ctx(), user: creds.user }));
          return;
        }
        if (!this.conn.authenticated) {
          reject(new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: 'The server did not confirm the authentication' }));
          return;
        }
        resolve();
      });
    });
  }

  async #runXOAuth2(ctx: SMTPConnectionCustomAuthContext): Promise<void> {
    const { user, pass } = ctx.auth.credentials;
    const ir = buildXOAuth2(user, pass);
    let r;
    if (this.o.xoauth2Mode === 'two-step') {
      r = await ctx.sendCommand('AUTH XOAUTH2');
      if (r.status !== 334) throw authError(r.response);
      r = await ctx.sendCommand(ir);
    } else {
      r = await ctx.sendCommand(`AUTH XOAUTH2 ${ir}`);
    }
    if (r.status === 334) r = await ctx.sendCommand(''); // error challenge: collect the final reply
    if (r.status !== 235) throw authError(r.response);
    ctx.resolve();
  }

  send(envelope: { from: string; to: string[] }, raw: Buffer): Promise<SessionSendResult> {
    if (!this.conn.authenticated) {
      return Promise.reject(new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: 'Refusing to send on a connection that is not authenticated' }));
    }
    return new Promise((resolve, reject) => {
      this.conn.send(envelope, raw, (err, info) => {
        this.lastUsedAt = Date.now();
        if (err) {
          reject(smtpErrorToMailgate(err, this.#ctx()));
          return;
        }
        this.messagesSent++;
        resolve({
          response: info?.response ?? '',
          accepted: (info?.accepted ?? []).map(String),
          rejected: (info?.rejected ?? []).map(String),
        });
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.#connected) this.conn.quit();
      else this.conn.close();
    } catch {
      this.conn.close();
    }
  }
}

function authError(response: string): Error & { response: string; responseCode?: number } {
  const reply = parseSmtpReply(response);
  return Object.assign(new Error(`Authentication refused: ${response}`), { response, responseCode: reply?.code, command: 'AUTH XOAUTH2' });
}

/** Whether an authentication error means "this token was refused" (drop it and retry once). */
export function isTokenRefused(err: unknown): boolean {
  return err instanceof MailgateError && err.code === 'AUTH_FAILED' && err.smtp?.code === 535 && err.smtp.enhanced !== '5.7.139';
}
