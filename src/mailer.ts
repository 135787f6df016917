/**
 * createMailer: the composition of settings, token provider and SMTP pool into a Mailer.
 *
 * This is the one place that knows both the core (settings, message rules, errors) and the
 * adapters (MSAL token source, nodemailer sessions). The CLI, the service and the doctor get a
 * Mailer from here and never touch nodemailer or MSAL themselves.
 */
import { MailgateError } from './core/errors.js';
import { MAX_MESSAGE_BYTES, MAX_RECIPIENTS, validateMessage } from './core/message.js';
import type { Clock, Mailer, OutboundMessage, SendOptions, SendResult, TokenProvider } from './core/ports.js';
import type { EmailSettings } from './core/settings.js';
import { loadClientCertificate, type ClientCertificate } from './auth/client-certificate.js';
import { requestEntraToken } from './auth/entra-token-source.js';
import { decodeTokenClaims } from './auth/jwt-claims.js';
import { CachingTokenProvider } from './auth/token-provider.js';
import { composeMessage } from './transport/compose-message.js';
import { SmtpPool, type Authenticator } from './transport/smtp-pool.js';
import type { Logger } from './log/logger.js';

/** Exchange Online accepts at most 3 concurrent SMTP connections per mailbox. */
export const EXCHANGE_MAX_CONNECTIONS = 3;

export interface MailerDeps {
  /** An extra trusted CA (PEM) for the token endpoint and the SMTP server (tests, the emulator). */
  ca?: string | Buffer;
  logger?: Logger;
  clock?: Clock;
  /** Use this token provider instead of building one from the settings (shared across mailers). */
  tokenProvider?: TokenProvider;
  /** Connections per mailbox, capped at 3. Default 3. */
  maxConnections?: number;
  /** Close idle connections after this long (ms). Default 30 000. */
  idleTimeoutMs?: number;
  /** XOAUTH2 as one line (Exchange, default) or in two steps (servers with short command lines). */
  xoauth2Mode?: 'initial-response' | 'two-step';
  /** Token retry tuning (tests shorten it). */
  tokenRetry?: { maxAttempts?: number; baseDelayMs?: number; retryBudgetMs?: number };
  /** Bind outgoing SMTP connections to this local address. */
  localAddress?: string;
}

export interface MailgateMailer extends Mailer {
  readonly tokenProvider?: TokenProvider;
  /** Connection statistics of the pool. */
  readonly stats: { peakConnections: number; connectionsOpened: number; openConnections: number };
}

/** Build the token provider for modern-auth settings (one per credential). */
export function createTokenProvider(settings: EmailSettings, deps: Pick<MailerDeps, 'ca' | 'clock' | 'tokenRetry' | 'logger'> = {}): CachingTokenProvider {
  if (!settings.clientId || !settings.tenantId) {
    throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: 'Modern authentication needs the client ID and the tenant ID' });
  }
  let certificate: ClientCertificate | undefined;
  if (settings.clientCertificatePem || settings.clientCertificatePath) {
    certificate = loadClientCertificate({ path: settings.clientCertificatePath, pem: settings.clientCertificatePem });
  }
  const { clientId, tenantId } = settings;
  return new CachingTokenProvider({
    fetchToken: () =>
      requestEntraToken({
        authorityHost: settings.authorityHost,
        tenantId,
        clientId,
        scope: settings.scope,
        clientSecret: certificate ? undefined : settings.clientSecret,
        certificate,
        ca: deps.ca,
      }),
    refreshMarginMs: settings.tokenRefreshMarginSeconds * 1000,
    clock: deps.clock,
    ...deps.tokenRetry,
    onRequest: (o) => deps.logger?.debug({ event: 'token_request', ok: o.ok, code: o.code, attempt: o.attempt, tenantId, clientId }, 'token request'),
  });
}

const ENVELOPE_ADDRESS = /^[^\s<>()\[\]\\,;:"]{1,64}@[A-Za-z0-9.-]{1,253}$/;

/**
 * A relayed message read back from the store is checked again before it reaches SMTP (as
 * validateMessage does for composed ones): envelope addresses without CR/LF or SMTP syntax,
 * 1–500 recipients, at most 35 MB.
 */
function validateRaw(input: OutboundMessage): { raw: Buffer; messageId: string; envelope: { from: string; to: string[] } } {
  const raw = input.raw!;
  const problems: { key: string; message: string }[] = [];
  // An empty reverse path (a bounce) is not something a relay client may send through Exchange.
  if (!ENVELOPE_ADDRESS.test(raw.envelope.from)) problems.push({ key: 'envelope.from', message: 'the envelope sender is not a plain address' });
  if (raw.envelope.to.length < 1 || raw.envelope.to.length > MAX_RECIPIENTS) problems.push({ key: 'envelope.to', message: `1 to ${MAX_RECIPIENTS} envelope recipients are needed` });
  raw.envelope.to.forEach((a, i) => {
    if (!ENVELOPE_ADDRESS.test(a)) problems.push({ key: `envelope.to[${i}]`, message: 'an envelope recipient is not a plain address' });
  });
  if (raw.content.length === 0 || raw.content.length > MAX_MESSAGE_BYTES) problems.push({ key: 'raw', message: `the message must have 1 byte to ${MAX_MESSAGE_BYTES} bytes` });
  if (problems.length) throw new MailgateError({ code: 'ARGUMENT_INVALID', phase: 'arguments', message: `The relayed message cannot be sent: ${problems.map((p) => p.message).join('; ')}`, problems });
  return { raw: raw.content, messageId: input.messageId ?? '', envelope: { from: raw.envelope.from, to: [...raw.envelope.to] } };
}

export function createMailer(settings: EmailSettings, deps: MailerDeps = {}): MailgateMailer {
  const tokenProvider = settings.useModernAuth ? deps.tokenProvider ?? createTokenProvider(settings, deps) : undefined;
  const marginMs = Math.min(settings.tokenRefreshMarginSeconds * 1000, 120_000);

  // The claims of the last token handed to SMTP: a failure after it (SMTP AUTH refused, a
  // send refused) carries its oid and roles, so the diagnosis names the real Enterprise
  // Application object id (never the token itself: only these two non-secret claims).
  let tokenFacts: { tokenOid?: string; tokenRoles?: string } = {};
  const authenticator: Authenticator = tokenProvider
    ? {
        retryOnRefusal: true,
        async credentials(fresh) {
          const t = await tokenProvider.getToken({ forceRefresh: fresh });
          const claims = decodeTokenClaims(t.token);
          tokenFacts = claims
            ? { tokenOid: typeof claims.oid === 'string' ? claims.oid : undefined, tokenRoles: Array.isArray(claims.roles) ? claims.roles.filter((r) => typeof r === 'string').join(' ') : '' }
            : {};
          return { creds: { kind: 'xoauth2', user: settings.authorizedFrom, token: t.token }, expiresAt: t.expiresAt };
        },
      }
    : {
        retryOnRefusal: false,
        async credentials() {
          if (!settings.smtpUsername || !settings.smtpPassword) {
            throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: 'Basic authentication needs the SMTP username and password' });
          }
          return { creds: { kind: 'password', user: settings.smtpUsername, password: settings.smtpPassword } };
        },
      };

  const pool = new SmtpPool(
    {
      host: settings.smtpHost,
      port: settings.smtpPort,
      secure: settings.smtpPort === 465,
      ca: deps.ca,
      connectionTimeoutMs: settings.connectionTimeoutMs,
      greetingTimeoutMs: settings.greetingTimeoutMs,
      socketTimeoutMs: settings.socketTimeoutMs,
      xoauth2Mode: deps.xoauth2Mode,
      localAddress: deps.localAddress,
      maxConnections: Math.max(1, Math.min(deps.maxConnections ?? EXCHANGE_MAX_CONNECTIONS, EXCHANGE_MAX_CONNECTIONS)),
      retireMarginMs: marginMs,
      idleTimeoutMs: deps.idleTimeoutMs ?? 30_000,
      clock: deps.clock,
    },
    authenticator,
  );

  return {
    tokenProvider,
    get stats() {
      return { peakConnections: pool.peakConnections, connectionsOpened: pool.connectionsOpened, openConnections: pool.openConnections };
    },
    async send(input: OutboundMessage, _options?: SendOptions): Promise<SendResult> {
      const composed = input.raw ? validateRaw(input) : await composeMessage(validateMessage(input), settings.authorizedFrom);
      const started = Date.now();
      try {
        const r = await pool.send(composed.envelope, composed.raw);
        deps.logger?.debug({ event: 'sent', messageId: composed.messageId, ms: Date.now() - started }, 'message accepted');
        return { messageId: composed.messageId, response: r.response, accepted: r.accepted, rejected: r.rejected };
      } catch (err) {
        // A new error per message: one token failure is handed to every waiting send, and its
        // context must name each one's own message, not the last one's.
        const phase = err instanceof MailgateError ? err.phase : 'send';
        const context = { messageId: composed.messageId, authorizedFrom: settings.authorizedFrom, ...(phase === 'auth' || phase === 'send' ? tokenFacts : {}) };
        if (!(err instanceof MailgateError)) throw new MailgateError({ code: 'INTERNAL', phase: 'send', message: String((err as Error)?.message ?? err), cause: err, context });
        throw new MailgateError({ code: err.code, phase: err.phase, message: err.message, retryable: err.retryable, smtp: err.smtp, token: err.token, problems: err.problems, context: { ...err.context, ...context }, cause: err.cause });
      }
    },
    close: () => pool.close(),
  };
}
