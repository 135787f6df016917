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
 *   command lines such as Dovecot 2.3 (docs/dependencies.md §4a). A `334` error challenge is answered
 *   with an empty line, as RFC 7628 requires, to collect the final reply.
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SMTPConnectionCustomAuthContext } from 'nodemailer/lib/smtp-connection';
import { MailgateError, parseSmtpReply } from '../core/errors.js';
import { buildXOAuth2 } from '../core/xoauth2.js';
import { smtpErrorToMailgate } from './smtp-errors.js';
import type { Secret } from '../core/secret.js';
import { secureContextFor } from '../net/trust.js';
import { nodemailerChannel, nodemailerExtensions, needsSmtpUtf8, pathFor, sayingSmtpUtf8, startBatch, withoutPipelining, type SendPath } from './smtp-pipeline.js';

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
  /**
   * Pipeline the envelope (and with CHUNKING the message too) when the server offers it
   * (smtp-pipeline.ts). Default true; false (`MAILGATE_SMTP_PIPELINING=off`) sends one command
   * per round trip, for a server that misbehaves with pipelining.
   */
  pipelining?: boolean;
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
  /** When the session authenticated (epoch ms). */
  authenticatedAt = 0;
  /** When the pool last got this session back (set on the pool's clock). */
  lastUsedAt = 0;
  /** False once anything went wrong, or the socket ended: the pool never reuses it. */
  usable = true;
  #tornDown = false;
  #connected = false;
  #secrets: string[] = [];
  /** The XOAUTH2 initial response of the current authentication. */
  #xoauth2?: string;

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
      // After QUIT, wait at most 1 s for the server to close before destroying the socket.
      socketCloseTimeout: 1000,
      logger: false,
      debug: false,
      tls: {
        minVersion: 'TLSv1.2',
        servername: /^[\d.]+$|:/.test(o.host) ? undefined : o.host,
        ...(o.ca ? { secureContext: secureContextFor(o.ca) } : {}),
      },
      customAuth: { XOAUTH2: (ctx: SMTPConnectionCustomAuthContext) => this.#runXOAuth2(ctx) },
    });
    this.conn.on('error', () => {
      this.usable = false;
    });
    this.conn.on('end', () => {
      this.usable = false;
    });
  }

  #ctx() {
    return { host: this.o.host, port: this.o.port, connected: this.#connected, secrets: this.#secrets };
  }

  /**
   * Run one nodemailer operation as a promise. nodemailer reports some failures (a refused
   * connection, a socket closed mid-command) only as an 'error' or 'end' event and never calls
   * the operation's callback, so the promise also settles on those events: no operation can
   * hang forever and let the process exit as if nothing happened.
   */
  #operation<T>(start: (done: (err: unknown, value?: T) => void) => void, user?: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (err: unknown, value?: T) => {
        if (settled) return;
        settled = true;
        this.conn.off('error', onError);
        this.conn.off('end', onEnd);
        if (err) {
          this.usable = false;
          reject(smtpErrorToMailgate(err, { ...this.#ctx(), user }));
        } else resolve(value as T);
      };
      const onError = (err: unknown) => finish(err ?? new Error('SMTP connection error'));
      const onEnd = () => finish(Object.assign(new Error('Connection closed unexpectedly'), { code: 'ECONNECTION' }));
      this.conn.once('error', onError);
      this.conn.once('end', onEnd);
      try {
        start(finish);
      } catch (e) {
        finish(e);
      }
    });
  }

  async connect(): Promise<void> {
    await this.#operation<void>((done) => this.conn.connect((err) => done(err)));
    this.#connected = true;
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
    // Built here, before nodemailer runs: an invalid user or token rejects as ARGUMENT_INVALID
    // (nodemailer would rewrite an error thrown inside its auth handler into EAUTH, read as a
    // lost connection). The XOAUTH2 string itself is a secret too (two-step sends it bare).
    let xoauth2: string | undefined;
    try {
      xoauth2 = creds.kind === 'xoauth2' ? buildXOAuth2(creds.user, creds.token) : undefined;
    } catch (error) {
      this.close();
      return Promise.reject(error);
    }
    this.#xoauth2 = xoauth2;
    this.#secrets = xoauth2 ? [secret, xoauth2] : [secret];
    // nodemailer only keeps an explicit XOAUTH2 method when an `oauth2` object is present;
    // without one it silently falls back to the first advertised mechanism (LOGIN on
    // Exchange) and would send the token as a password. The custom XOAUTH2 handler above runs
    // instead of the stub, so the stub is never called.
    const auth =
      creds.kind === 'xoauth2'
        ? { method: 'XOAUTH2', user: creds.user, pass: creds.token, oauth2: XOAUTH2_HANDLED_BY_CUSTOM_AUTH }
        : { method: this.#passwordMechanism(), user: creds.user, pass: creds.password.reveal() };
    return this.#operation<void>((done) => {
      this.conn.login(auth, (err) => {
        if (err) done({ message: err.message, code: err.code, response: err.response, responseCode: err.responseCode, command: err.command ?? 'AUTH', originalCode: (err as { originalCode?: string }).originalCode });
        else if (!this.conn.authenticated) done(new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: 'The server did not confirm the authentication' }));
        else {
          this.#learnSendPath();
          done(null);
        }
      });
    }, creds.user);
  }

  #sendPath: SendPath = 'one-by-one';
  #smtputf8 = false;

  /** How messages go on this session (from the EHLO after STARTTLS; see smtp-pipeline.ts). */
  get sendPath(): SendPath {
    return this.#sendPath;
  }

  #learnSendPath(): void {
    const ext = nodemailerExtensions(this.conn);
    const enabled = this.o.pipelining !== false;
    this.#sendPath = pathFor(ext, enabled);
    this.#smtputf8 = ext.has('SMTPUTF8');
    if (!enabled) withoutPipelining(this.conn);
  }

  /** PLAIN when the server offers it, else LOGIN: never XOAUTH2 with a password. */
  #passwordMechanism(): 'PLAIN' | 'LOGIN' {
    return this.offeredAuthMechanisms().includes('PLAIN') ? 'PLAIN' : 'LOGIN';
  }

  /**
   * The AUTH mechanisms the server offered in its last EHLO (after STARTTLS). nodemailer keeps
   * them in an untyped field; this is the one place that reads it.
   */
  offeredAuthMechanisms(): string[] {
    const m = (this.conn as unknown as { _supportedAuth?: unknown })._supportedAuth;
    return Array.isArray(m) ? m.filter((x): x is string => typeof x === 'string') : [];
  }

  async #runXOAuth2(ctx: SMTPConnectionCustomAuthContext): Promise<void> {
    const ir = this.#xoauth2 ?? buildXOAuth2(ctx.auth.credentials.user, ctx.auth.credentials.pass);
    let r;
    if (this.o.xoauth2Mode === 'two-step') {
      r = await ctx.sendCommand('AUTH XOAUTH2');
      if (r.status !== 334) throw authError(r.response);
      r = await ctx.sendCommand(ir);
    } else {
      r = await ctx.sendCommand(`AUTH XOAUTH2 ${ir}`);
      // A server with a short command line (Dovecot 2.3 submission: about 1 KB) refuses the
      // one-line form of a Microsoft-sized token without reading it; the two-step form of the
      // same SASL exchange fits. Retry once that way on the same connection.
      if (isLineTooLong(r)) {
        r = await ctx.sendCommand('AUTH XOAUTH2');
        if (r.status !== 334) throw authError(r.response);
        r = await ctx.sendCommand(ir);
      }
    }
    if (r.status === 334) r = await ctx.sendCommand(''); // error challenge: collect the final reply
    if (r.status !== 235) throw authError(r.response);
    ctx.resolve();
  }

  send(envelope: { from: string; to: string[] }, raw: Buffer): Promise<SessionSendResult> {
    if (!this.conn.authenticated) {
      return Promise.reject(new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: 'Refusing to send on a connection that is not authenticated' }));
    }
    const channel = this.#sendPath === 'bdat' ? nodemailerChannel(this.conn) : undefined;
    if (channel) {
      return this.#operation<SessionSendResult>((done) => {
        // buildBatch says SMTPUTF8 when the server offers it and the message needs it (an address
        // or a header field in UTF-8); without the offer, as today (see below).
        startBatch(channel, envelope, raw, this.#smtputf8, (outcome) => {
          if (outcome.ok) return done(null, outcome.result);
          // The transaction may still be open on the server: end it (nodemailer reads the reply).
          if (outcome.reset) this.conn.reset(() => undefined);
          done(outcome.error);
        });
      });
    }
    // SMTPUTF8 on MAIL FROM when the message needs it (UTF-8 header fields too, RFC 6531 §3.4;
    // nodemailer only adds it for an address that is not ASCII) and the server offers it. When the
    // server does not offer it, the message goes as today, without the keyword: the safe option
    // is to deliver, as every other client does (most servers take UTF-8 header fields anyway,
    // and refusing here would turn a deliverable message into a failure nobody can fix).
    const smtputf8 = this.#smtputf8 && needsSmtpUtf8(envelope, raw);
    return this.#operation<SessionSendResult>((done) => {
      const send = () =>
        this.conn.send(envelope, raw, (err, info) => {
          if (err) return done(err);
          done(null, {
            response: info?.response ?? '',
            accepted: (info?.accepted ?? []).map(String),
            rejected: (info?.rejected ?? []).map(String),
          });
        });
      if (smtputf8) sayingSmtpUtf8(this.conn, send);
      else send();
    });
  }

  /** True once close() ran or the connection failed. */
  get closed(): boolean {
    return this.#tornDown || !this.usable;
  }

  /** Tear the connection down (QUIT when it is healthy, else destroy the socket). Idempotent. */
  close(): void {
    if (this.#tornDown) return;
    this.#tornDown = true;
    const healthy = this.usable && this.#connected;
    this.usable = false;
    try {
      if (healthy) this.conn.quit();
      else this.conn.close();
    } catch {
      this.conn.close();
    }
  }
}

const XOAUTH2_HANDLED_BY_CUSTOM_AUTH = {
  getToken: (_renew: boolean, cb: (err: Error) => void) => cb(new Error('XOAUTH2 is handled by the custom handler')),
  buildXOAuth2Token: () => '',
} as unknown as NonNullable<Parameters<SMTPConnection['login']>[0]>['oauth2'];

/** `500 5.5.2 Line too long` and its kin: the command was not read, let alone checked. */
function isLineTooLong(r: { status: number; code?: string; response: string }): boolean {
  return (r.status === 500 || r.status === 501) && (r.code === '5.5.2' || /line too long|too long/i.test(r.response));
}

function authError(response: string): Error & { response: string; responseCode?: number } {
  const reply = parseSmtpReply(response);
  return Object.assign(new Error(`Authentication refused: ${response}`), { response, responseCode: reply?.code, command: 'AUTH XOAUTH2' });
}

/** Whether an authentication error means "this token was refused" (drop it and retry once). */
export function isTokenRefused(err: unknown): boolean {
  return err instanceof MailgateError && err.code === 'AUTH_FAILED' && err.smtp?.code === 535 && err.smtp.enhanced !== '5.7.139';
}
