/**
 * `startRelay(deps)`: the SMTP relay listener of `mailgate serve` (issue 14), a second intake
 * beside the HTTP API. Devices and applications submit as they did to smtp.office365.com; each
 * message is stored durably in the same outbox (250 only after the commit) with the relay
 * client's name as its source, and the delivery worker sends it as received (raw MIME, the
 * client's envelope).
 *
 * What it owns: the listening sockets (STARTTLS port, optional implicit-TLS port), the caps on
 * connections (total and per address, `421 4.7.0 Too many connections`), the AUTH lockout, and
 * the policy the connection asks (relay clients from service/access/relay-clients.ts, the
 * sender rule, relay-message.ts's header changes, the outbox commit and its failure replies).
 *
 * Imports: node:net, ../../access/relay-clients, ../../outbox (outbox, store types),
 * ./smtp-connection, ./relay-message, ./relay-tls, ./auth-lockout, src/core/message,
 * src/net/server-errors.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { MAX_MESSAGE_BYTES, MAX_RECIPIENTS } from '../../../core/message.js';
import type { Logger } from '../../../log/logger.js';
import { refuseUntilListening } from '../../../net/server-errors.js';
import {
  authenticateRelayClient,
  isRelayClientActive,
  normaliseRemoteAddress,
  relayClientForAddress,
  relayClientMaySendAs,
  relayRewriteAddress,
  type ActiveRelayClient,
} from '../../access/relay-clients.js';
import { newMessageId } from '../../outbox/message-ids.js';
import { messageIdFor, type Outbox } from '../../outbox/outbox.js';
import { StorageFullError, type ConfigStore } from '../../outbox/store.js';
import { AuthLockout } from './auth-lockout.js';
import { prepareRelayMessage, rfc5322Date } from './relay-message.js';
import { RelayConnection, type RelayConnectionEvent, type RelayPolicy, type RelayTransaction } from './smtp-connection.js';
import type { RelayTls } from './relay-tls.js';

export interface RelayOptions {
  host: string;
  /** STARTTLS port (0: any free port). */
  port: number;
  /** Implicit TLS port, optional (0: any free port). */
  tlsPort?: number;
  hostname: string;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  authMaxFailures: number;
  authWindowMs: number;
  /** Between commands (RFC 5321 §4.5.3.2 suggests 5 minutes). Default 300 000. */
  idleTimeoutMs?: number;
  /** While message data arrives (no byte for this long). Default 180 000. */
  dataTimeoutMs?: number;
  maxMessageBytes?: number;
}

export interface RelayDeps {
  store: ConfigStore;
  outbox: Pick<Outbox, 'submitRaw'>;
  /** The addresses Mailgate may send as now (today the Authorized from Address), [] when unset. */
  sendable: () => string[];
  /** The configured sender of an address (issue 16): the message records it and goes out through its mailbox. */
  senderFor?: (address: string) => { address: string; signInAs: string } | undefined;
  tls: RelayTls;
  logger: Logger;
  now?: () => number;
  /** Observations for metrics (relay connections, auth failures, messages per client). */
  onEvent?: (event: RelayEvent) => void;
}

export type RelayEvent =
  | RelayConnectionEvent
  | { type: 'connection-open' | 'connection-close'; remoteAddress: string }
  | { type: 'connection-refused'; remoteAddress: string }
  | { type: 'message'; client: string; outcome: 'queued' | 'refused' | 'store-failed' | 'storage-full'; id?: string };

export interface RunningRelay {
  port: number;
  tlsPort?: number;
  /** Connections open now. */
  connections(): number;
  stop(): Promise<void>;
}

function listenOn(server: Server, host: string, port: number, variable: string, logger: Logger): Promise<number> {
  return new Promise((resolve, reject) => {
    // An accept error after the start (EMFILE in a connection flood) is said, not fatal (net/server-errors.ts).
    const listening = refuseUntilListening(
      server,
      (error) => reject(new Error(`The SMTP relay cannot listen on ${host}:${port}: ${error.code === 'EADDRINUSE' ? `the port is in use (set ${variable})` : error.message}`, { cause: error })),
      ({ error, suppressed }) => logger.error({ err: error, code: error.code, port, suppressed }, 'the SMTP relay could not accept a connection (it keeps listening)'),
    );
    server.listen(port, host, () => {
      listening();
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** The Received: line's value (RFC 5321 §4.4; RFC 3848 protocol names). */
function receivedLine(tx: RelayTransaction<ActiveRelayClient>, hostname: string, id: string, now: Date): string {
  const protocol = `ESMTP${tx.secure ? 'S' : ''}${tx.authenticated ? 'A' : ''}`;
  const helo = tx.helo.replace(/[^\x21-\x7e]/g, '').slice(0, 255) || 'unknown';
  const forClause = tx.to.length === 1 ? `\r\n\tfor <${tx.to[0]}>` : '';
  return `from ${helo} ([${normaliseRemoteAddress(tx.remoteAddress)}])\r\n\tby ${hostname} (Mailgate) with ${protocol} id ${id}${forClause};\r\n\t${rfc5322Date(now)}`;
}

export async function startRelay(o: RelayOptions, d: RelayDeps): Promise<RunningRelay> {
  const now = d.now ?? Date.now;
  const lockout = new AuthLockout({ maxFailures: o.authMaxFailures, windowMs: o.authWindowMs, now });
  const maxMessageBytes = o.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  const notAllowed = (address: string, client: string) => `550 5.7.1 Sender <${address.replace(/[^\x21-\x7e]/g, '?').slice(0, 300)}> is not allowed for relay client ${client}`;

  const policy: RelayPolicy<ActiveRelayClient> = {
    hostname: o.hostname,
    maxMessageBytes,
    maxRecipients: MAX_RECIPIENTS,
    idleTimeoutMs: o.idleTimeoutMs ?? 300_000,
    dataTimeoutMs: o.dataTimeoutMs ?? 180_000,
    tlsContext: () => d.tls.context(),
    authLocked: (a) => lockout.locked(a),
    authFailed: (a) => lockout.failed(a),
    authenticate: (user, password, remoteAddress) => authenticateRelayClient(d.store, user, password, { remoteAddress }),
    clientForAddress: (a) => relayClientForAddress(d.store, a),
    isActive: (c) => isRelayClientActive(d.store, c.id),
    async checkSender(client, address) {
      const sendable = d.sendable();
      // Not configured yet: a temporary refusal, so the device retries once the administrator
      // has entered the Email Settings (a 5xx would make it drop the message).
      if (!sendable.length) return { ok: false, reply: '451 4.3.5 Mailgate has no Authorized from Address configured yet; try again later' };
      if (relayClientMaySendAs(client, address, sendable)) return { ok: true, envelopeFrom: address };
      // A rewrite client (a scanner that insists on scanner@printer.local, in MAIL FROM too):
      // its envelope sender becomes the address its header From is rewritten to.
      const rewriteTo = client.fromPolicy === 'rewrite' ? relayRewriteAddress(client, sendable) : undefined;
      if (rewriteTo && relayClientMaySendAs(client, rewriteTo, sendable)) return { ok: true, envelopeFrom: rewriteTo };
      return { ok: false, reply: notAllowed(address, client.name) };
    },
    async accept(tx) {
      const at = new Date(now());
      const id = newMessageId(at.getTime());
      const sendable = d.sendable();
      const prepared = prepareRelayMessage({
        message: tx.data,
        received: receivedLine(tx, o.hostname, id, at),
        messageId: messageIdFor(id, sendable[0]),
        now: at,
        envelopeFrom: tx.from,
        mayUse: (a) => relayClientMaySendAs(tx.principal, a, sendable),
        fromPolicy: tx.principal.fromPolicy,
        rewriteTo: relayRewriteAddress(tx.principal, sendable),
      });
      if (!prepared.ok) {
        d.onEvent?.({ type: 'message', client: tx.principal.name, outcome: 'refused' });
        return notAllowed(prepared.refusedFrom, tx.principal.name);
      }
      if (prepared.message.length > maxMessageBytes) return '552 5.3.4 Message size exceeds fixed maximum message size';
      try {
        await d.outbox.submitRaw({
          id,
          messageIdHeader: prepared.messageId,
          content: prepared.message,
          envelope: { from: tx.from, to: tx.to },
          subject: prepared.subject,
          relayClientId: tx.principal.id,
          source: tx.principal.name,
          ...(d.senderFor?.(tx.from) ? { sender: d.senderFor(tx.from)! } : {}),
        });
      } catch (error) {
        const full = error instanceof StorageFullError;
        d.logger.error({ err: error, client: tx.principal.name, code: full ? 'STORAGE_FULL' : 'STORE_FAILED' }, 'a relayed message could not be stored; the client was told to try again');
        d.onEvent?.({ type: 'message', client: tx.principal.name, outcome: full ? 'storage-full' : 'store-failed' });
        return full ? '452 4.3.1 Insufficient system storage' : '451 4.3.0 Temporary storage failure, try again';
      }
      d.logger.info({ messageId: id, client: tx.principal.name, recipients: tx.to.length, bytes: prepared.message.length, rewritten: prepared.rewritten || undefined }, 'relayed message queued');
      d.onEvent?.({ type: 'message', client: tx.principal.name, outcome: 'queued', id });
      return `250 2.0.0 Ok: queued as ${id}`;
    },
    onEvent: (e) => {
      if (e.type === 'auth-failure') d.logger.warn({ remoteAddress: e.remoteAddress, locked: e.locked }, 'relay authentication failed');
      d.onEvent?.(e);
    },
  };

  const open = new Set<Socket>();
  const perAddress = new Map<string, number>();
  const handle = (implicitTls: boolean) => (socket: Socket) => {
    const remoteAddress = normaliseRemoteAddress(socket.remoteAddress ?? '');
    const count = perAddress.get(remoteAddress) ?? 0;
    const over = open.size >= o.maxConnections || count >= o.maxConnectionsPerAddress;
    open.add(socket);
    perAddress.set(remoteAddress, count + 1);
    socket.once('close', () => {
      open.delete(socket);
      const n = (perAddress.get(remoteAddress) ?? 1) - 1;
      if (n > 0) perAddress.set(remoteAddress, n);
      else perAddress.delete(remoteAddress);
      if (!over) d.onEvent?.({ type: 'connection-close', remoteAddress });
    });
    socket.on('error', () => undefined);
    if (over) d.onEvent?.({ type: 'connection-refused', remoteAddress });
    else d.onEvent?.({ type: 'connection-open', remoteAddress });
    try {
      new RelayConnection(socket, policy, { implicitTls, remoteAddress, ...(over ? { refuse: '421 4.7.0 Too many connections' } : {}) });
    } catch (error) {
      d.logger.error({ err: error }, 'relay connection failed to start');
      socket.destroy();
    }
  };

  const servers: Server[] = [];
  try {
    const plain = createServer({ noDelay: true }, handle(false));
    servers.push(plain);
    const port = await listenOn(plain, o.host, o.port, 'MAILGATE_RELAY_PORT', d.logger);
    let tlsPort: number | undefined;
    if (o.tlsPort !== undefined) {
      const implicit = createServer({ noDelay: true }, handle(true));
      servers.push(implicit);
      tlsPort = await listenOn(implicit, o.host, o.tlsPort, 'MAILGATE_RELAY_TLS_PORT', d.logger);
    }
    return {
      port,
      tlsPort,
      connections: () => open.size,
      async stop() {
        const closed = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
        // Open sessions end now: a transaction not answered 250 yet is the client's to retry.
        for (const s of open) s.destroy();
        await closed;
      },
    };
  } catch (error) {
    for (const s of servers) s.close();
    throw error;
  }
}
