/**
 * A plaintext TCP tap: a loopback proxy that forwards bytes both ways between a client
 * (Mailgate) and a server (Postfix) and records every byte, so a test can search what
 * actually crossed the wire. It also counts connections and their peak concurrency, which
 * gives the pool test a measurement that does not come from Mailgate itself.
 *
 * `localAddress` binds the upstream side to a chosen 127.0.0.N: the server (and Dovecot's
 * per-IP anvil penalty, docs/dependencies.md §4a) then sees that address instead of 127.0.0.1,
 * which lets a test pick its source address even when the client (the CLI) cannot.
 */
import net from 'node:net';

export interface Tap {
  port: number;
  /** Everything the client sent, all connections concatenated in arrival order. */
  clientBytes(): Buffer;
  /** Everything the server sent. */
  serverBytes(): Buffer;
  readonly connections: number;
  readonly peakConcurrent: number;
  close(): Promise<void>;
}

export function startTap(target: { host: string; port: number }, options: { localAddress?: string } = {}): Promise<Tap> {
  const fromClient: Buffer[] = [];
  const fromServer: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let open = 0;
  let peak = 0;
  const server = net.createServer((client) => {
    connections++;
    open++;
    peak = Math.max(peak, open);
    const upstream = net.connect({ host: target.host, port: target.port, localAddress: options.localAddress });
    sockets.add(client);
    sockets.add(upstream);
    let closed = false;
    const done = () => {
      if (closed) return;
      closed = true;
      open--;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (d: Buffer) => {
      fromClient.push(Buffer.from(d));
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      fromServer.push(Buffer.from(d));
      client.write(d);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('close', done);
    upstream.on('close', done);
    client.on('error', done);
    upstream.on('error', done);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        clientBytes: () => Buffer.concat(fromClient),
        serverBytes: () => Buffer.concat(fromServer),
        get connections() {
          return connections;
        },
        get peakConcurrent() {
          return peak;
        },
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}
