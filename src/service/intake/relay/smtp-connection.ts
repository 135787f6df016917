/**
 * One SMTP submission connection of the relay: the dialogue of issue 14 §3, reply for reply.
 *
 * Why our own small state machine and not smtp-server's connection: the issue pins exact replies
 * (`538 5.7.11`, `552 5.3.4`, `452 4.5.3`, `452 4.3.1`, `454 4.7.0` then close, `421 4.7.0`)
 * that smtp-server's built-in texts and its fixed enhanced-code table cannot produce, and its
 * EHLO advertises AUTH before TLS. The submission subset a relay needs is small: EHLO/HELO,
 * STARTTLS, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT, with PIPELINING (commands are
 * handled strictly in order, one at a time; input is buffered, bounded, while one is pending).
 *
 * Robustness (nothing a client sends crashes the service or stores half a message): command
 * lines are bounded (MAX_COMMAND_LINE; longer ones are discarded up to their end with `500`),
 * must be valid UTF-8, and end in CRLF or a bare LF; message data ends only at CRLF.CRLF (SMTP
 * smuggling), is bounded while it arrives (beyond the limit it is read and discarded, then
 * `552`), and a disconnect before the end stores nothing. Input sent after STARTTLS before the
 * handshake is discarded (RFC 3207 §6). Timeouts: `idleTimeoutMs` between commands,
 * `dataTimeoutMs` while message data arrives; each ends the connection with `421 4.4.2`.
 *
 * Imports: node:net, node:tls, ./relay-message (line ends), ./auth-lockout (types).
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { domainToASCII } from 'node:url';
import { normaliseLineEnds } from './relay-message.js';

export const MAX_COMMAND_LINE = 4096;
/** Pipelined input held while a command is pending before the socket is paused. */
const MAX_PENDING_INPUT = 256 * 1024;
const MAX_ERRORS = 20;
const CRLF = Buffer.from('\r\n');
const END_OF_DATA = Buffer.from('\r\n.\r\n');

/** Who is sending: an authenticated client, or a no-auth client matched by address. */
export interface RelayPrincipal {
  id: string;
  name: string;
}

export interface RelayTransaction<P extends RelayPrincipal> {
  principal: P;
  from: string;
  to: string[];
  /** The message as received: line ends normalised to CRLF, dot-unstuffed. */
  data: Buffer;
  helo: string;
  remoteAddress: string;
  secure: boolean;
  authenticated: boolean;
}

/** What the connection asks of the relay (relay-server.ts implements it). */
export interface RelayPolicy<P extends RelayPrincipal> {
  hostname: string;
  maxMessageBytes: number;
  maxRecipients: number;
  idleTimeoutMs: number;
  dataTimeoutMs: number;
  tlsContext(): SecureContext;
  authLocked(remoteAddress: string): boolean;
  authFailed(remoteAddress: string): void;
  authenticate(username: string, password: string, remoteAddress: string): Promise<P | undefined>;
  clientForAddress(remoteAddress: string): Promise<P | undefined>;
  isActive(principal: P): Promise<boolean>;
  /**
   * Whether `principal` may use `address` as envelope sender: the envelope sender to use (the
   * address itself, or the rewrite address for a `--from-policy rewrite` client), or the reply.
   */
  checkSender(principal: P, address: string): Promise<{ ok: true; envelopeFrom: string } | { ok: false; reply: string }>;
  /** Store the message; the reply line (250 only after the durable commit). */
  accept(tx: RelayTransaction<P>): Promise<string>;
  onEvent?(event: RelayConnectionEvent): void;
}

export type RelayConnectionEvent =
  | { type: 'auth-failure'; remoteAddress: string; locked: boolean }
  | { type: 'auth-success'; remoteAddress: string; client: string };

type State = 'command' | 'data' | 'auth-plain' | 'auth-login-user' | 'auth-login-pass' | 'closed';

const ADDRESS = /^[^\s<>@"(),;:\\[\]]{1,64}@[^\s<>@"(),;:\\[\]]{1,253}$/u;
/** A host name as the delivery sends it (letters, digits, dots, hyphens: A-labels for IDNs). */
const ASCII_DOMAIN = /^[A-Za-z0-9.-]{1,253}$/;

/**
 * An envelope address as the relay stores and delivers it, or undefined when it cannot be
 * delivered. A UTF-8 local part stays as given (SMTPUTF8: the delivery then says SMTPUTF8 to
 * Exchange); an internationalised domain becomes its A-label (punycode) form, which names the
 * same domain and is what the delivery accepts. Checked here, before the 250, so a message is
 * never accepted with an address the delivery would refuse after the fact.
 */
export function envelopeAddress(address: string): string | undefined {
  if (!ADDRESS.test(address)) return undefined;
  const at = address.lastIndexOf('@');
  const domain = address.slice(at + 1);
  const ascii = /^[\x00-\x7f]*$/.test(domain) ? domain : domainToASCII(domain);
  if (!ASCII_DOMAIN.test(ascii)) return undefined;
  return `${address.slice(0, at)}@${ascii}`;
}

export class RelayConnection<P extends RelayPrincipal> {
  #socket: Socket;
  #secure: boolean;
  readonly #remote: string;
  #state: State = 'command';
  #busy = false;
  #input: Buffer = Buffer.alloc(0);
  #discardingLine = false;
  #errors = 0;
  #helo: string | undefined;
  #principal: P | undefined;
  #authenticated = false;
  #loginUser = '';
  #tx: { from: string; to: string[] } | undefined;
  #data: Buffer[] = [];
  #dataBytes = 0;
  #dataTail: Buffer = CRLF;
  #oversize = false;
  readonly #onData = (chunk: Buffer) => this.#receive(chunk);

  constructor(
    socket: Socket,
    private readonly policy: RelayPolicy<P>,
    o: { implicitTls: boolean; remoteAddress: string; refuse?: string },
  ) {
    this.#socket = socket;
    this.#secure = false;
    this.#remote = o.remoteAddress;
    socket.on('error', () => this.#destroy());
    socket.on('close', () => this.#destroy());
    if (o.implicitTls) {
      this.#startTls(() => (o.refuse ? this.#reply(o.refuse, true) : this.#greet()));
    } else {
      this.#attach();
      if (o.refuse) this.#reply(o.refuse, true);
      else this.#greet();
    }
  }

  #greet(): void {
    this.#reply(`220 ${this.policy.hostname} Mailgate ESMTP relay ready`);
  }

  #attach(): void {
    this.#socket.on('data', this.#onData);
    this.#socket.setTimeout(this.policy.idleTimeoutMs, () => {
      this.#reply(`421 4.4.2 ${this.policy.hostname} Timeout, closing connection`, true);
    });
  }

  #reply(line: string, close = false): void {
    if (this.#state === 'closed') return;
    if (!this.#socket.destroyed && this.#socket.writable) this.#socket.write(`${line}\r\n`);
    if (close) {
      this.#state = 'closed';
      this.#socket.end();
      // A client that never reads must not hold the connection open.
      setTimeout(() => this.#socket.destroy(), 5_000).unref();
    }
  }

  #destroy(): void {
    this.#state = 'closed';
    this.#data = [];
    if (!this.#socket.destroyed) this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    if (this.#state === 'closed') return;
    this.#input = this.#input.length ? Buffer.concat([this.#input, chunk]) : chunk;
    if (this.#busy && this.#input.length > MAX_PENDING_INPUT) this.#socket.pause();
    this.#pump();
  }

  #pump(): void {
    while (!this.#busy && this.#state !== 'closed' && this.#input.length) {
      if (this.#state === 'data') {
        const chunk = this.#input;
        this.#input = Buffer.alloc(0);
        this.#dataChunk(chunk);
        continue;
      }
      const nl = this.#input.indexOf(10);
      if (nl === -1) {
        if (this.#input.length > MAX_COMMAND_LINE) {
          if (!this.#discardingLine) this.#error('500 5.5.2 Line too long');
          this.#discardingLine = true;
          this.#input = Buffer.alloc(0);
        }
        return;
      }
      let line = this.#input.subarray(0, nl);
      this.#input = this.#input.subarray(nl + 1);
      if (this.#discardingLine) {
        this.#discardingLine = false;
        continue;
      }
      if (line.length > MAX_COMMAND_LINE) {
        this.#error('500 5.5.2 Line too long');
        continue;
      }
      if (line[line.length - 1] === 13) line = line.subarray(0, -1);
      const text = line.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(line) || /[\0\r]/.test(text)) {
        this.#error('500 5.5.2 Invalid characters in command');
        continue;
      }
      this.#run(this.#line(text));
    }
    if (!this.#busy && this.#socket.isPaused()) this.#socket.resume();
  }

  /** Runs an async step with the input held until it ends. */
  #run(step: Promise<void> | void): void {
    if (!step) return;
    this.#busy = true;
    step
      .catch(() => this.#reply('451 4.3.0 Temporary failure, try again'))
      .finally(() => {
        this.#busy = false;
        this.#pump();
      });
  }

  #error(line: string): void {
    this.#errors++;
    if (this.#errors >= MAX_ERRORS) this.#reply('421 4.7.0 Too many errors, closing connection', true);
    else this.#reply(line);
  }

  #line(text: string): Promise<void> | void {
    if (this.#state === 'auth-plain') return this.#authPlain(text);
    if (this.#state === 'auth-login-user' || this.#state === 'auth-login-pass') return this.#authLogin(text);
    const m = /^([A-Za-z]{1,12})(?: (.*))?$/.exec(text.trim());
    const verb = m?.[1]?.toUpperCase() ?? '';
    const arg = m?.[2]?.trim() ?? '';
    switch (verb) {
      case 'EHLO':
      case 'HELO':
        return this.#hello(verb, arg);
      case 'STARTTLS':
        return this.#starttls(arg);
      case 'AUTH':
        return this.#auth(arg);
      case 'MAIL':
        return this.#mail(arg);
      case 'RCPT':
        return this.#rcpt(arg);
      case 'DATA':
        return this.#dataCommand(arg);
      case 'RSET':
        this.#tx = undefined;
        return this.#reply('250 2.0.0 Ok');
      case 'NOOP':
        return this.#reply('250 2.0.0 Ok');
      case 'QUIT':
        return this.#reply('221 2.0.0 Bye', true);
      case 'VRFY':
        return this.#reply('252 2.5.0 Cannot VRFY user, but will accept message');
      case 'HELP':
        return this.#reply('214 2.0.0 Mailgate relay: see https://github.com/ (EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA)');
      default:
        return this.#error('500 5.5.2 Command not recognized');
    }
  }

  #hello(verb: string, arg: string): void {
    if (!arg || arg.length > 255 || !/^[\x21-\x7e]+$/.test(arg)) return this.#error('501 5.5.4 Syntax: EHLO hostname');
    this.#helo = arg;
    this.#tx = undefined;
    if (verb === 'HELO') return this.#reply(`250 ${this.policy.hostname}`);
    const lines = [`${this.policy.hostname} Hello ${arg}`, `SIZE ${this.policy.maxMessageBytes}`, '8BITMIME', 'SMTPUTF8', 'PIPELINING', 'ENHANCEDSTATUSCODES'];
    if (!this.#secure) lines.push('STARTTLS');
    // AUTH only under TLS: a password is never invited in clear.
    if (this.#secure && !this.#authenticated) lines.push('AUTH PLAIN LOGIN');
    this.#reply(lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}`).join('\r\n'));
  }

  #starttls(arg: string): void {
    if (this.#secure) return this.#error('503 5.5.1 TLS already active');
    if (arg) return this.#error('501 5.5.4 Syntax: STARTTLS');
    this.#reply('220 2.0.0 Ready to start TLS');
    this.#input = Buffer.alloc(0); // anything pipelined after STARTTLS is discarded (RFC 3207 §6)
    this.#socket.removeListener('data', this.#onData);
    this.#busy = true;
    this.#startTls(() => {
      this.#busy = false;
      this.#input = Buffer.alloc(0);
    });
  }

  #startTls(ready: () => void): void {
    const raw = this.#socket;
    raw.setTimeout(0);
    let tls: TLSSocket;
    try {
      tls = new TLSSocket(raw, { isServer: true, secureContext: this.policy.tlsContext() });
    } catch {
      return this.#destroy();
    }
    this.#socket = tls;
    tls.on('error', () => this.#destroy());
    tls.on('close', () => this.#destroy());
    tls.setTimeout(this.policy.idleTimeoutMs, () => this.#destroy());
    tls.once('secure', () => {
      this.#secure = true;
      // A new session: nothing said before TLS counts (RFC 3207 §4.2).
      this.#helo = undefined;
      this.#tx = undefined;
      this.#principal = undefined;
      this.#authenticated = false;
      tls.removeAllListeners('timeout');
      this.#attach();
      ready();
    });
  }

  #auth(arg: string): Promise<void> | void {
    if (!this.#helo) return this.#error('503 5.5.1 Send EHLO first');
    if (!this.#secure) return this.#error('538 5.7.11 Encryption required for requested authentication mechanism');
    if (this.#authenticated) return this.#error('503 5.5.1 Already authenticated');
    if (this.#tx) return this.#error('503 5.5.1 AUTH not allowed during a mail transaction');
    if (this.policy.authLocked(this.#remote)) return this.#reply('454 4.7.0 Temporary authentication failure', true);
    const [mechanism = '', initial, extra] = arg.split(' ');
    if (extra !== undefined) return this.#error('501 5.5.4 Syntax: AUTH mechanism [initial-response]');
    const mech = mechanism.toUpperCase();
    if (mech === 'PLAIN') {
      if (initial === undefined) {
        this.#state = 'auth-plain';
        return this.#reply('334 ');
      }
      return this.#authPlain(initial);
    }
    if (mech === 'LOGIN') {
      if (initial === undefined) {
        this.#state = 'auth-login-user';
        return this.#reply('334 VXNlcm5hbWU6');
      }
      this.#state = 'auth-login-user';
      return this.#authLogin(initial);
    }
    return this.#error('504 5.5.4 Unrecognized authentication type');
  }

  #decode64(text: string): string | undefined {
    const t = text.trim();
    if (t === '=' ) return '';
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) return undefined;
    return Buffer.from(t, 'base64').toString('utf8');
  }

  #cancelled(text: string): boolean {
    if (text.trim() !== '*') return false;
    this.#state = 'command';
    this.#error('501 5.7.0 Authentication cancelled');
    return true;
  }

  #authPlain(text: string): Promise<void> | void {
    this.#state = 'command';
    if (this.#cancelled(text)) return;
    const decoded = this.#decode64(text);
    const parts = decoded?.split('\0');
    if (!parts || parts.length !== 3) return this.#error('501 5.5.2 Cannot decode AUTH PLAIN response');
    const [authzid, user, password] = parts as [string, string, string];
    if (authzid && authzid !== user) return this.#finishAuth(undefined);
    return this.#verify(user, password);
  }

  #authLogin(text: string): Promise<void> | void {
    if (this.#cancelled(text)) return;
    const decoded = this.#decode64(text);
    if (decoded === undefined) {
      this.#state = 'command';
      return this.#error('501 5.5.2 Cannot decode AUTH LOGIN response');
    }
    if (this.#state === 'auth-login-user') {
      this.#loginUser = decoded;
      this.#state = 'auth-login-pass';
      return this.#reply('334 UGFzc3dvcmQ6');
    }
    this.#state = 'command';
    const user = this.#loginUser;
    this.#loginUser = '';
    return this.#verify(user, decoded);
  }

  async #verify(user: string, password: string): Promise<void> {
    const principal = await this.policy.authenticate(user, password, this.#remote);
    this.#finishAuth(principal);
  }

  #finishAuth(principal: P | undefined): void {
    if (!principal) {
      this.policy.authFailed(this.#remote);
      const locked = this.policy.authLocked(this.#remote);
      this.policy.onEvent?.({ type: 'auth-failure', remoteAddress: this.#remote, locked });
      return this.#error('535 5.7.8 Authentication credentials invalid');
    }
    this.#principal = principal;
    this.#authenticated = true;
    this.policy.onEvent?.({ type: 'auth-success', remoteAddress: this.#remote, client: principal.name });
    this.#reply('235 2.7.0 Authentication successful');
  }

  /** The current sender, re-checked so a revoked client is refused on its next command. */
  async #sender(): Promise<P | undefined> {
    if (this.#authenticated && this.#principal) {
      if (await this.policy.isActive(this.#principal)) return this.#principal;
      this.#principal = undefined;
      this.#authenticated = false;
      return undefined;
    }
    return (this.#principal = await this.policy.clientForAddress(this.#remote));
  }

  async #mail(arg: string): Promise<void> {
    if (!this.#helo) return this.#error('503 5.5.1 Send EHLO first');
    if (this.#tx) return this.#error('503 5.5.1 Nested MAIL command');
    const principal = await this.#sender();
    if (!principal) return this.#error('530 5.7.0 Authentication required');
    const m = /^FROM:\s*<([^<>]*)>((?: +[A-Za-z0-9-]+(?:=[^\s=]+)?)*) *$/i.exec(arg);
    if (!m) return this.#error('501 5.5.4 Syntax: MAIL FROM:<address>');
    const address = m[1]!;
    for (const param of m[2]!.trim().split(/ +/).filter(Boolean)) {
      const [key = '', value] = param.split('=');
      const k = key.toUpperCase();
      if (k === 'SIZE') {
        if (!/^\d{1,20}$/.test(value ?? '')) return this.#error('501 5.5.4 Syntax: SIZE=number');
        if (Number(value) > this.policy.maxMessageBytes) return this.#reply('552 5.3.4 Message size exceeds fixed maximum message size');
      } else if (k === 'BODY') {
        if (!/^(7BIT|8BITMIME)$/i.test(value ?? '')) return this.#error('501 5.5.4 Syntax: BODY=7BIT or BODY=8BITMIME');
      } else if (k === 'SMTPUTF8' && value === undefined) {
        // advertised; nothing to do (the message is relayed as received)
      } else if (k === 'AUTH') {
        // RFC 4954 AUTH=<>: accepted and ignored
      } else {
        return this.#error(`555 5.5.4 Unsupported MAIL parameter ${k.slice(0, 20)}`);
      }
    }
    const sender = address === '' ? '' : envelopeAddress(address);
    if (sender === undefined) return this.#error('501 5.1.7 Bad sender address syntax');
    const checked = await this.policy.checkSender(principal, sender);
    if (!checked.ok) return this.#reply(checked.reply);
    this.#tx = { from: checked.envelopeFrom, to: [] };
    this.#reply('250 2.1.0 Sender OK');
  }

  async #rcpt(arg: string): Promise<void> {
    if (!this.#tx) return this.#error('503 5.5.1 Need MAIL command');
    if (!(await this.#sender())) {
      this.#tx = undefined;
      return this.#error('530 5.7.0 Authentication required');
    }
    const m = /^TO:\s*<([^<>]+)>((?: +[A-Za-z0-9-]+(?:=[^\s=]+)?)*) *$/i.exec(arg);
    if (!m) return this.#error('501 5.5.4 Syntax: RCPT TO:<address>');
    for (const param of m[2]!.trim().split(/ +/).filter(Boolean)) {
      const k = param.split('=')[0]!.toUpperCase();
      if (k !== 'NOTIFY' && k !== 'ORCPT') return this.#error(`555 5.5.4 Unsupported RCPT parameter ${k.slice(0, 20)}`);
    }
    const address = envelopeAddress(m[1]!.trim());
    if (address === undefined) return this.#error('501 5.1.3 Bad recipient address syntax');
    if (this.#tx.to.length >= this.policy.maxRecipients) return this.#reply('452 4.5.3 Too many recipients');
    this.#tx.to.push(address);
    this.#reply('250 2.1.5 Recipient OK');
  }

  #dataCommand(arg: string): void {
    if (arg) return this.#error('501 5.5.4 Syntax: DATA');
    if (!this.#tx) return this.#error('503 5.5.1 Need MAIL command');
    if (!this.#tx.to.length) return this.#error('503 5.5.1 Need RCPT command');
    this.#state = 'data';
    this.#data = [];
    this.#dataBytes = 0;
    this.#dataTail = CRLF; // the virtual line end before the first line: ".\r\n" at once is an empty message
    this.#oversize = false;
    this.#socket.setTimeout(this.policy.dataTimeoutMs);
    this.#reply('354 End data with <CR><LF>.<CR><LF>');
  }

  #dataChunk(chunk: Buffer): void {
    const window = Buffer.concat([this.#dataTail, chunk]);
    const at = window.indexOf(END_OF_DATA);
    const tailLength = this.#dataTail.length;
    if (at === -1) {
      this.#keep(chunk);
      this.#dataTail = window.subarray(Math.max(0, window.length - 4));
      return;
    }
    // The message ends with the CRLF before the dot (which belongs to its last line).
    const inChunk = at + 2 - tailLength; // bytes of this chunk that belong to the message
    if (inChunk >= 0) this.#keep(chunk.subarray(0, inChunk));
    else this.#trim(-inChunk);
    this.#input = chunk.subarray(at + END_OF_DATA.length - tailLength);
    this.#state = 'command';
    this.#socket.setTimeout(this.policy.idleTimeoutMs);
    const tx = this.#tx!;
    this.#tx = undefined;
    const oversize = this.#oversize;
    const data = oversize ? Buffer.alloc(0) : Buffer.concat(this.#data);
    this.#data = [];
    this.#run(this.#finishData(tx, data, oversize));
  }

  #keep(bytes: Buffer): void {
    this.#dataBytes += bytes.length;
    if (this.#oversize) return;
    // Dot-stuffing and line-end normalisation change the size a little: the exact check is on
    // the result; this bound only stops memory growth.
    if (this.#dataBytes > this.policy.maxMessageBytes * 1.1 + 1024) {
      this.#oversize = true;
      this.#data = [];
      return;
    }
    if (bytes.length) this.#data.push(Buffer.from(bytes));
  }

  /** The end marker began inside bytes already kept: drop them again. */
  #trim(n: number): void {
    let left = n;
    while (left > 0 && this.#data.length) {
      const last = this.#data[this.#data.length - 1]!;
      if (last.length <= left) {
        this.#data.pop();
        left -= last.length;
      } else {
        this.#data[this.#data.length - 1] = last.subarray(0, last.length - left);
        left = 0;
      }
    }
  }

  async #finishData(tx: { from: string; to: string[] }, received: Buffer, oversize: boolean): Promise<void> {
    if (oversize) return this.#reply('552 5.3.4 Message size exceeds fixed maximum message size');
    // The data as sent started after a virtual CRLF; lines are unstuffed after line ends are normal.
    const data = unstuff(normaliseLineEnds(received));
    if (data.length > this.policy.maxMessageBytes) return this.#reply('552 5.3.4 Message size exceeds fixed maximum message size');
    const principal = await this.#sender();
    if (!principal) return this.#reply('530 5.7.0 Authentication required');
    const reply = await this.policy.accept({ principal, from: tx.from, to: tx.to, data, helo: this.#helo ?? '', remoteAddress: this.#remote, secure: this.#secure, authenticated: this.#authenticated });
    this.#reply(reply);
  }
}

/** Remove the dot a client adds at the start of every line that starts with one (RFC 5321 §4.5.2). */
export function unstuff(data: Buffer): Buffer {
  if (data.length === 0) return data;
  if (data[0] !== 46 && data.indexOf('\r\n.') === -1) return data;
  return Buffer.from(data.toString('latin1').replace(/(^|\r\n)\./g, '$1'), 'latin1');
}
