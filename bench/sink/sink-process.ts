/**
 * The benchmark sink (a forked process): a fast SMTP server with STARTTLS and AUTH
 * (XOAUTH2, PLAIN, LOGIN; any credentials accepted, but only after TLS), plus an HTTPS token
 * endpoint that counts token requests.
 *
 * Made fast and fair as in docs/perf-calibration.md:
 * - smtp-server's built-in 100 ms early-talker greeting delay is removed (prototype override in
 *   this process only; node_modules is untouched);
 * - TCP_NODELAY on every accepted socket, no reverse DNS;
 * - the final 250 of each message is timestamped (CLOCK_MONOTONIC, shared by all processes)
 *   under the run and sequence number carried in its Subject.
 *
 * A third listener answers like Microsoft Graph's sendMail (HTTPS, keep-alive): `POST
 * /v1.0/users/{mailbox}/sendMail` with a base64 MIME body and a Bearer token → 202 with
 * `request-id`, `client-request-id` and `date`, the message timestamped like a 250 (its Subject
 * read from the decoded head); it counts requests in flight (peak per run) and connections.
 * Like Exchange Online (docs/m365.md §3) it advertises PIPELINING (smtp-server's own) and CHUNKING
 * (RFC 3030, added here: smtp-server has no BDAT), so a client's pipelined MAIL/RCPT/BDAT path is
 * what gets measured; a `BDAT <n> [LAST]` chunk is read as exactly n raw bytes (no dot-stuffing).
 *
 * It also counts simultaneous TCP connections (peak per run) and can act like Exchange Online
 * for the rate-limit scenario: a sliding-window message limit and a per-mailbox connection
 * limit, both answered with 4xx replies that are counted as throttles.
 */
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { serveRpc } from '../lib/children.js';
import { nowMs, sleep } from '../lib/clock.js';
import { fakeAccessToken, parseSubject } from '../lib/message.js';

// --- remove the 100 ms greeting delay -------------------------------------------------------
type PatchedConnection = {
  _server: { options: { maxClients?: number }; connections: Set<unknown> };
  name: string;
  _setListeners(cb: () => void): void;
  send(code: number, text: string, close?: boolean): void;
  connectionReady(): void;
};
(SMTPConnection.prototype as unknown as { init(this: PatchedConnection): void }).init = function init(this: PatchedConnection) {
  this._setListeners(() => {
    if (this._server.options.maxClients && this._server.connections.size > this._server.options.maxClients) {
      this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
      return;
    }
    this.connectionReady();
  });
};

// --- CHUNKING (RFC 3030): BDAT, which smtp-server does not implement --------------------------
// The parser (SMTPStream) enters its data mode for a BDAT chunk like it does for DATA, but a
// BDAT chunk is a byte count, not a dot-terminated stream: `_feedDataStream` is wrapped to take
// exactly the announced number of bytes, hand them to the connection, and go back to command
// mode with whatever followed them in the same read (pipelined commands).
interface BdatState {
  remaining: number;
  onChunk(bytes: Buffer): void;
  onDone(): void;
  parts: Buffer[];
}
type BdatStream = {
  _dataMode: boolean;
  _bdat?: BdatState;
  _write(chunk: Buffer, encoding: string, done: (err?: Error) => void): void;
};
const streamProto = SMTPStream.prototype as unknown as { _feedDataStream(this: BdatStream, chunk: Buffer, done: (err?: Error) => void): void };
const feedDot = streamProto._feedDataStream;
streamProto._feedDataStream = function feed(this: BdatStream, chunk: Buffer, done: (err?: Error) => void) {
  const b = this._bdat;
  if (!b) return feedDot.call(this, chunk, done);
  const take = Math.min(b.remaining, chunk.length);
  if (take) b.parts.push(chunk.subarray(0, take));
  b.remaining -= take;
  if (b.remaining > 0) return done();
  this._bdat = undefined;
  this._dataMode = false;
  b.onChunk(Buffer.concat(b.parts));
  b.onDone();
  this._write(chunk.subarray(take), 'buffer', done);
};

type BdatConnection = PatchedConnection & {
  _parser: BdatStream | false;
  session: SMTPServerSession & { envelope: { rcptTo: unknown[] } };
  _resetSession(): void;
  _bdatHead?: string;
  _bdatFailed?: boolean;
  handler_EHLO(command: Buffer, callback: () => void): void;
};
const connProto = SMTPConnection.prototype as unknown as BdatConnection & { handler_BDAT(this: BdatConnection, command: Buffer, callback: () => void): void };
const ehlo = connProto.handler_EHLO;
connProto.handler_EHLO = function handlerEhlo(this: BdatConnection, command: Buffer, callback: () => void) {
  const send = this.send;
  this.send = (code: number, text: string | string[], close?: unknown) => {
    this.send = send;
    send.call(this, code, (Array.isArray(text) && code === 250 ? [...text, 'CHUNKING'] : text) as string, close as boolean);
  };
  try {
    ehlo.call(this, command, callback);
  } finally {
    this.send = send;
  }
};
connProto.handler_BDAT = function handlerBdat(this: BdatConnection, command: Buffer, callback: () => void) {
  const m = /^BDAT (\d{1,9})( LAST)?$/i.exec(command.toString().trim());
  if (!m || !this._parser) {
    // Without a valid size the bytes that follow cannot be skipped: close, as Exchange does.
    this.send(501, '5.5.4 Syntax: BDAT <size> [LAST]', true);
    return callback();
  }
  const size = Number(m[1]);
  const last = Boolean(m[2]);
  // RFC 3030: the chunk is read whatever happens; a BDAT without a valid envelope is refused
  // after its bytes, and so is every later chunk of the same message.
  const refused = !this.session.envelope.rcptTo.length || this._bdatFailed === true;
  const finish = () => {
    if (refused) {
      this._bdatFailed = !last;
      this.send(503, '5.5.1 Error: need RCPT command');
    } else if (last) {
      const headers = (this._bdatHead ?? '').split('\r\n\r\n')[0];
      const sm = /(?:^|\r\n)Subject: ?([^\r\n]*)/i.exec(headers);
      recordAccepted(sm?.[1]);
      this.send(250, 'OK: queued by bench sink');
    } else {
      this.send(250, `2.0.0 ${size} bytes received`);
    }
    if (last) {
      this._bdatHead = undefined;
      this._bdatFailed = undefined;
      this._resetSession();
    }
  };
  const onChunk = (bytes: Buffer) => {
    if (refused) return;
    const head = this._bdatHead ?? '';
    if (head.length < 65_536 && !head.includes('\r\n\r\n')) this._bdatHead = head + bytes.toString('latin1', 0, Math.min(bytes.length, 65_536));
    else this._bdatHead = head;
  };
  if (size === 0) {
    finish();
    return callback();
  }
  this._parser._bdat = { remaining: size, parts: [], onChunk, onDone: finish };
  this._parser._dataMode = true;
  callback();
};

// --- state -----------------------------------------------------------------------------------
interface RunRecord {
  times: Map<number, number>;
  first: number;
  last: number;
}
interface ThrottleRule {
  windowMs: number;
  maxMessages: number;
  maxConnectionsPerUser: number;
}

const runs = new Map<string, RunRecord>();
const waiters: { run: string; count: number; resolve: () => void }[] = [];
let openCount = () => 0;
let peak = 0;
let connectionsOpened = 0;
let authentications = 0;
let throttles = 0;
let throttleReplies: string[] = [];
let accepted = 0;
let unmatched = 0;
let throttle: ThrottleRule | undefined;
const acceptedAt: number[] = []; // for the sliding window (only while a rule is set)
const authedPerUser = new Map<string, number>();
/** Most authenticated connections at once per XOAUTH2/AUTH user (the signed-in mailbox), since the last reset. */
const peakPerUser = new Map<string, number>();
/** Token requests per client_id (the senders scenario: one per credential). */
let tokenClients = new Map<string, number>();
let tokenRequests = 0;
let tokenDelayMs = 0;
let tokenPaths: string[] = [];
const TOKEN = fakeAccessToken();
const GRAPH_TOKEN = fakeAccessToken('graph');
let graphInFlight = 0;
let graphPeakInFlight = 0;
let graphRequests = 0;
let graphRefused = 0;
let graphConnectionsOpened = 0;
let graphOpen = 0;
let graphPeakOpen = 0;

function recordAccepted(subject: string | undefined): void {
  const t = nowMs();
  accepted++;
  if (throttle) acceptedAt.push(t);
  const id = subject ? parseSubject(subject) : undefined;
  if (!id) {
    unmatched++;
    return;
  }
  let r = runs.get(id.run);
  if (!r) {
    r = { times: new Map(), first: t, last: t };
    runs.set(id.run, r);
  }
  if (!r.times.has(id.seq)) r.times.set(id.seq, t);
  r.last = t;
  for (let i = waiters.length - 1; i >= 0; i--) {
    const w = waiters[i];
    if (w.run === id.run && r.times.size >= w.count) {
      waiters.splice(i, 1);
      w.resolve();
    }
  }
}

function throttleError(code: number, text: string): Error {
  throttles++;
  if (throttleReplies.length < 20) throttleReplies.push(`${code} ${text}`);
  return Object.assign(new Error(text), { responseCode: code });
}

function userOf(session: SMTPServerSession): string {
  return String(session.user ?? '');
}

// --- SMTP ------------------------------------------------------------------------------------
function createSmtp(cert: string, key: string): SMTPServer {
  const server = new SMTPServer({
    name: 'sink.bench.test',
    banner: 'bench sink',
    secure: false,
    key,
    cert,
    authMethods: ['XOAUTH2', 'PLAIN', 'LOGIN'],
    allowInsecureAuth: false,
    disableReverseLookup: true,
    logger: false,
    maxClients: 10_000,
    size: 50 * 1024 * 1024,
    onAuth(auth: SMTPServerAuthentication, session, callback) {
      const user = auth.username ?? '';
      if (!session.secure) return callback(new Error('TLS required before AUTH'));
      if (throttle && (authedPerUser.get(user) ?? 0) >= throttle.maxConnectionsPerUser) {
        return callback(throttleError(432, '4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded'));
      }
      const now = (authedPerUser.get(user) ?? 0) + 1;
      authedPerUser.set(user, now);
      if (now > (peakPerUser.get(user) ?? 0)) peakPerUser.set(user, now);
      authentications++;
      callback(null, { user });
    },
    onMailFrom(_address, _session, callback) {
      if (throttle) {
        const now = nowMs();
        while (acceptedAt.length && acceptedAt[0] <= now - throttle.windowMs) acceptedAt.shift();
        if (acceptedAt.length >= throttle.maxMessages) {
          return callback(throttleError(450, `4.7.0 rate limit: more than ${throttle.maxMessages} messages in ${throttle.windowMs / 1000} s`));
        }
      }
      callback();
    },
    onData(stream, _session, callback) {
      let head = '';
      let done = false;
      stream.on('data', (chunk: Buffer) => {
        if (done) return;
        head += chunk.toString('latin1');
        if (head.includes('\r\n\r\n') || head.length > 65_536) done = true;
      });
      stream.on('end', () => {
        const headers = head.split('\r\n\r\n')[0];
        const m = /(?:^|\r\n)Subject: ?([^\r\n]*)/i.exec(headers);
        recordAccepted(m?.[1]);
        callback(null, 'OK: queued by bench sink');
      });
    },
    onClose(session) {
      const user = userOf(session);
      if (user && authedPerUser.has(user)) authedPerUser.set(user, Math.max(0, (authedPerUser.get(user) ?? 1) - 1));
    },
  });
  // Open connections are smtp-server's own set (a socket upgraded by STARTTLS hands its handle
  // to the TLS socket and never emits 'close' itself); it already holds a new connection when
  // the net server's 'connection' listeners after smtp-server's run.
  const smtpConnections = (server as unknown as { connections: Set<unknown> }).connections;
  openCount = () => smtpConnections.size;
  const net = (server as unknown as { server: import('node:net').Server }).server;
  net.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    connectionsOpened++;
    // smtp-server adds the connection to its set in its own listener, which may run after this
    // one: count once now and once after the current turn (a lone connection counted 0).
    peak = Math.max(peak, smtpConnections.size);
    setImmediate(() => (peak = Math.max(peak, smtpConnections.size)));
  });
  server.on('error', () => undefined);
  return server;
}

// --- token endpoint --------------------------------------------------------------------------
function createTokenServer(cert: string, key: string): https.Server {
  return https.createServer({ cert, key, keepAlive: true } as https.ServerOptions, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (req.method === 'POST' && /\/oauth2\/v2\.0\/token$/.test((req.url ?? '').split('?')[0])) {
        tokenRequests++;
        if (tokenPaths.length < 20) tokenPaths.push((req.url ?? '').split('?')[0]);
        if (tokenDelayMs) await sleep(tokenDelayMs);
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        // Any client ID is accepted (several credentials point here); each is counted apart.
        const clientId = form.get('client_id') ?? '(none)';
        tokenClients.set(clientId, (tokenClients.get(clientId) ?? 0) + 1);
        const forGraph = /graph/i.test(form.get('scope') ?? '');
        const body = JSON.stringify({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: forGraph ? GRAPH_TOKEN : TOKEN });
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      if (tokenPaths.length < 20) tokenPaths.push(`404 ${req.method} ${req.url}`);
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'not_found', path: req.url }));
    });
  });
}

// --- Graph sendMail --------------------------------------------------------------------------
const SEND_MAIL = /^\/v1\.0\/users\/[^/]+\/sendMail$/;

/** The Subject of a base64 MIME body, from its first 64 KB only (the head). */
function subjectOfBase64(body: Buffer): string | undefined {
  const b64 = body.subarray(0, 65_536 - (65_536 % 4)).toString('latin1').replace(/[^A-Za-z0-9+/=]/g, '');
  const head = Buffer.from(b64.slice(0, b64.length - (b64.length % 4)), 'base64').toString('latin1').split('\r\n\r\n')[0];
  return /(?:^|\r\n)Subject: ?([^\r\n]*)/i.exec(head)?.[1];
}

function createGraphServer(cert: string, key: string): https.Server {
  const server = https.createServer({ cert, key, keepAlive: true } as https.ServerOptions, (req, res) => {
    // In flight from the request's arrival until its answer has left (its 'finish', a later turn
    // of the loop): requests read in the same turn from several sockets overlap, as they would at
    // Graph, where a request counts against MailboxConcurrency until it is answered.
    graphInFlight++;
    graphPeakInFlight = Math.max(graphPeakInFlight, graphInFlight);
    let done = false;
    const settle = () => {
      if (!done) {
        done = true;
        graphInFlight--;
      }
    };
    res.on('finish', settle);
    res.on('close', settle);
    const end = (status: number, headers: Record<string, string>, body = '') => {
      res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
    };
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      graphRequests++;
      const requestId = randomUUID();
      const ids = { 'request-id': requestId, 'client-request-id': String(req.headers['client-request-id'] ?? requestId), date: new Date().toUTCString() };
      if (req.method !== 'POST' || !SEND_MAIL.test((req.url ?? '').split('?')[0]) || !/^Bearer \S+$/.test(req.headers.authorization ?? '')) {
        graphRefused++;
        return end(400, { 'content-type': 'application/json', ...ids }, JSON.stringify({ error: { code: 'BadRequest', message: `bench sink: unexpected ${req.method} ${req.url}` } }));
      }
      recordAccepted(subjectOfBase64(Buffer.concat(chunks)));
      end(202, ids);
    });
  });
  server.on('secureConnection', (socket: Socket) => {
    graphConnectionsOpened++;
    graphPeakOpen = Math.max(graphPeakOpen, ++graphOpen);
    socket.once('close', () => graphOpen--);
  });
  return server;
}

let smtp: SMTPServer | undefined;
let tokenServer: https.Server | undefined;
let graphServer: https.Server | undefined;

function listen(server: { listen(port: number, host: string, cb: () => void): unknown }, address: () => unknown): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((address() as { port: number }).port)));
}

serveRpc({
  async start(args: { cert: string; key: string }) {
    smtp = createSmtp(args.cert, args.key);
    tokenServer = createTokenServer(args.cert, args.key);
    const smtpNet = (smtp as unknown as { server: import('node:net').Server }).server;
    const smtpPort = await listen(smtp, () => smtpNet.address());
    const tokenPort = await listen(tokenServer, () => tokenServer!.address());
    graphServer = createGraphServer(args.cert, args.key);
    const graphPort = await listen(graphServer, () => graphServer!.address());
    return { smtpPort, tokenPort, graphPort, token: TOKEN };
  },
  /** Start counting a new measured run: peak connections restart from the connections open now. */
  reset(args: { throttle?: ThrottleRule; tokenDelayMs?: number }) {
    peak = openCount();
    connectionsOpened = 0;
    authentications = 0;
    throttles = 0;
    throttleReplies = [];
    accepted = 0;
    unmatched = 0;
    throttle = args.throttle;
    acceptedAt.length = 0;
    peakPerUser.clear();
    for (const [user, n] of authedPerUser) if (n > 0) peakPerUser.set(user, n);
    graphPeakInFlight = graphInFlight;
    graphRequests = 0;
    graphRefused = 0;
    graphConnectionsOpened = 0;
    graphPeakOpen = graphOpen;
    if (args.tokenDelayMs !== undefined) tokenDelayMs = args.tokenDelayMs;
    return { open: openCount() };
  },
  resetTokens() {
    tokenRequests = 0;
    tokenPaths = [];
    tokenClients = new Map();
    return {};
  },
  tokens() {
    return { requests: tokenRequests, paths: tokenPaths, clients: Object.fromEntries(tokenClients) };
  },
  connections() {
    return { open: openCount(), peak };
  },
  /** Wait until `count` messages of `run` arrived (or timeout), then report the run. */
  async wait(args: { run: string; count: number; timeoutMs: number; times?: boolean }) {
    const r = runs.get(args.run);
    if (!r || r.times.size < args.count) {
      await new Promise<void>((resolve) => {
        const w = { run: args.run, count: args.count, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          resolve();
        }, args.timeoutMs);
      });
    }
    const rec = runs.get(args.run);
    const result = {
      received: rec?.times.size ?? 0,
      first: rec?.first ?? null,
      last: rec?.last ?? null,
      peakConnections: peak,
      openConnections: openCount(),
      connectionsOpened,
      authentications,
      throttles,
      throttleReplies,
      accepted,
      unmatched,
      peakConnectionsPerUser: Math.max(0, ...peakPerUser.values()),
      usersSeen: peakPerUser.size,
      graph: { peakInFlight: graphPeakInFlight, requests: graphRequests, refused: graphRefused, connectionsOpened: graphConnectionsOpened, peakOpenConnections: graphPeakOpen },
      times: args.times && rec ? [...rec.times.entries()] : undefined,
    };
    return result;
  },
  forget(args: { run: string }) {
    runs.delete(args.run);
    return {};
  },
  async stop() {
    await Promise.all([new Promise((r) => smtp?.close(() => r(undefined))), new Promise((r) => tokenServer?.close(() => r(undefined))), new Promise((r) => { graphServer?.closeAllConnections(); graphServer?.close(() => r(undefined)); })]);
    return {};
  },
});
