/**
 * Exchange Online's SMTP reply texts (docs/m365.md §3-§5), and the translation of smtp-server's
 * stock replies (`Accepted`, `Ready to start TLS`, ...) into Exchange's wording.
 *
 * Why it exists: clients and the product's diagnosis match on these strings, so they live in
 * one reviewable place. Texts are sent without smtp-server's automatic enhanced status codes
 * (hideENHANCEDSTATUSCODES stays on); the enhanced code is part of each text, as Exchange
 * writes it. Texts marked "emulator wording" have no Microsoft source and are our best guess.
 *
 * Imports: ./ids.ts.
 */
import { newExchangeId } from './ids.js';

/** The names this emulated Exchange front end uses in its replies. */
export interface ExchangeIdentity {
  /** e.g. `SN4PR0501CA0054` (greeting host: `SN4PR0501CA0054.outlook.office365.com`). */
  frontEnd: string;
  /** e.g. `namprd05`. */
  region: string;
  /** e.g. `BN0PR04MB8080` (quoted in `[Hostname=...]` after DATA). */
  mailboxServer: string;
}

export interface Reply {
  code: number;
  /** The text after the code (enhanced status code included). */
  message: string;
}

export const greetingHost = (id: ExchangeIdentity): string => `${id.frontEnd}.outlook.office365.com`;
const frontEndFqdn = (id: ExchangeIdentity): string => `${id.frontEnd}.${id.region}.prod.outlook.com`;
export const mailboxServerFqdn = (id: ExchangeIdentity): string => `${id.mailboxServer}.${id.region}.prod.outlook.com`;

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => String(n).padStart(2, '0');

/** Exchange's greeting date, e.g. `Tue, 1 Feb 2022 10:25:02 +0000`. */
export function exchangeDate(d: Date): string {
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/** `220 <host>.outlook.office365.com Microsoft ESMTP MAIL Service ready at <date>` (text after 220). */
export const greetingText = (id: ExchangeIdentity, now: Date): string =>
  `${greetingHost(id)} Microsoft ESMTP MAIL Service ready at ${exchangeDate(now)}`;

export const REPLIES = {
  authSuccess: { code: 235, message: '2.7.0 Authentication successful' },
  tenantSmtpAuthDisabled: { code: 535, message: '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.' },
  mailboxSmtpAuthDisabled: { code: 535, message: '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.' },
  basicAuthDisabled: { code: 535, message: '5.7.139 Authentication unsuccessful, basic authentication is disabled.' },
  notAuthenticated: { code: 530, message: '5.7.57 Client not authenticated to send mail.' },
  concurrentConnections: { code: 432, message: '4.3.2 Concurrent connections limit exceeded.' },
  invalidXoauth2: { code: 501, message: '5.5.124 Invalid XOAUTH2 auth data' },
  /** Observed from Exchange when AUTH is sent before STARTTLS (AUTH is not offered then). */
  authBeforeTls: { code: 504, message: '5.7.4 Unrecognized authentication type' },
  alreadyAuthenticated: { code: 503, message: '5.5.2 Already authenticated' },
  /** Exchange on-premises wording for its recipient limit; unconfirmed for Exchange Online. */
  tooManyRecipients: { code: 452, message: '4.5.3 Too many recipients' },
  /** Generic RFC-style text; that Exchange Online uses it is unconfirmed (docs/m365.md §4). */
  messageTooBig: { code: 552, message: '5.3.4 Message size exceeds fixed maximum message size' },
  /**
   * Emulator choice for the 30 messages/minute limit. Microsoft now delays excess messages
   * ("throttled and successively carried over to the following minutes", docs/m365.md §5.1) instead
   * of refusing them; a delay is invisible to a client and would stall tests for up to a minute,
   * so the emulator refuses the MAIL FROM with a transient 4xx (wording after Exchange
   * on-premises' message rate limit) and the client is expected to retry later.
   */
  /** Exchange's texts for a message command out of sequence (also smtp-server's, translated below). */
  needMail: { code: 503, message: '5.5.2 Need mail command' },
  needRcpt: { code: 503, message: '5.5.2 Need rcpt command' },
  invalidArguments: { code: 501, message: '5.5.4 Invalid arguments' },
  rateLimited: { code: 450, message: '4.7.0 Message submission rate for this client has exceeded the configured limit' },
} as const satisfies Record<string, Reply>;

/** `535 5.7.3 Authentication unsuccessful [<fqdn> <ISO timestamp> <id>]`: the same text for every OAuth refusal. */
export function authUnsuccessful(id: ExchangeIdentity, now: Date): Reply {
  return { code: 535, message: `5.7.3 Authentication unsuccessful [${frontEndFqdn(id)} ${now.toISOString()} ${newExchangeId()}]` };
}

/** The SendAs refusal at the end of DATA (docs/m365.md §4, observed). */
export function sendAsDenied(authMailbox: string, from: string): Reply {
  return {
    code: 554,
    message: `5.2.252 SendAsDenied; ${authMailbox} not allowed to send as ${from}; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message.`,
  };
}

/** The reply to a BDAT chunk that is not the last one (emulator wording: no Microsoft source). */
export function chunkReceived(size: number): Reply {
  return { code: 250, message: `2.0.0 ${size} bytes received` };
}

/** `250 2.0.0 OK <message-id> [Hostname=...]`: the final reply to DATA (and to BDAT LAST). */
export function messageAccepted(id: ExchangeIdentity, messageId: string): Reply {
  return { code: 250, message: `2.0.0 OK ${messageId} [Hostname=${mailboxServerFqdn(id)}]` };
}

/**
 * smtp-server's stock texts → Exchange's wording (by reply code and text; `@context` keys
 * distinguish MAIL from RCPT). Anything not listed is sent unchanged.
 */
const STOCK_TRANSLATIONS: Record<string, string> = {
  '220 Ready to start TLS': '2.0.0 SMTP server ready',
  '235 Authentication successful': REPLIES.authSuccess.message,
  '250 Accepted@MAIL_FROM_OK': '2.1.0 Sender OK',
  '250 Accepted@RCPT_TO_OK': '2.1.5 Recipient OK',
  '250 OK': '2.0.0 OK',
  '250 Flushed': '2.0.0 Resetting',
  '221 Bye': '2.0.0 Service closing transmission channel',
  '354 End data with <CR><LF>.<CR><LF>': 'Start mail input; end with <CRLF>.<CRLF>',
  '500 Error: command not recognized': '5.3.3 Unrecognized command',
  '503 Error: send HELO/EHLO first': '5.5.2 Send hello first',
  '503 Error: need MAIL command': '5.5.2 Need mail command',
  '503 Error: need RCPT command': '5.5.2 Need rcpt command',
  '503 Error: nested MAIL command': '5.5.2 Sender already specified',
  '503 Error: TLS already active': '5.5.1 Bad sequence of commands',
  '503 Error: No identity changes permitted': REPLIES.alreadyAuthenticated.message,
  '504 Error: Unrecognized authentication type': '5.7.4 Unrecognized authentication type',
  '501 Error: Bad sender address syntax': '5.1.7 Invalid address',
  '501 Error: Bad recipient address syntax': '5.1.3 Invalid address',
  '501 Error: syntax: STARTTLS': '5.5.4 Invalid arguments',
  '501 Error: Syntax: HELO hostname': '5.5.4 Invalid domain name',
  '501 Error: Bad hostname syntax': '5.5.4 Invalid domain name',
  '501 Error: invalid userdata': '5.5.4 Invalid arguments',
  '501 Error: syntax: AUTH PLAIN token': '5.5.4 Invalid arguments',
  '501 Error: syntax: AUTH LOGIN': '5.5.4 Invalid arguments',
  '501 Authentication aborted': '5.7.0 Authentication aborted',
  '421 Error: too many unrecognized commands': '4.7.0 Too many errors on this connection, closing transmission channel',
  '421 Error: too many unauthenticated commands': '4.7.0 Too many errors on this connection, closing transmission channel',
  // Emulator wording: smtp-server closes the connection on an over-long line (limit: maxCommandLength).
  '421 Error: Command line too long': '4.7.0 Line too long, closing transmission channel',
  '421 Timeout - closing connection': '4.4.2 Timeout - closing connection',
  '421 Server shutting down': '4.3.2 Service not active',
  '451 Error: internal server error': '4.7.0 Temporary server error. Please try again later. PRX4',
};

/** Exchange's text for a reply smtp-server produced itself (unchanged when there is none). */
export function translateStockReply(code: number, text: string, context?: string): string {
  return STOCK_TRANSLATIONS[`${code} ${text}@${context ?? ''}`] ?? STOCK_TRANSLATIONS[`${code} ${text}`] ?? text;
}
