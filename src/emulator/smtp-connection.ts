/**
 * One SMTP session of the emulated Exchange Online front end: a subclass of smtp-server's
 * `SMTPConnection` that changes exactly what Exchange does differently:
 *  - no early-talker greeting delay (smtp-server hard-codes 100 ms in `init()`; here it is the
 *    `greetingDelayMs` option, default 0) and the "greeting never comes" fault;
 *  - Exchange's greeting, EHLO capabilities (STARTTLS before TLS, `AUTH LOGIN XOAUTH2` after)
 *    and reply wording (`send()` translates smtp-server's stock texts, see smtp-replies.ts);
 *  - AUTH before TLS refused, XOAUTH2 decided by xoauth2-auth.ts (SASL-IR and the two-step
 *    `334` form), the per-mailbox concurrent-connection limit;
 *  - transient `421`/`451` faults, and a per-session admin-log entry with credentials redacted;
 *  - PIPELINING and CHUNKING as Exchange offers them (either can be turned off in the state's
 *    `smtp`), BDAT read by smtp-chunking.ts, and the round trips of each message counted.
 *
 * Why it exists: smtp-server has no hooks for these; overriding its documented (typed) methods
 * in one subclass keeps the library untouched. This file is longer than most because it is
 * the protocol state machine's one extension point.
 *
 * Imports: smtp-server, ./smtp-runtime.ts, ./smtp-replies.ts, ./xoauth2-auth.ts, ./access-token.ts,
 * ./activity-log.ts, ./faults.ts, ./smtp-chunking.ts, ./state.ts (and smtp-server.ts's type).
 */
import type net from 'node:net';
import type tls from 'node:tls';
import type { SMTPServer } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import type { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { ChunkReader, parseBdat, parserAwaitsClient, RoundTripCounter } from './smtp-chunking.js';
import type { ExchangeSmtpServer } from './smtp-server.js';
import { smtpExtensions } from './state.js';
import { verifyAccessToken } from './access-token.js';
import { redactCommand, type SmtpAuthRecord, type SmtpCommandRecord, type SmtpSessionLogEntry } from './activity-log.js';
import { defaultTransientText } from './faults.js';
import { authUnsuccessful, chunkReceived, greetingHost, greetingText, mailboxServerFqdn, REPLIES, translateStockReply, type Reply } from './smtp-replies.js';
import type { AuthenticatedUser, SmtpRuntime } from './smtp-runtime.js';
import { decideXoauth2, parseXoauth2Response, type AuthVerdict } from './xoauth2-auth.js';

const noop = (): void => undefined;

/** The BDAT reader of each parser (a parser is made in smtp-server's constructor, before our fields exist). */
const chunkReaders = new WeakMap<SMTPStream, ChunkReader>();

/** An EHLO/HELO argument: a domain name or an address literal such as `[127.0.0.1]`. */
const HELO_NAME = /^(\[[0-9a-f:.]+\]|\[ipv6:[0-9a-f:.]+\]|[a-z0-9_]([a-z0-9_.-]{0,253}[a-z0-9_])?)$/i;

export class ExchangeSmtpConnection extends SMTPConnection {
  readonly runtime: SmtpRuntime;
  readonly logEntry: SmtpSessionLogEntry;
  #record: SmtpCommandRecord | undefined;
  #stalled = false;
  /** Round trips of this connection and of its message in progress (smtp-chunking.ts). */
  readonly roundTrips = new RoundTripCounter();
  /** The BDAT chunks of the message in progress. */
  #chunks: { parts: Buffer[]; size: number } | undefined;

  constructor(server: SMTPServer, socket: net.Socket | tls.TLSSocket, options: SMTPConnectionOptions | null | undefined, runtime: SmtpRuntime) {
    super(server, socket, options);
    this.runtime = runtime;
    this.logEntry = runtime.log.add({
      kind: 'smtp', id: this.id, at: new Date().toISOString(), remoteAddress: this.remoteAddress,
      tls: false, auth: [], commands: [], messages: [], notes: [],
    });
    runtime.stats.smtpConnections++;
  }

  /** The authenticated user of this session, if AUTH succeeded. */
  get user(): AuthenticatedUser | undefined {
    return this.session.user as AuthenticatedUser | undefined;
  }

  /** The raw socket (for the "drop in the middle of DATA" fault). */
  get socket(): net.Socket {
    return this._socket;
  }

  /** Same as smtp-server's `init()`, minus the fixed 100 ms early-talker delay (see `greetingDelayMs`). */
  override init(): void {
    this._setListeners(() => {
      if (this.runtime.faults.takeNoGreeting()) {
        this.#stalled = true;
        this.logEntry.notes.push('fault smtpNoGreeting: the greeting is never sent');
        return;
      }
      const delay = this.runtime.greetingDelayMs;
      if (delay > 0) setTimeout(() => this.connectionReady(), delay).unref();
      else this.connectionReady();
    });
  }

  /** smtp-server's parser, plus the BDAT reader and the round-trip count of every client data arrival. */
  override _createParser(): SMTPStream {
    const parser = super._createParser();
    chunkReaders.set(parser, new ChunkReader(parser));
    const write = parser.write.bind(parser) as (...args: unknown[]) => boolean;
    parser.write = ((...args: unknown[]) => {
      this.roundTrips.arrival(parserAwaitsClient(parser, chunkReaders.get(parser), this._handlerPending));
      return write(...args);
    }) as typeof parser.write;
    return parser;
  }

  /** The content of a message is complete (end of DATA or BDAT LAST): count its round trips. */
  countMessageRoundTrips(): void {
    const n = this.roundTrips.endTransaction();
    if (n === undefined) return;
    this.runtime.stats.smtpTransactions++;
    this.runtime.stats.smtpRoundTrips += n;
    this.runtime.stats.smtpRoundTripsLast = n;
    this.logEntry.notes.push(`message content complete after ${n} round trip(s) since MAIL FROM`);
  }

  override _sendGreeting(): void {
    this.#record = this.runtime.log.command(this.logEntry, '(connect)');
    this.send(220, greetingText(this.runtime.identity, new Date()), false);
  }

  /** Translates stock texts to Exchange's, records the reply in the log, sends without automatic enhanced codes. */
  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    const text = typeof data === 'string' ? translateStockReply(code, data, typeof context === 'string' ? context : undefined) : data;
    if (this.#record) {
      const line = Array.isArray(text)
        ? text.map((l, i, all) => `${code}${i < all.length - 1 ? '-' : ' '}${l}`).join('\n')
        : `${code}${text ? ` ${text}` : ''}`;
      this.#record.reply = this.#record.reply ? `${this.#record.reply}\n${line}` : line;
    }
    super.send(code, text, false);
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    const next = callback ?? noop;
    const line = (command || Buffer.alloc(0)).toString();
    const continuation = Boolean(this._nextHandler);
    this.#record = this.runtime.log.command(this.logEntry, continuation ? '<redacted>' : redactCommand(line));
    if (this.#stalled) return next(); // the "greeting never comes" fault: stay silent
    if (!continuation && this._ready && !this._upgrading && !this._server._closeTimeout) {
      const verb = line.split(' ')[0]!.toUpperCase();
      if (verb === 'MAIL') this.roundTrips.startTransaction();
      // A BDAT fault is answered after its chunk is read (handler_BDAT): the bytes are not commands.
      const fault = verb === 'BDAT' ? undefined : this.runtime.faults.takeTransient(verb);
      if (fault) {
        this.logEntry.notes.push(`fault smtpTransient: ${fault.code} to ${verb}`);
        this.send(fault.code, fault.message ?? defaultTransientText(fault.code, `${this.runtime.identity.frontEnd}.${this.runtime.identity.region}.prod.outlook.com`));
        return this._whenWritable(next);
      }
    }
    super._onCommand(command, callback);
  }

  /**
   * Exchange's EHLO: STARTTLS before TLS, `AUTH LOGIN XOAUTH2` after; PIPELINING and CHUNKING
   * unless the state turns them off. BINARYMIME is left out: `BODY=BINARYMIME` is not implemented.
   */
  override handler_EHLO(command: Buffer, callback: () => void): void {
    const parts = command.toString().trim().split(/\s+/);
    if (parts.length !== 2 || !HELO_NAME.test(parts[1]!)) {
      this.send(501, '5.5.4 Invalid domain name', false);
      return callback();
    }
    this.hostNameAppearsAs = parts[1]!.toLowerCase();
    this.logEntry.tls = this.secure;
    const extensions = smtpExtensions(this.runtime.getState());
    const features = ['SIZE 157286400', ...(extensions.pipelining ? ['PIPELINING'] : []), 'DSN', 'ENHANCEDSTATUSCODES'];
    if (!this.secure) features.push('STARTTLS');
    else if (!this.session.user) features.push('AUTH LOGIN XOAUTH2');
    features.push('8BITMIME', ...(extensions.chunking ? ['CHUNKING'] : []), ...(extensions.smtputf8 ? ['SMTPUTF8'] : []));
    this._resetSession();
    this.send(250, [`${greetingHost(this.runtime.identity)} Hello [${this.remoteAddress}]`, ...features], false);
    callback();
  }

  /**
   * RFC 3030 `BDAT <size> [LAST]`: the chunk's bytes are always read (whatever the reply), then
   * answered; `LAST` ends the message like the end of DATA (same rules, same replies). Without a
   * MAIL FROM or a recipient the chunk is read and refused (`503 5.5.2`, the transaction stays
   * as it was, as after DATA); the chunks of a refused or finished message are dropped.
   */
  handler_BDAT(command: Buffer, callback: () => void): void {
    if (!smtpExtensions(this.runtime.getState()).chunking) {
      this.send(500, 'Error: command not recognized');
      return callback();
    }
    const parsed = parseBdat(command.toString());
    const reader = this._parser ? chunkReaders.get(this._parser) : undefined;
    if (!parsed || !reader) {
      this.send(REPLIES.invalidArguments.code, REPLIES.invalidArguments.message);
      return callback();
    }
    if (this.runtime.faults.takeDropInData()) {
      this.logEntry.notes.push('fault smtpDropInData: connection dropped in the middle of BDAT');
      this._socket.destroy();
      return;
    }
    const room = Math.max(0, this.runtime.limits.maxMessageSize - (this.#chunks?.size ?? 0));
    if (parsed.size === 0) {
      void this.#chunkRead(parsed.last, Buffer.alloc(0), 0).then(callback, callback);
      return;
    }
    reader.read(parsed.size, room, (bytes, size, resume) => {
      void this.#chunkRead(parsed.last, bytes, size).then(resume, resume);
    });
    callback();
  }

  async #chunkRead(last: boolean, bytes: Buffer, size: number): Promise<void> {
    const chunks = (this.#chunks ??= { parts: [], size: 0 });
    chunks.parts.push(bytes);
    chunks.size += size;
    const envelope = this.session.envelope;
    const fault = this.runtime.faults.takeTransient('BDAT');
    let reply: Reply;
    if (!this.session.user) reply = REPLIES.notAuthenticated;
    else if (!envelope.mailFrom) reply = REPLIES.needMail;
    else if (!envelope.rcptTo.length) reply = REPLIES.needRcpt;
    else if (fault) {
      this.logEntry.notes.push(`fault smtpTransient: ${fault.code} to BDAT`);
      reply = { code: fault.code, message: fault.message ?? defaultTransientText(fault.code, mailboxServerFqdn(this.runtime.identity)) };
    } else if (!last) {
      this.send(chunkReceived(size).code, chunkReceived(size).message);
      return;
    } else {
      this.#chunks = undefined;
      try {
        reply = await (this._server as unknown as ExchangeSmtpServer).finishMessage(this.session, this, chunks.size, Buffer.concat(chunks.parts));
      } catch (err) {
        reply = { code: 451, message: `4.7.0 Temporary server error. Please try again later. PRX4 (${err instanceof Error ? err.message : String(err)})` };
      }
      this.send(reply.code, reply.message);
      this._transactionCounter++;
      this._unrecognizedCommands = 0;
      this._resetSession();
      return;
    }
    this.#chunks = undefined;
    this.send(reply.code, reply.message);
  }

  override _resetSession(): void {
    this.#chunks = undefined;
    super._resetSession();
  }

  override handler_AUTH(command: Buffer, callback: () => void): void {
    const args = command.toString().trim().split(/\s+/);
    const method = (args[1] ?? '').toUpperCase();
    if (!this.secure) {
      this.#recordAuth({ method, tlsActive: false, result: 'failure', reply: `${REPLIES.authBeforeTls.code} ${REPLIES.authBeforeTls.message}`, reason: 'AUTH before STARTTLS: Exchange offers no AUTH mechanism on a cleartext connection' });
      this.send(REPLIES.authBeforeTls.code, REPLIES.authBeforeTls.message);
      return callback();
    }
    if (this.session.user) {
      this.send(REPLIES.alreadyAuthenticated.code, REPLIES.alreadyAuthenticated.message);
      return callback();
    }
    if (method !== 'XOAUTH2') return super.handler_AUTH(command, callback);
    if (args.length > 3) {
      this.#recordAuth({ method: 'XOAUTH2', tlsActive: true, result: 'failure', reply: `${REPLIES.invalidXoauth2.code} ${REPLIES.invalidXoauth2.message}`, reason: 'AUTH XOAUTH2 with more than one argument' });
      this.send(REPLIES.invalidXoauth2.code, REPLIES.invalidXoauth2.message);
      return callback();
    }
    if (args.length === 3) return this.#authenticateXoauth2(args[2]!, callback);
    // Two-step form: `AUTH XOAUTH2`, `334 `, then the base64 line.
    this._nextHandler = (line: Buffer, next: () => void) => {
      const text = line.toString().trim();
      if (text === '*') {
        this.send(501, 'Authentication aborted');
        return next();
      }
      this.#authenticateXoauth2(text, next);
    };
    this.send(334, '');
    callback();
  }

  #authenticateXoauth2(blob: string, callback: () => void): void {
    const credentials = parseXoauth2Response(blob);
    if (!credentials) {
      this.#recordAuth({ method: 'XOAUTH2', tlsActive: this.secure, result: 'failure', reply: `${REPLIES.invalidXoauth2.code} ${REPLIES.invalidXoauth2.message}`, reason: 'the XOAUTH2 data is not base64 of user=...^Aauth=Bearer ...^A^A' });
      this.runtime.stats.authFailures++;
      this.send(REPLIES.invalidXoauth2.code, REPLIES.invalidXoauth2.message);
      return callback();
    }
    const verified = verifyAccessToken(credentials.token, this.runtime.signingKey, Math.floor(Date.now() / 1000));
    const verdict = decideXoauth2(this.runtime.getState(), verified, credentials.user);
    const token = verified.ok
      ? { aud: verified.claims.aud, tid: verified.claims.tid, oid: verified.claims.oid, appid: verified.claims.appid, roles: verified.claims.roles }
      : undefined;
    const reply = this.completeAuthentication('XOAUTH2', credentials.user, verdict, token);
    this.send(reply.code, reply.message);
    callback();
  }

  /**
   * Applies an authentication verdict: the concurrent-connection limit, the session user, the
   * stats and the log. Returns the reply to send (also used for LOGIN/PLAIN by the server).
   */
  completeAuthentication(method: string, user: string, verdict: AuthVerdict, token?: SmtpAuthRecord['token']): Reply {
    const runtime = this.runtime;
    let reply: Reply;
    let reason: string | undefined;
    if (verdict.ok) {
      const max = runtime.limits.maxConnectionsPerMailbox;
      if (runtime.connections.tryAcquire(verdict.mailbox.address, this.id, max)) {
        const authenticated: AuthenticatedUser = { mailbox: verdict.mailbox.address, tenantId: verdict.tenant.id, oid: verdict.oid, appid: verdict.appid, method };
        this.session.user = authenticated;
        this.session.transmissionType = this._transmissionType();
        this.logEntry.authenticatedAs = authenticated.mailbox;
        reply = REPLIES.authSuccess;
      } else {
        reply = REPLIES.concurrentConnections;
        reason = `${max} connections are already authenticated as ${verdict.mailbox.address}`;
      }
    } else {
      reply = verdict.reply === 'generic' ? authUnsuccessful(runtime.identity, new Date()) : verdict.reply;
      reason = verdict.reason;
    }
    const success = reply.code === 235;
    if (success) runtime.stats.authSuccesses++;
    else runtime.stats.authFailures++;
    this.#recordAuth({ method, user, tlsActive: this.secure, result: success ? 'success' : 'failure', reply: `${reply.code} ${reply.message}`, reason, token });
    runtime.say(`smtp ${this.id}: AUTH ${method} as ${user}: ${reply.code} ${reply.message.split(' ')[0]}${reason ? ` (${reason})` : ''}`);
    return reply;
  }

  #recordAuth(record: SmtpAuthRecord): void {
    this.logEntry.auth.push(record);
  }
}
