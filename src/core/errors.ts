/**
 * MailgateError: the one error type every part of Mailgate throws for an expected failure.
 *
 * Why: a failure must explain itself (which step, why, the exact fix). The error carries a
 * stable `code` from the catalogue below, the `phase` it happened in, whether a retry can help,
 * the raw server reply (SMTP line or token-endpoint JSON fields) and redacted context. The
 * human explanation is not stored here: `diagnose()` (./diagnosis) derives it from these fields,
 * so the CLI, the HTTP API, the doctor and the admin page all explain a failure the same way.
 *
 * Imports: nothing outside src/core.
 */

/** Where in the send pipeline a failure happened. */
export type Phase = 'settings' | 'arguments' | 'token' | 'connect' | 'tls' | 'auth' | 'send';

/** The stable error codes, each with its one-line meaning. Never rename a code; add new ones. */
export const ERROR_CODES = {
  SETTINGS_INVALID: 'One or more settings are missing or invalid.',
  ARGUMENT_INVALID: 'The message or a command-line argument is invalid (nothing was sent).',
  TOKEN_REJECTED: 'Microsoft Entra ID refused to issue an access token (AADSTS error).',
  TOKEN_UNAVAILABLE: 'The token endpoint could not be reached or answered with a transient error (5xx, 429, network).',
  CONNECT_FAILED: 'The TCP connection to the SMTP server failed (refused, unreachable, DNS).',
  CONNECT_TIMEOUT: 'The TCP connection to the SMTP server did not open in time.',
  GREETING_TIMEOUT: 'The SMTP server accepted the connection but never sent its greeting.',
  STARTTLS_UNAVAILABLE: 'The SMTP server did not offer STARTTLS, so no credential was sent.',
  TLS_FAILED: 'The TLS handshake with the SMTP server failed (untrusted certificate, old TLS version).',
  AUTH_FAILED: 'The SMTP server refused the authentication.',
  SMTP_TRANSIENT: 'The SMTP server answered with a temporary (4xx) error; a later retry can succeed.',
  SMTP_REJECTED: 'The SMTP server refused the message, the sender or a recipient permanently (5xx).',
  CONNECTION_LOST: 'The connection to the SMTP server closed or timed out in the middle of the dialogue.',
  INTERNAL: 'An unexpected internal error.',
  INTERRUPTED: 'Mailgate stopped the send itself (shutdown, settings changed, delivery thread restarted); the message goes back to the queue.',
  GRAPH_AUTH_FAILED: 'Microsoft Graph refused the token or the app\'s access to the mailbox (401, 403 ErrorAccessDenied, an unknown or REST-disabled mailbox): a set-up step is missing.',
  GRAPH_REJECTED: 'Microsoft Graph refused the message permanently (4xx: recipients, Send As, size, quota); nothing was sent.',
  GRAPH_TRANSIENT: 'Microsoft Graph answered with a temporary error (429 throttled, 503, 504, other 5xx); a later retry can succeed.',
  GRAPH_UNREACHABLE: 'The Microsoft Graph endpoint could not be reached (DNS, refused, TLS) before the request was sent; nothing was sent.',
  GRAPH_OUTCOME_UNKNOWN: 'The sendMail request was sent but no answer came (timeout, connection closed): Graph may have accepted it.',
  GRAPH_TOO_LARGE: 'The message does not fit one Microsoft Graph request (4 MB); nothing was sent.',
  ROTATION_STEP_INVALID: 'A credential rotation step that the flow does not allow now (add → test → promote → remove); the message says what to do next.',
  CREDENTIAL_READ_ONLY: 'The credential comes from the environment or MAILGATE_CONFIG; change it there.',
  SETTINGS_CONFLICT: 'Other changes to the settings or credentials (another admin, instance or `mailgate credentials`) kept being saved while this one was decided; nothing was changed: reload and try again.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The codes that mean the configuration itself was refused (credentials, set-up, TLS), not a
 * message: the pool stops waiting sends on them, the worker pauses delivery on them.
 */
export const CONFIGURATION_REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['TOKEN_REJECTED', 'AUTH_FAILED', 'STARTTLS_UNAVAILABLE', 'TLS_FAILED', 'SETTINGS_INVALID', 'GRAPH_AUTH_FAILED']);

/** A parsed SMTP reply: `535 5.7.3 Authentication unsuccessful [...]`. */
export interface SmtpReply {
  /** The basic reply code, e.g. 535. */
  code: number;
  /** The enhanced status code, e.g. "5.7.3", when the reply carries one. */
  enhanced?: string;
  /** The reply line(s) exactly as received (multi-line replies joined with "\n"). */
  raw: string;
  /** The SMTP command that provoked the reply, e.g. "AUTH XOAUTH2", "DATA" (never its arguments). */
  command?: string;
}

/** What the token endpoint said: the fields of an Entra error response that are safe to show. */
export interface TokenEndpointReply {
  /** HTTP status when one was received. */
  status?: number;
  /** The OAuth `error` field, e.g. "invalid_client". */
  error?: string;
  /** The AADSTS numbers from `error_codes` (or parsed from the description). */
  aadsts?: number[];
  /** `error_description` as sent (Entra never echoes the secret in it). */
  description?: string;
  traceId?: string;
  correlationId?: string;
  /** Seconds from a Retry-After header, when present. */
  retryAfterSeconds?: number;
}

/**
 * What Microsoft Graph answered: the HTTP status, the `error.code` / `error.message` of its JSON
 * body (`{"error":{"code":"ErrorAccessDenied","message":"...","innerError":{...}}}`), the ids
 * Microsoft support asks for, and Retry-After. Graph never echoes the bearer token.
 */
export interface GraphReply {
  status: number;
  /** `error.code`, e.g. "ErrorAccessDenied", "InvalidAuthenticationToken", "ApplicationThrottled". */
  code?: string;
  /** `error.message` as sent (at most 500 characters). */
  message?: string;
  /** `error.innerError.code` when there is one. */
  innerCode?: string;
  /** The `request-id` response header (or `innerError.request-id`). */
  requestId?: string;
  /** The `client-request-id` Mailgate sent (echoed by Graph). */
  clientRequestId?: string;
  /** Seconds from a Retry-After header, when present. */
  retryAfterSeconds?: number;
}

/** One invalid setting or argument. */
export interface Problem {
  /** The setting key (e.g. `clientId`) or argument name (e.g. `to`). */
  key: string;
  /** The environment variable that sets it, for settings. */
  env?: string;
  /** The label on the Email Settings page, for settings. */
  label?: string;
  message: string;
}

export interface MailgateErrorInit {
  code: ErrorCode;
  phase: Phase;
  message: string;
  retryable?: boolean;
  smtp?: SmtpReply;
  token?: TokenEndpointReply;
  graph?: GraphReply;
  problems?: Problem[];
  /** Redacted context: host, port, tenant, client id, mailbox. Never a secret or token. */
  context?: Record<string, string | number | boolean | undefined>;
  cause?: unknown;
}

export class MailgateError extends Error {
  override readonly name = 'MailgateError';
  readonly code: ErrorCode;
  readonly phase: Phase;
  readonly retryable: boolean;
  readonly smtp?: SmtpReply;
  readonly token?: TokenEndpointReply;
  readonly graph?: GraphReply;
  readonly problems?: Problem[];
  readonly context: Record<string, string | number | boolean | undefined>;

  constructor(init: MailgateErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.phase = init.phase;
    this.retryable = init.retryable ?? false;
    this.smtp = init.smtp;
    this.token = init.token;
    this.graph = init.graph;
    this.problems = init.problems;
    this.context = init.context ?? {};
  }

  /** The raw server reply as one line for display: the SMTP reply, `AADSTSnnn: description`, or Graph's `HTTP 403 ErrorAccessDenied: message`. */
  get reply(): string | undefined {
    if (this.smtp) return this.smtp.raw;
    if (this.graph) return `HTTP ${this.graph.status}${this.graph.code ? ` ${this.graph.code}` : ''}${this.graph.message ? `: ${this.graph.message}` : ''}`;
    if (this.token?.description) return this.token.description;
    if (this.token?.status) return `HTTP ${this.token.status}${this.token.error ? ` ${this.token.error}` : ''}`;
    return undefined;
  }
}

export function isMailgateError(e: unknown): e is MailgateError {
  return e instanceof MailgateError;
}

/** Parse an SMTP reply line into code, enhanced status and raw text. */
export function parseSmtpReply(raw: string, command?: string): SmtpReply | undefined {
  const m = /^(\d{3})[ -](?:(\d\.\d{1,3}\.\d{1,3})\b)?/.exec(raw.trim());
  if (!m) return undefined;
  return { code: Number(m[1]), enhanced: m[2], raw: raw.trim(), command };
}
