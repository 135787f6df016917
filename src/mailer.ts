/**
 * createMailer: the composition of settings, token provider and a transport into a Mailer: the
 * SMTP pool (Transport smtp, the default), Microsoft Graph sendMail (Transport graph), or both
 * behind the router (Transport auto), behind the same Mailer port, so the worker, the delivery
 * thread and the CLI do not change.
 *
 * This is the one place that knows both the core (settings, message rules, errors) and the
 * adapters (MSAL token source, nodemailer sessions). The CLI, the service and the doctor get a
 * Mailer from here and never touch nodemailer or MSAL themselves.
 */
import { MailgateError } from './core/errors.js';
import { MAX_MESSAGE_BYTES, MAX_RECIPIENTS, validateMessage } from './core/message.js';
import { decideRoute, type RouteTransport } from './core/transport-routing.js';
import { withEnvelopeRecipients } from './transport/graph/envelope-bcc.js';
import type { AccessToken, Clock, Mailer, OutboundMessage, SendOptions, SendResult, TokenProvider } from './core/ports.js';
import type { EmailSettings } from './core/settings.js';
import { loadClientCertificate, type ClientCertificate } from './auth/client-certificate.js';
import { requestEntraToken } from './auth/entra-token-source.js';
import { decodeTokenClaims } from './auth/jwt-claims.js';
import { ResourceTokenProvider } from './auth/resource-token-provider.js';
import { CachingTokenProvider } from './auth/token-provider.js';
import { CredentialFailover, type FailoverEvent } from './auth/credential-failover.js';
import { composeMessage } from './transport/compose-message.js';
import { SmtpPool, type Authenticator } from './transport/smtp-pool.js';
import { GraphTransport } from './transport/graph/graph-transport.js';
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
  /** SMTP PIPELINING/CHUNKING when the server offers them (default true; `MAILGATE_SMTP_PIPELINING`). */
  pipelining?: boolean;
  /** The token provider switched to the secondary credential (issue 17): called once per switch. */
  onCredentialFailover?: (event: FailoverEvent) => void;
}

export interface MailgateMailer extends Mailer {
  readonly tokenProvider?: TokenProvider;
  /** Transport auto: where the sender goes now, why, and the moves so far (for metrics). */
  readonly route?: RouteState;
  /** Connection statistics of the pool. */
  readonly stats: { peakConnections: number; connectionsOpened: number; openConnections: number };
}

/**
 * Build the token provider for modern-auth settings (one per credential), with one cache entry
 * per resource: `getToken()` serves the SMTP scope, `forResource(graphScope)` Graph's.
 */
export function createTokenProvider(settings: EmailSettings, deps: Pick<MailerDeps, 'ca' | 'clock' | 'tokenRetry' | 'logger' | 'onCredentialFailover'> & { requestTimeoutMs?: number } = {}): ResourceTokenProvider {
  if (!settings.clientId || !settings.tenantId) {
    throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: 'Modern authentication needs the client ID and the tenant ID' });
  }
  let certificate: ClientCertificate | undefined;
  if (settings.clientCertificatePem || settings.clientCertificatePath) {
    certificate = loadClientCertificate({ path: settings.clientCertificatePath, pem: settings.clientCertificatePem });
  }
  // The secondary credential (issue 17): loaded when first needed, so a bad secondary never
  // stops the primary from working (the rotation's Test step reports it).
  const hasSecondary = Boolean(settings.clientSecretSecondary || settings.clientCertificatePemSecondary || settings.clientCertificatePathSecondary);
  let secondaryCertificate: ClientCertificate | undefined;
  const secondary = (): { clientSecret?: EmailSettings['clientSecret']; certificate?: ClientCertificate } => {
    if (settings.clientCertificatePemSecondary || settings.clientCertificatePathSecondary) {
      secondaryCertificate ??= loadClientCertificate({ path: settings.clientCertificatePathSecondary, pem: settings.clientCertificatePemSecondary });
      return { certificate: secondaryCertificate };
    }
    return { clientSecret: settings.clientSecretSecondary };
  };
  // One failover state per credential, shared by its resources (Outlook, Graph).
  const failover = new CredentialFailover({ hasSecondary, onFailover: deps.onCredentialFailover, ...(deps.clock ? { now: () => deps.clock!.now() } : {}) });
  const { clientId, tenantId } = settings;
  return new ResourceTokenProvider(settings.scope, (scope) => new CachingTokenProvider({
    fetchToken: () => failover.request((slot) => {
      const credential = slot === 'primary' ? { clientSecret: certificate ? undefined : settings.clientSecret, certificate } : secondary();
      return requestEntraToken({
        authorityHost: settings.authorityHost,
        tenantId,
        clientId,
        scope,
        ...credential,
        ca: deps.ca,
        ...(deps.requestTimeoutMs !== undefined ? { timeoutMs: deps.requestTimeoutMs } : {}),
      });
    }),
    refreshMarginMs: settings.tokenRefreshMarginSeconds * 1000,
    clock: deps.clock,
    ...deps.tokenRetry,
    onRequest: (o) => deps.logger?.debug({ event: 'token_request', ok: o.ok, code: o.code, attempt: o.attempt, tenantId, clientId, scope }, 'token request'),
  }));
}

/**
 * One real, uncached token request with the settings' primary credential alone (no retry, no
 * cache, no failover): the rotation's "Test" step (issue 17), and the doctor's test of the
 * secondary (with core/credential-slots' settings of that slot alone). Throws the token error;
 * resolves to the token (the doctor carries on with it when the service would fail over).
 * `timeoutMs` caps the request (default: the token request's own, 30 s).
 */
export async function testCredentialToken(settings: EmailSettings, deps: Pick<MailerDeps, 'ca'> & { timeoutMs?: number } = {}): Promise<AccessToken> {
  const alone: EmailSettings = { ...settings };
  delete alone.clientSecretSecondary;
  delete alone.clientCertificatePemSecondary;
  delete alone.clientCertificatePathSecondary;
  return createTokenProvider(alone, { ca: deps.ca, tokenRetry: { maxAttempts: 1 }, ...(deps.timeoutMs !== undefined ? { requestTimeoutMs: deps.timeoutMs } : {}) }).getToken();
}

/** Token audiences of Exchange Online (Outlook): never sent to Graph. */
const OUTLOOK_AUDIENCES = /^(https:\/\/outlook\.|https:\/\/outlook-dod\.|https:\/\/partner\.outlook\.cn|00000002-0000-0ff1-ce00-000000000000)/i;

function tokenFactsOf(token: string): { tokenOid?: string; tokenRoles?: string; aud?: string } {
  const claims = decodeTokenClaims(token);
  if (!claims) return {};
  return {
    tokenOid: typeof claims.oid === 'string' ? claims.oid : undefined,
    tokenRoles: Array.isArray(claims.roles) ? claims.roles.filter((r) => typeof r === 'string').join(' ') : '',
    aud: typeof claims.aud === 'string' ? claims.aud : undefined,
  };
}

/**
 * tokenFactsOf for one mailer: the claims are decoded once per token, not on every request that
 * reuses it (Graph asks for its token on every sendMail).
 */
function tokenFactsReader(): (token: string) => ReturnType<typeof tokenFactsOf> {
  let last: { token: string; facts: ReturnType<typeof tokenFactsOf> } | undefined;
  return (token) => {
    if (last?.token !== token) last = { token, facts: tokenFactsOf(token) };
    return last.facts;
  };
}

/**
 * The Graph mailer: the same composer as SMTP (Message-ID, attachments identical; the Bcc
 * header kept because Graph reads recipients from the MIME), a Graph token from the provider's
 * Graph entry (never the SMTP one), and the Graph transport.
 */
function createGraphMailer(settings: EmailSettings, deps: MailerDeps): MailgateMailer {
  if (!settings.useModernAuth) {
    throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: 'Transport graph needs modern authentication (Graph accepts only OAuth2 tokens)' });
  }
  const base = deps.tokenProvider ?? createTokenProvider(settings, deps);
  // One cache entry per resource: without forResource (a foreign provider) a fresh provider
  // of our own is built rather than ever using a token issued for another resource.
  const graphTokens = base.forResource ? base.forResource(settings.graphScope) : createTokenProvider(settings, deps).forResource(settings.graphScope);
  let tokenFacts: { tokenOid?: string; tokenRoles?: string } = {};
  const factsOf = tokenFactsReader();
  const transport = new GraphTransport(
    { endpoint: settings.graphEndpoint, mailbox: settings.authorizedFrom, clientId: settings.clientId ?? '', ca: deps.ca },
    {
      async token(fresh) {
        const t = await graphTokens.getToken({ forceRefresh: fresh });
        const { aud, ...facts } = factsOf(t.token);
        tokenFacts = facts;
        if (aud && OUTLOOK_AUDIENCES.test(aud)) {
          // Defence in depth: the cache is per resource, so this means the Graph token scope
          // names Exchange; an Outlook token is never handed to Graph.
          throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: `The token for Graph token scope ${settings.graphScope} is for Exchange Online (aud ${aud}), not Microsoft Graph; it was not sent. Set Graph token scope (MAILGATE_GRAPH_SCOPE) to the Graph resource, e.g. https://graph.microsoft.com/.default, or leave it empty.`, context: { scope: settings.graphScope } });
        }
        return t.token;
      },
      roles: () => (tokenFacts.tokenRoles === undefined ? undefined : tokenFacts.tokenRoles.split(' ').filter(Boolean)),
    },
  );
  return {
    tokenProvider: base,
    get stats() {
      return { peakConnections: transport.peakConcurrent, connectionsOpened: 0, openConnections: transport.activeRequests };
    },
    async send(input: OutboundMessage): Promise<SendResult> {
      if (input.raw) {
        // A relayed message goes as received; Graph reads recipients from the headers, so the
        // envelope's Bcc recipients are written back as a Bcc line (Graph strips it on send).
        // No attachment split for it: over 4 MB it fails GRAPH_TOO_LARGE (Automatic then uses SMTP).
        const v = validateRaw(input);
        try {
          return await transport.send({ raw: withEnvelopeRecipients(v.raw, v.envelope.to), messageId: v.messageId, recipients: v.envelope.to });
        } catch (err) {
          if (!(err instanceof MailgateError)) throw new MailgateError({ code: 'INTERNAL', phase: 'send', message: String((err as Error)?.message ?? err), cause: err, context: { messageId: v.messageId, transport: 'graph' } });
          throw err;
        }
      }
      const message = validateMessage(input);
      const composed = await composeMessage(message, settings.authorizedFrom, { keepBcc: true });
      const started = Date.now();
      try {
        const r = await transport.send({
          raw: composed.raw,
          messageId: composed.messageId,
          recipients: composed.envelope.to,
          // Over Graph's request limit: the same message (same Message-ID) without its attachments, and the attachments.
          split: async () => ({
            raw: (await composeMessage({ ...message, messageId: composed.messageId, attachments: [] }, settings.authorizedFrom, { keepBcc: true })).raw,
            attachments: (message.attachments ?? []).map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content, ...(a.cid ? { cid: a.cid } : {}) })),
          }),
        });
        deps.logger?.debug({ event: 'sent', transport: 'graph', messageId: composed.messageId, requestId: r.requestId, clientRequestId: r.clientRequestId, ms: Date.now() - started }, 'message accepted by Graph');
        return r;
      } catch (err) {
        const phase = err instanceof MailgateError ? err.phase : 'send';
        const context = { messageId: composed.messageId, authorizedFrom: settings.authorizedFrom, transport: 'graph', ...(phase === 'auth' || phase === 'send' ? tokenFacts : {}) };
        if (!(err instanceof MailgateError)) throw new MailgateError({ code: 'INTERNAL', phase: 'send', message: String((err as Error)?.message ?? err), cause: err, context });
        throw new MailgateError({ code: err.code, phase: err.phase, message: err.message, retryable: err.retryable, smtp: err.smtp, token: err.token, graph: err.graph, problems: err.problems, context: { ...err.context, ...context }, cause: err.cause });
      }
    },
    close: () => transport.close(),
  };
}

/** Where Automatic sends now, per app and mailbox, kept across mailers rebuilt by a settings change. */
export interface RouteState {
  transport: RouteTransport;
  reason: string;
  /** When the choice was made (epoch ms). */
  since: number;
  /** Moves made so far, by `from→to reason`. */
  switches: Record<string, number>;
}

const routes = new Map<string, RouteState>();

/** The route of one app and mailbox (for the admin page, /readyz and tests). */
export function routeStateFor(clientId: string, mailbox: string): RouteState | undefined {
  const r = routes.get(`${clientId.toLowerCase()}|${mailbox.toLowerCase()}`);
  return r ? structuredClone(r) : undefined;
}

/** After this long on the fallback, the next message tries the preferred transport (SMTP) again. */
export const ROUTE_REPROBE_MS = 15 * 60_000;

/**
 * Automatic (Transport auto): both mailers behind one Mailer, SMTP preferred (today's behaviour).
 * A failure moves to the other transport only when core/transport-routing.ts says so, which
 * requires that the message certainly was not accepted; the same message is then sent on the
 * other transport at once (one move per message, so no ping-pong). The choice is sticky per app
 * and mailbox, recorded with its reason, and re-probed after ROUTE_REPROBE_MS. A message too
 * large for Graph goes by SMTP without changing the choice.
 */
function createAutoMailer(settings: EmailSettings, deps: MailerDeps): MailgateMailer {
  const tokenProvider = deps.tokenProvider ?? createTokenProvider(settings, deps);
  const smtp = createMailer({ ...settings, transport: 'smtp' }, { ...deps, tokenProvider });
  const graph = createGraphMailer({ ...settings, transport: 'graph' }, { ...deps, tokenProvider });
  const key = `${(settings.clientId ?? '').toLowerCase()}|${settings.authorizedFrom.toLowerCase()}`;
  const now = () => deps.clock?.now() ?? Date.now();
  const state = (): RouteState => {
    let r = routes.get(key);
    if (!r) {
      r = { transport: 'smtp', reason: 'preferred', since: now(), switches: {} };
      routes.set(key, r);
    }
    // Re-probe: after a while on the fallback, SMTP (preferred) gets the next message again.
    if (r.transport !== 'smtp' && now() - r.since >= ROUTE_REPROBE_MS) Object.assign(r, { transport: 'smtp', reason: 'reprobe', since: now() });
    return r;
  };
  const by = (t: RouteTransport) => (t === 'smtp' ? smtp : graph);
  return {
    tokenProvider,
    get route() {
      return routes.get(key) ? structuredClone(routes.get(key)!) : undefined;
    },
    get stats() {
      const a = smtp.stats;
      const b = graph.stats;
      return { peakConnections: Math.max(a.peakConnections, b.peakConnections), connectionsOpened: a.connectionsOpened, openConnections: a.openConnections + b.openConnections };
    },
    async send(input: OutboundMessage, options?: SendOptions): Promise<SendResult> {
      const route = state();
      const first = route.transport;
      try {
        return await by(first).send(input, options);
      } catch (err) {
        const d = decideRoute(first, err);
        if (!d.next) throw err;
        const r = routes.get(key)!;
        const label = `${first}→${d.next} ${d.reason}`;
        r.switches[label] = (r.switches[label] ?? 0) + 1;
        if (d.sticky) Object.assign(r, { transport: d.next, reason: d.reason, since: now() });
        deps.logger?.debug({ event: 'transport_switch', from: first, to: d.next, reason: d.reason, sticky: d.sticky, authorizedFrom: settings.authorizedFrom }, 'automatic routing moved to the other transport');
        // One move per message: a failure there is that transport's answer (retried or failed by the worker).
        return await by(d.next).send(input, options);
      }
    },
    close: async () => {
      await Promise.all([smtp.close(), graph.close()]);
    },
  };
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
  if (settings.transport === 'graph') return createGraphMailer(settings, deps);
  if (settings.transport === 'auto') return createAutoMailer(settings, deps);
  const tokenProvider = settings.useModernAuth ? deps.tokenProvider ?? createTokenProvider(settings, deps) : undefined;
  const marginMs = Math.min(settings.tokenRefreshMarginSeconds * 1000, 120_000);

  // The claims of the last token handed to SMTP: a failure after it (SMTP AUTH refused, a
  // send refused) carries its oid and roles, so the diagnosis names the real Enterprise
  // Application object id (never the token itself: only these two non-secret claims).
  let tokenFacts: { tokenOid?: string; tokenRoles?: string } = {};
  const factsOf = tokenFactsReader();
  const authenticator: Authenticator = tokenProvider
    ? {
        retryOnRefusal: true,
        async credentials(fresh) {
          const t = await tokenProvider.getToken({ forceRefresh: fresh });
          const { aud: _aud, ...facts } = factsOf(t.token);
          tokenFacts = facts;
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
      pipelining: deps.pipelining,
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
        return { messageId: composed.messageId, response: r.response, accepted: r.accepted, rejected: r.rejected, transport: 'smtp' };
      } catch (err) {
        // A new error per message: one token failure is handed to every waiting send, and its
        // context must name each one's own message, not the last one's.
        const phase = err instanceof MailgateError ? err.phase : 'send';
        const context = { messageId: composed.messageId, authorizedFrom: settings.authorizedFrom, ...(phase === 'auth' || phase === 'send' ? tokenFacts : {}) };
        if (!(err instanceof MailgateError)) throw new MailgateError({ code: 'INTERNAL', phase: 'send', message: String((err as Error)?.message ?? err), cause: err, context });
        throw new MailgateError({ code: err.code, phase: err.phase, message: err.message, retryable: err.retryable, smtp: err.smtp, token: err.token, graph: err.graph, problems: err.problems, context: { ...err.context, ...context }, cause: err.cause });
      }
    },
    close: () => pool.close(),
  };
}
