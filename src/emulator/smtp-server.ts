/**
 * The emulated Exchange Online SMTP submission endpoint (smtp.office365.com:587 style): an
 * smtp-server subclass that creates `ExchangeSmtpConnection`s and implements the envelope and
 * message rules: `530 5.7.57` before AUTH, the message rate and size limits at MAIL FROM, the
 * recipient limit at RCPT TO, and at the end of DATA (or BDAT LAST, smtp-connection.ts) the size limit, the SendAs rule, the
 * "drop in DATA" / `EOM` faults, storage, and Exchange's `250 2.0.0 OK <id> [Hostname=...]`.
 *
 * Why it exists: it is the one place where smtp-server is configured (STARTTLS with the
 * emulator's certificate, TLS 1.2+, long AUTH lines, no reverse DNS, no stock greeting delay).
 *
 * Imports: smtp-server, ./smtp-connection.ts, ./smtp-runtime.ts, ./send-rules.ts,
 * ./password-auth.ts, ./smtp-replies.ts, ./message-headers.ts, ./ids.ts.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerAddress, type SMTPServerAuthentication, type SMTPServerAuthenticationResponse, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import { newShortId } from './ids.js';
import { headerValue, parseAddresses, parseHeaderFields } from './message-headers.js';
import { decidePasswordAuth } from './password-auth.js';
import { decideSendAs } from './send-rules.js';
import { ExchangeSmtpConnection } from './smtp-connection.js';
import { defaultTransientText } from './faults.js';
import { greetingHost, mailboxServerFqdn, messageAccepted, REPLIES, type Reply } from './smtp-replies.js';
import type { AuthenticatedUser, SmtpRuntime } from './smtp-runtime.js';

/** An Error carrying the SMTP reply smtp-server should send. */
function smtpError(reply: Reply): Error & { responseCode: number } {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

export class ExchangeSmtpServer extends SMTPServer {
  readonly runtime: SmtpRuntime;
  readonly #sessions = new Map<string, ExchangeSmtpConnection>();

  constructor(runtime: SmtpRuntime, tlsMaterial: { key: string; cert: string }) {
    super({
      name: greetingHost(runtime.identity),
      key: tlsMaterial.key,
      cert: tlsMaterial.cert,
      minVersion: 'TLSv1.2',
      secure: false,
      authMethods: ['LOGIN', 'PLAIN', 'XOAUTH2'],
      authRequiredMessage: REPLIES.notAuthenticated.message,
      heloResponse: '%s Hello %s',
      hideDSN: false,
      disableReverseLookup: true,
      // Real tokens are 2-4 KB; base64 of the XOAUTH2 string adds a third. Allow 64 KB lines.
      maxCommandLength: 64 * 1024,
      disabledCommands: ['WIZ', 'SHELL', 'KILL', 'XCLIENT', 'XFORWARD'],
      logger: false,
      closeTimeout: 1000,
    });
    this.runtime = runtime;
  }

  /** Same as smtp-server's `connect()`, with Exchange's connection class. */
  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new ExchangeSmtpConnection(this, socket, socketOptions, this.runtime);
    this.connections.add(connection);
    this.#sessions.set(connection.id, connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data) => this._onClientConnect(data));
    connection.init();
  }

  /** AUTH LOGIN / PLAIN (XOAUTH2 is handled by the connection itself). */
  override onAuth(auth: SMTPServerAuthentication, session: SMTPServerSession, callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void): void {
    const connection = this.#sessions.get(session.id);
    if (!connection) return callback(smtpError(REPLIES.basicAuthDisabled));
    const username = auth.username ?? '';
    const verdict = decidePasswordAuth(this.runtime.getState(), username, auth.password ?? '');
    const reply = connection.completeAuthentication(auth.method, username, verdict);
    if (reply.code === 235) return callback(null, { user: session.user });
    callback(smtpError(reply));
  }

  override onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const user = session.user as AuthenticatedUser;
    const { limits, rate } = this.runtime;
    const declared = address.args && typeof address.args['SIZE'] === 'string' ? Number(address.args['SIZE']) : 0;
    if (declared > limits.maxMessageSize) return callback(smtpError(REPLIES.messageTooBig));
    if (rate.isExceeded(user.mailbox, limits.messagesPerMinute, Date.now())) {
      this.#sessions.get(session.id)?.logEntry.notes.push(`rate limit: ${limits.messagesPerMinute} messages/minute reached for ${user.mailbox}`);
      return callback(smtpError(REPLIES.rateLimited));
    }
    callback();
  }

  override onRcptTo(_address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    if (session.envelope.rcptTo.length >= this.runtime.limits.maxRecipients) return callback(smtpError(REPLIES.tooManyRecipients));
    callback();
  }

  override onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void {
    const connection = this.#sessions.get(session.id);
    const { faults, limits } = this.runtime;
    if (connection && faults.takeDropInData()) {
      connection.logEntry.notes.push('fault smtpDropInData: connection dropped in the middle of DATA');
      stream.on('error', () => undefined);
      stream.once('data', () => connection.socket.destroy());
      stream.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limits.maxMessageSize) chunks.push(chunk);
    });
    stream.on('error', () => undefined);
    stream.on('end', () => {
      this.finishMessage(session, connection, size, Buffer.concat(chunks)).then(
        (reply) => callback(reply.code === 250 ? null : smtpError(reply), reply.code === 250 ? reply.message : undefined),
        (err: unknown) => callback(smtpError({ code: 451, message: `4.7.0 Temporary server error. Please try again later. PRX4 (${err instanceof Error ? err.message : String(err)})` })),
      );
    });
  }

  /** The end of a message's content (DATA's final dot or BDAT LAST): the rules, storage and the reply. */
  async finishMessage(session: SMTPServerSession, connection: ExchangeSmtpConnection | undefined, size: number, raw: Buffer): Promise<Reply> {
    const { runtime } = this;
    connection?.countMessageRoundTrips();
    const user = session.user as AuthenticatedUser;
    const note = (text: string) => connection?.logEntry.notes.push(text);
    const rejected = (reply: Reply, reason: string): Reply => {
      runtime.stats.messagesRejected++;
      note(`message refused (${reply.code}): ${reason}`);
      runtime.say(`smtp ${session.id}: message refused ${reply.code} ${reply.message.split(' ')[0]} (${reason})`);
      return reply;
    };
    const fault = runtime.faults.takeTransient('EOM');
    if (fault) return rejected({ code: fault.code, message: fault.message ?? defaultTransientText(fault.code, mailboxServerFqdn(runtime.identity)) }, 'fault smtpTransient at end of message');
    if (size > runtime.limits.maxMessageSize) return rejected(REPLIES.messageTooBig, `${size} bytes exceed the limit of ${runtime.limits.maxMessageSize}`);

    const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const fields = parseHeaderFields(raw);
    const sendAs = decideSendAs(runtime.getState(), {
      authenticatedMailbox: user.mailbox, oid: user.oid, envelopeFrom, headerFrom: parseAddresses(headerValue(fields, 'from')),
    });
    if (!sendAs.ok) return rejected(sendAs.reply, sendAs.reason);

    const messageId = headerValue(fields, 'message-id')?.match(/<[^<>\s]+>/)?.[0] ?? `<${newShortId()}${newShortId()}@${mailboxServerFqdn(runtime.identity)}>`;
    const id = newShortId();
    await runtime.store.add({ id, from: envelopeFrom, to: session.envelope.rcptTo.map((r) => r.address), raw, messageId, authenticatedAs: user.mailbox, transport: 'smtp' });
    runtime.rate.record(user.mailbox, Date.now());
    runtime.stats.messagesAccepted++;
    connection?.logEntry.messages.push(id);
    runtime.say(`smtp ${session.id}: message ${id} accepted from ${envelopeFrom} to ${session.envelope.rcptTo.length} recipient(s), ${raw.length} bytes`);
    return messageAccepted(runtime.identity, messageId);
  }

  override onClose(session: SMTPServerSession): void {
    const connection = this.#sessions.get(session.id);
    this.#sessions.delete(session.id);
    const user = session.user as AuthenticatedUser | undefined;
    if (user) this.runtime.connections.release(user.mailbox, session.id);
    if (connection) {
      connection.logEntry.endedAt = new Date().toISOString();
      connection.logEntry.tls = connection.logEntry.tls || session.secure;
    }
  }

  /** Open sessions (for a clean stop). */
  get openSessions(): number {
    return this.#sessions.size;
  }
}
