/**
 * One round trip per message: MAIL FROM, every RCPT TO and `BDAT <size> LAST` with the message
 * bytes in one write (RFC 2920 PIPELINING + RFC 3030 CHUNKING), then the replies read in order.
 *
 * Why it exists: at real distance (10-100 ms to Exchange Online) the round trips of the
 * envelope, not the CPU, decide how long a message takes and how long a connection is busy.
 * Exchange advertises PIPELINING and CHUNKING (docs/m365.md §3.2); nodemailer pipelines
 * MAIL/RCPT/DATA but has no BDAT, so it needs two round trips (envelope + DATA, then the
 * dot-stuffed message after `354`).
 *
 * Which path a message takes (decided per session from the EHLO after STARTTLS, `pathFor`):
 * - PIPELINING and CHUNKING: this module (1 round trip);
 * - PIPELINING only: nodemailer's own pipelined MAIL/RCPT/DATA, then the message (2);
 * - neither, or `MAILGATE_SMTP_PIPELINING=off`: one command per round trip. With the setting off
 *   the session also hides PIPELINING from nodemailer (`withoutPipelining`): a server that
 *   misbehaves with pipelining gets none at all.
 *
 * How it sits on nodemailer's pooled connection (the choice): connect, STARTTLS, EHLO and
 * XOAUTH2 stay nodemailer's (and ours in smtp-session.ts) exactly as before, so the TLS and
 * credential discipline, the pool, token retirement and the error mapping are unchanged. Only
 * the envelope and message of an authenticated session go through here, on the same socket and
 * through nodemailer's own reply reader: each expected reply is queued as one of its response
 * actions (the mechanism its `customAuth` `sendCommand` uses), so multi-line replies, a `421` at
 * any point, timeouts and a closed socket are handled by the code that handles them today, and
 * the connection stays in step for the next message or QUIT. An own minimal client would have
 * meant taking the socket away from nodemailer after AUTH and re-implementing its reply parser
 * and failure events. nodemailer has no public API for this, so the few internal fields used are
 * read in one place (`nodemailerChannel`), checked at run time, and when they are missing the
 * session falls back to nodemailer's `send` (today's path) rather than failing.
 *
 * RFC rules kept: nothing is pipelined across STARTTLS, AUTH or EHLO (this runs only on an
 * authenticated session, and the batch holds only MAIL/RCPT/BDAT); BDAT carries the exact
 * bytes, counted, without dot-stuffing; the body is sent as it is composed (7-bit MIME, or
 * 8-bit for a relayed message, as today: no BODY= parameter, BINARYMIME is never needed);
 * SMTPUTF8 is added to MAIL FROM when the server offers it and the message needs it (an address
 * that is not ASCII, as nodemailer does, or UTF-8 in the header fields: `needsSmtpUtf8`). Every reply of the batch is read, whatever failed first: after a refused
 * MAIL FROM the RCPT and BDAT replies still arrive (RFC 2920 §3.1), and with every recipient
 * refused `BDAT LAST` still gets its reply (RFC 3030 §2: the server reads and answers the chunk).
 * When the transaction may still be open on the server (MAIL FROM accepted, the message not),
 * RSET follows (its reply is read by nodemailer), so the session is left clean; the pool closes a
 * session after any failure anyway (unchanged).
 *
 * The replies map exactly as nodemailer's do (smtp-errors.ts turns them into today's codes): a
 * refused MAIL FROM wins over everything; no recipient accepted fails with the first deferred
 * (4xx) RCPT reply, else the last refusal; a refused message fails with the BDAT reply; some
 * recipients refused is a success listing them in `rejected`.
 */
import type { Duplex } from 'node:stream';
import { MailgateError } from '../core/errors.js';
import type { NodemailerErrorLike } from './smtp-errors.js';

/** The server's reply texts to one pipelined batch, in the order the commands were sent. */
export interface BatchReplies {
  mail: string;
  rcpt: string[];
  /** The reply to `BDAT <n> LAST`. */
  bdat: string;
}

export interface PipelinedSendResult {
  response: string;
  accepted: string[];
  rejected: string[];
}

/** The outcome of one batch: a result or a nodemailer-shaped error (mapped by smtp-errors.ts). */
export type BatchOutcome =
  | { ok: true; result: PipelinedSendResult; reset: false }
  | { ok: false; error: NodemailerErrorLike & { rejected?: string[] }; reset: boolean };

export type SendPath = 'bdat' | 'pipelined-data' | 'one-by-one';

/** The extension keywords of an EHLO reply's lines (after the greeting line), upper case. */
export function extensionKeywords(ehloLines: readonly string[]): Set<string> {
  return new Set(ehloLines.map((l) => l.trim().split(/[\s=]+/)[0]!.toUpperCase()).filter(Boolean));
}

/** Which path a message takes on a session with these extensions. */
export function pathFor(extensions: ReadonlySet<string>, pipeliningEnabled: boolean): SendPath {
  if (!pipeliningEnabled || !extensions.has('PIPELINING')) return 'one-by-one';
  return extensions.has('CHUNKING') ? 'bdat' : 'pipelined-data';
}

const NON_ASCII = /[^\x00-\x7f]/;
const BAD_ADDRESS = /[\r\n<>\x00]/;

/**
 * Whether the header of a message (its bytes up to the first empty line) holds a byte of 0x80 or
 * more: UTF-8 header fields (RFC 6532), as a relay client may send. One pass that stops at the
 * end of the header; the body is never read (8-bit body text needs 8BITMIME, not SMTPUTF8). A
 * message composed by the API has an ASCII header (nodemailer encodes it as RFC 2047 words).
 */
export function headerHasUtf8(raw: Buffer): boolean {
  const LF = 0x0a;
  const CR = 0x0d;
  // An empty first line: no header at all.
  if (raw[0] === LF || (raw[0] === CR && raw[1] === LF)) return false;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b >= 0x80) return true;
    if (b === LF && (raw[i + 1] === LF || (raw[i + 1] === CR && raw[i + 2] === LF))) return false;
  }
  return false;
}

/**
 * Whether MAIL FROM must say SMTPUTF8 for this message (RFC 6531 §3.4): an envelope address that
 * is not ASCII, or UTF-8 header fields. Only said when the server offers SMTPUTF8; the caller
 * checks that.
 */
export function needsSmtpUtf8(envelope: { from: string; to: readonly string[] }, raw: Buffer): boolean {
  return [envelope.from, ...envelope.to].some((a) => NON_ASCII.test(a)) || headerHasUtf8(raw);
}

/**
 * The bytes of one batch: `MAIL FROM`, each `RCPT TO`, `BDAT <n> LAST`, then the message, in one
 * buffer (one write). Addresses with CR, LF or angle brackets are refused (they would inject
 * commands); the mailer validated them before, this is the last line.
 */
export function buildBatch(envelope: { from: string; to: readonly string[] }, raw: Buffer, smtputf8Offered: boolean): Buffer {
  const bad = [envelope.from, ...envelope.to].find((a) => BAD_ADDRESS.test(a));
  if (bad !== undefined || envelope.to.length === 0 || envelope.to.some((a) => a.trim() === '')) {
    throw new MailgateError({ code: 'ARGUMENT_INVALID', phase: 'arguments', message: envelope.to.length === 0 ? 'No recipients defined' : 'An envelope address contains CR, LF, NUL or angle brackets, or is empty' });
  }
  const utf8 = smtputf8Offered && needsSmtpUtf8(envelope, raw);
  const lines = [`MAIL FROM:<${envelope.from.trim()}>${utf8 ? ' SMTPUTF8' : ''}`, ...envelope.to.map((r) => `RCPT TO:<${r.trim()}>`), `BDAT ${raw.length} LAST`];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8'), raw]);
}

const positive = (reply: string): boolean => reply.charAt(0) === '2';
const codeOf = (reply: string): number | undefined => {
  const n = Number(reply.slice(0, 3));
  return Number.isInteger(n) && n >= 200 ? n : undefined;
};

function replyError(message: string, code: 'EENVELOPE' | 'EMESSAGE', response: string, command: string): NodemailerErrorLike {
  return { message: `${message}: ${response}`, code, response, responseCode: codeOf(response), command };
}

/** Maps the replies of one batch as nodemailer maps its own (see the module comment). */
export function mapBatchReplies(envelope: { to: readonly string[] }, replies: BatchReplies): BatchOutcome {
  if (!positive(replies.mail)) {
    return { ok: false, error: replyError('Mail command failed', 'EENVELOPE', replies.mail, 'MAIL FROM'), reset: false };
  }
  const accepted: string[] = [];
  const rejected: string[] = [];
  const refusals: string[] = [];
  envelope.to.forEach((rcpt, i) => {
    const r = replies.rcpt[i] ?? '';
    if (positive(r)) accepted.push(rcpt);
    else {
      rejected.push(rcpt);
      refusals.push(r);
    }
  });
  if (!accepted.length) {
    const deferred = refusals.find((r) => (codeOf(r) ?? 500) < 500);
    const error = { ...replyError("Can't send mail - all recipients were rejected", 'EENVELOPE', deferred ?? refusals[refusals.length - 1]!, 'RCPT TO'), rejected };
    // MAIL FROM was accepted: the transaction is open whatever the server answered to BDAT.
    return { ok: false, error, reset: true };
  }
  if (!positive(replies.bdat)) {
    return { ok: false, error: replyError('Message failed', 'EMESSAGE', replies.bdat, 'BDAT'), reset: true };
  }
  return { ok: true, result: { response: replies.bdat, accepted, rejected }, reset: false };
}

/**
 * What the pipelined send needs from a connection: one write, and a queue of reply handlers
 * called in order with each complete reply (multi-line replies joined by `\n`).
 */
export interface ReplyChannel {
  write(bytes: Buffer): void;
  expectReply(handler: (reply: string) => void): void;
}

/**
 * Send one message in one batch and collect its replies: `resolve` gets the mapped outcome once
 * the last reply is in, or early on a `421` (the server closes: no more replies come). It is
 * called synchronously from the reply handler, before nodemailer reacts to a `421` by closing
 * the connection (which would otherwise be reported first, as a lost connection without the
 * reply). Throws (ARGUMENT_INVALID) before writing anything when an address is unusable.
 */
export function startBatch(channel: ReplyChannel, envelope: { from: string; to: readonly string[] }, raw: Buffer, smtputf8Offered: boolean, resolve: (outcome: BatchOutcome) => void): void {
  const batch = buildBatch(envelope, raw, smtputf8Offered);
  const got: string[] = [];
  const total = envelope.to.length + 2;
  let settled = false;
  const onReply = (reply: string) => {
    if (settled) return;
    got.push(reply);
    const closing = /^421[ -]/.test(reply);
    if (got.length < total && !closing) return;
    settled = true;
    if (closing && got.length < total) {
      // The server is closing: a refused MAIL FROM still wins (as always), else the 421 decides.
      if (got.length > 1 && !positive(got[0]!)) return resolve({ ok: false, error: replyError('Mail command failed', 'EENVELOPE', got[0]!, 'MAIL FROM'), reset: false });
      const command = got.length === 1 ? 'MAIL FROM' : got.length <= envelope.to.length + 1 ? 'RCPT TO' : 'BDAT';
      resolve({ ok: false, error: replyError('Server closed the connection', command === 'BDAT' ? 'EMESSAGE' : 'EENVELOPE', reply, command), reset: false });
      return;
    }
    const outcome = mapBatchReplies(envelope, { mail: got[0]!, rcpt: got.slice(1, total - 1), bdat: got[total - 1]! });
    // A 421 as the last reply: the connection is going away, RSET would go nowhere.
    resolve(closing && !outcome.ok ? { ...outcome, reset: false } : outcome);
  };
  for (let i = 0; i < total; i++) channel.expectReply(onReply);
  channel.write(batch);
}

/** `startBatch` as a promise (tests). */
export function sendBatch(channel: ReplyChannel, envelope: { from: string; to: readonly string[] }, raw: Buffer, smtputf8Offered: boolean): Promise<BatchOutcome> {
  return new Promise<BatchOutcome>((resolve) => startBatch(channel, envelope, raw, smtputf8Offered, resolve));
}

/** The parts of nodemailer's SMTPConnection this module uses (internal fields, checked at run time). */
interface NodemailerInternals {
  _socket?: Duplex | false;
  _responseActions?: Array<(reply: string) => void>;
  _ehloLines?: string[];
  _supportedExtensions?: string[];
  _destroyed?: boolean;
  _sendCommand?: (str: string | Buffer, logStr?: string) => void;
}

/**
 * The reply channel over a nodemailer SMTPConnection, or undefined when its internals are not
 * what this module knows (another nodemailer version): the caller then uses `conn.send`.
 */
export function nodemailerChannel(conn: unknown): ReplyChannel | undefined {
  const c = conn as NodemailerInternals;
  const socket = c._socket;
  if (!socket || typeof socket.write !== 'function' || !Array.isArray(c._responseActions) || c._destroyed) return undefined;
  return {
    write: (bytes) => {
      socket.write(bytes);
    },
    expectReply: (handler) => {
      c._responseActions!.push(handler);
    },
  };
}

/** The extensions a nodemailer connection's last EHLO offered (empty when unknown). */
export function nodemailerExtensions(conn: unknown): Set<string> {
  const lines = (conn as NodemailerInternals)._ehloLines;
  return Array.isArray(lines) ? extensionKeywords(lines.filter((l): l is string => typeof l === 'string')) : new Set();
}

/** With pipelining off: nodemailer sends one command per round trip (it pipelines when PIPELINING is listed). */
export function withoutPipelining(conn: unknown): void {
  const ext = (conn as NodemailerInternals)._supportedExtensions;
  if (Array.isArray(ext)) for (let i = ext.length - 1; i >= 0; i--) if (ext[i] === 'PIPELINING') ext.splice(i, 1);
}

/**
 * Run `send` (a call of nodemailer's `conn.send`) so that the MAIL FROM it writes says SMTPUTF8.
 * nodemailer adds the keyword only for an address that is not ASCII and has no option for UTF-8
 * header fields (its envelope's `use8BitMime` adds BODY=8BITMIME, a different thing), so the
 * command writer of this connection is wrapped for the duration of the call: `send` writes MAIL
 * FROM synchronously (nodemailer 10: `send` → `_setEnvelope` → `_sendCommand`), on both its
 * PIPELINING and its one-command path. Only the first MAIL FROM line is touched, and not when it
 * already says SMTPUTF8; the writer is restored before this returns. When the internals are not
 * there (another nodemailer version), `send` runs unchanged: the message is delivered as before,
 * without the keyword, rather than failing.
 */
export function sayingSmtpUtf8<T>(conn: unknown, send: () => T): T {
  const c = conn as NodemailerInternals;
  const original = c._sendCommand;
  if (typeof original !== 'function') return send();
  const own = Object.prototype.hasOwnProperty.call(c, '_sendCommand');
  let done = false;
  c._sendCommand = function (this: unknown, str: string | Buffer, logStr?: string) {
    if (!done && typeof str === 'string' && /^MAIL FROM:/i.test(str)) {
      done = true;
      if (!/ SMTPUTF8(?: |$)/i.test(str)) return original.call(this, `${str} SMTPUTF8`, logStr === undefined ? undefined : `${logStr} SMTPUTF8`);
    }
    return original.call(this, str, logStr);
  };
  try {
    return send();
  } finally {
    if (own) c._sendCommand = original;
    else delete c._sendCommand;
  }
}
