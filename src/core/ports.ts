/**
 * The interfaces the core owns and the adapters implement: a message to send, a mailer that
 * sends it, a token provider. The service (outbox, worker, HTTP) and the CLI depend on these,
 * never on nodemailer or MSAL directly.
 *
 * Imports: nothing outside src/core.
 */

/** A file attached to a message. */
export interface Attachment {
  filename: string;
  contentType: string;
  content: Buffer;
  /** Content-ID for an inline image, referenced from the HTML as `<img src="cid:VALUE">`. */
  cid?: string;
}

/**
 * A message relayed as received (the SMTP relay, issue 14): its bytes are sent unchanged with
 * this envelope instead of being composed. The relay has already added Received:, Message-ID and
 * Date where missing and removed Bcc:.
 */
export interface RawMime {
  /** The whole RFC 5322 message, CRLF line ends, not dot-stuffed. */
  content: Buffer;
  /** MAIL FROM and RCPT TO as the client gave them. */
  envelope: { from: string; to: string[] };
}

/** A message as the application hands it over; validated by `validateMessage` before sending. */
export interface OutboundMessage {
  /** The From address; defaults to the Authorized from Address. */
  from?: string;
  to: string[];
  cc?: string[];
  bcc?: string[];
  replyTo?: string;
  subject: string;
  text?: string;
  html?: string;
  /** Extra headers (names and values are checked for CR/LF). */
  headers?: Record<string, string>;
  attachments?: Attachment[];
  /** The Message-ID to use (angle brackets included). Kept stable across retries of one message. */
  messageId?: string;
  /**
   * Send these bytes as they are instead of composing (a relayed message). The other fields are
   * then only a summary (`to`: the envelope recipients, `subject`) and are not sent.
   */
  raw?: RawMime;
}

/** What the server said when it accepted a message. */
export interface SendResult {
  messageId: string;
  /** The final reply to DATA, e.g. `250 2.0.0 OK <...> [Hostname=...]`. */
  response: string;
  accepted: string[];
  rejected: string[];
}

export interface SendOptions {
  signal?: AbortSignal;
}

/** Sends messages through one configured route (SMTP XOAUTH2 or basic auth). */
export interface Mailer {
  send(message: OutboundMessage, options?: SendOptions): Promise<SendResult>;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

/** An access token and when it stops being usable (epoch milliseconds). */
export interface AccessToken {
  token: string;
  expiresAt: number;
}

export interface TokenProvider {
  /** A valid token from the cache, or a new one (one request however many callers wait). */
  getToken(options?: { forceRefresh?: boolean }): Promise<AccessToken>;
  /** Drop the cached token (after the SMTP server refused it). */
  invalidate(): void;
  /** Token requests sent to the token endpoint so far (for metrics and tests). */
  readonly requestCount: number;
}

/** Current time; injected so tests can move it. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
