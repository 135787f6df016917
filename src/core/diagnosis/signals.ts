/**
 * Reads the low-level facts out of a failure: the system and library error codes
 * (ECONNREFUSED, ENOTFOUND, SELF_SIGNED_CERT_IN_CHAIN, ERR_TLS_CERT_ALTNAME_INVALID,
 * nodemailer's ETIMEDOUT/EDNS/ETLS and its `originalCode`) and the message texts along the
 * `cause` chain, plus an SMTP reply carried by a foreign (non-Mailgate) error.
 *
 * Why: the transport wraps socket and TLS errors into MailgateError codes such as TLS_FAILED,
 * but the administrator's fix depends on *which* TLS failure it was. These facts are only ever
 * matched against fixed patterns in the rule tables; they are never copied into a diagnosis,
 * so an error message that happens to contain a token cannot leak through here.
 *
 * Imports: nothing outside src/core.
 */
import { isMailgateError, parseSmtpReply, type ErrorCode, type SmtpReply } from '../errors.js';

export interface Signals {
  /** Error codes found on the error, its causes and its context (upper-case identifiers only). */
  codes: ReadonlySet<string>;
  /** Messages of the error and its causes, joined; for pattern matching only, never shown. */
  text: string;
}

const CODE = /^[A-Z][A-Z0-9_]{1,63}$/;
const MAX_DEPTH = 6;

function get(obj: object, key: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** Collects codes and message texts from an error and its `cause` chain. Never throws. */
export function collectSignals(error: unknown): Signals {
  const codes = new Set<string>();
  const texts: string[] = [];
  let current: unknown = error;
  const seen = new Set<unknown>();
  for (let depth = 0; depth < MAX_DEPTH && current !== null && current !== undefined && !seen.has(current); depth++) {
    seen.add(current);
    if (typeof current === 'string') {
      texts.push(current);
      break;
    }
    if (typeof current !== 'object') break;
    for (const key of ['code', 'originalCode', 'errno']) {
      const v = get(current, key);
      if (typeof v === 'string' && CODE.test(v)) codes.add(v);
    }
    const message = get(current, 'message');
    if (typeof message === 'string') texts.push(message);
    if (isMailgateError(current)) {
      for (const [key, value] of Object.entries(current.context)) {
        if (/code|errno/i.test(key) && typeof value === 'string' && CODE.test(value)) codes.add(value);
      }
    }
    current = get(current, 'cause');
  }
  return { codes, text: texts.join('\n') };
}

/** True when any of the codes is present or the text matches. */
function hasSignal(signals: Signals, codes: readonly string[], text?: RegExp): boolean {
  return codes.some((c) => signals.codes.has(c)) || (text !== undefined && text.test(signals.text));
}

/**
 * The SMTP reply of a foreign error, e.g. nodemailer's `{ response: '535 5.7.3 ...', command }`.
 * Lets diagnose() and classifyForRetry() explain an error the transport did not wrap.
 */
export function foreignSmtpReply(error: unknown): SmtpReply | undefined {
  if (!error || typeof error !== 'object' || isMailgateError(error)) return undefined;
  const response = get(error, 'response');
  if (typeof response !== 'string') return undefined;
  const command = get(error, 'command');
  return parseSmtpReply(response, typeof command === 'string' ? command : undefined);
}

/** Signal groups shared by the diagnosis tables and the retry policy. */
const SIGNALS = {
  dns: { codes: ['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EDNS'], text: /getaddrinfo|ENOTFOUND|EAI_AGAIN/ },
  refused: { codes: ['ECONNREFUSED'], text: /ECONNREFUSED/ },
  unreachable: { codes: ['EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EACCES', 'EPERM'], text: /EHOSTUNREACH|ENETUNREACH/ },
  timeout: { codes: ['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT'], text: /ETIMEDOUT|timed? ?out/i },
  reset: { codes: ['ECONNRESET', 'EPIPE', 'ECONNECTION', 'ECONNABORTED', 'UND_ERR_SOCKET'], text: /ECONNRESET|socket hang up|EPIPE/ },
  tlsUntrusted: {
    codes: [
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'UNABLE_TO_GET_ISSUER_CERT',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'CERT_UNTRUSTED',
      'CERT_SIGNATURE_FAILURE',
      'CERT_REJECTED',
    ],
    text: /self[- ]signed certificate|unable to get (?:local )?issuer certificate|unable to verify the first certificate|certificate (?:is not trusted|signature failure)/i,
  },
  tlsHostname: { codes: ['ERR_TLS_CERT_ALTNAME_INVALID'], text: /does not match certificate's altnames|altname/i },
  tlsExpired: { codes: ['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'], text: /certificate has expired|certificate is not yet valid/i },
  tlsVersion: {
    codes: [
      'ERR_SSL_UNSUPPORTED_PROTOCOL',
      'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
      'ERR_SSL_NO_PROTOCOLS_AVAILABLE',
      'ERR_SSL_WRONG_VERSION_NUMBER',
      'ERR_SSL_VERSION_TOO_LOW',
      'ERR_TLS_INVALID_PROTOCOL_VERSION',
    ],
    text: /unsupported protocol|protocol version|no protocols available|wrong version number|version too low/i,
  },
} as const satisfies Record<string, { codes: readonly string[]; text: RegExp }>;

export type SignalGroup = keyof typeof SIGNALS;

export function hasGroup(signals: Signals, group: SignalGroup): boolean {
  const g = SIGNALS[group];
  return hasSignal(signals, g.codes, g.text);
}

/**
 * The MailgateError code a foreign error's system signal stands for (e.g. a raw ECONNREFUSED
 * → CONNECT_FAILED), or undefined when it shows no network or TLS signal.
 */
export function inferErrorCode(signals: Signals): ErrorCode | undefined {
  if (hasGroup(signals, 'tlsUntrusted') || hasGroup(signals, 'tlsHostname') || hasGroup(signals, 'tlsExpired') || hasGroup(signals, 'tlsVersion')) return 'TLS_FAILED';
  if (hasGroup(signals, 'dns') || hasGroup(signals, 'refused') || hasGroup(signals, 'unreachable')) return 'CONNECT_FAILED';
  if (/greeting/i.test(signals.text) && hasGroup(signals, 'timeout')) return 'GREETING_TIMEOUT';
  if (hasGroup(signals, 'timeout')) return 'CONNECT_TIMEOUT';
  if (hasGroup(signals, 'reset')) return 'CONNECTION_LOST';
  return undefined;
}
