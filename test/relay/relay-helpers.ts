/**
 * Relay test helpers: the real service with the relay on (ephemeral port), the emulator behind
 * it, relay clients, and a raw SMTP client that speaks STARTTLS to the relay's self-signed
 * certificate (pinned: the test trusts exactly the certificate the relay generated).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRelayClient, type CreatedRelayClient, type RelayClientInput } from '../../src/service/access/relay-clients.js';
import { RawSmtpClient } from '../helpers/emulator-client.js';
import { startPair, type Pair } from '../service/e2e-helpers.js';

export interface RelayPair extends Pair {
  relayPort: number;
  /** The relay's certificate (PEM): what the test trusts. */
  relayCa: string;
  client(input: RelayClientInput): Promise<CreatedRelayClient>;
  /** Greeting read; not yet EHLO. */
  connect(): Promise<RawSmtpClient>;
  /** Greeting, EHLO, STARTTLS, EHLO. */
  connectTls(): Promise<RawSmtpClient>;
  /** connectTls + AUTH PLAIN with the client's credentials (asserts 235). */
  connectAuthed(c: { username: string; password: string | null }): Promise<RawSmtpClient>;
}

export async function startRelayPair(env: Record<string, string> = {}): Promise<RelayPair> {
  const p = await startPair({ env: { MAILGATE_RELAY_PORT: '0', ...env } });
  const relay = p.svc.relay!;
  const relayCa = readFileSync(join(p.dir, 'relay-tls', 'cert.pem'), 'utf8');
  const out: RelayPair = Object.assign(p, {
    relayPort: relay.port,
    relayCa,
    client: (input: RelayClientInput) => createRelayClient(p.svc.store, input, { now: Date.now(), actor: 'test' }),
    async connect() {
      const c = await RawSmtpClient.connect(relay.port);
      await c.readReply();
      return c;
    },
    async connectTls() {
      return RawSmtpClient.connectSecure(relay.port, relayCa);
    },
    async connectAuthed(cred: { username: string; password: string | null }) {
      const c = await RawSmtpClient.connectSecure(relay.port, relayCa);
      const r = await c.send(`AUTH PLAIN ${Buffer.from(`\0${cred.username}\0${cred.password}`).toString('base64')}`);
      if (!r.startsWith('235')) throw new Error(`AUTH answered ${r}`);
      return c;
    },
  });
  return out;
}

/** A small message as a device would send it (CRLF line ends, not dot-stuffed). */
export function deviceMessage(o: { from: string; to: string; subject?: string; extraHeaders?: string; body?: string }): string {
  return [
    `From: Scanner <${o.from}>`,
    `To: <${o.to}>`,
    `Subject: ${o.subject ?? 'Scan'}`,
    ...(o.extraHeaders ? [o.extraHeaders] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    o.body ?? 'Scanned document attached.',
    '',
  ].join('\r\n');
}

/** Dot-stuff and terminate a message for DATA. */
export function dataOf(message: string): string {
  return message.replace(/(^|\r\n)\./g, '$1..') + (message.endsWith('\r\n') ? '' : '\r\n') + '.\r\n';
}
