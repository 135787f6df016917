/**
 * A userspace stand-in for `tc qdisc … netem delay`: a TCP forwarder that delivers each
 * direction's bytes `delayMs` after it read them, in order. With 20 ms each way a client on one
 * side and the sink on the other see a 40 ms round trip, like a tenant on another continent.
 *
 * The WAN scenario uses netem where the kernel has it (then this proxy forwards with no delay and
 * only counts) and falls back to this delay otherwise; the results say which one was used.
 *
 * It also counts **turnarounds**: on each connection, every time bytes from the server follow
 * bytes from the client. A client that waits for a reply before it writes again causes one per
 * reply it waits for, so turnarounds per message are the round trips per message (MAIL, RCPT,
 * DATA, the message: four for a client that does not pipeline; one for MAIL+RCPT+BDAT in one
 * write). TLS records are opaque here, which is fine: only the direction of the bytes matters.
 *
 * What it does not model: bandwidth, loss, or TCP's own slow start over a long path. Writes are
 * not throttled by the far side's window (the scenario sends a few MB at most).
 */
import net from 'node:net';
import { nowMs } from './clock.js';

/** Bytes waiting in one direction: each entry is due `delayMs` after it was read. */
class DelayedPipe {
  readonly #queue: { due: number; data: Buffer | null }[] = [];
  #timer?: NodeJS.Timeout;

  constructor(
    private readonly to: net.Socket,
    private readonly delayMs: number,
  ) {}

  /** Queue bytes (or the end of the stream, `null`) read now. */
  push(data: Buffer | null): void {
    if (this.delayMs <= 0) return this.#deliver(data);
    // Every entry gets the same delay, so due times are non-decreasing: FIFO keeps the order.
    this.#queue.push({ due: nowMs() + this.delayMs, data });
    this.#arm();
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }

  #arm(): void {
    if (this.#timer || !this.#queue.length) return;
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, this.#queue[0].due - nowMs()));
  }

  #flush(): void {
    this.#timer = undefined;
    // Timers fire up to ~1 ms late, never early by more than the clock's rounding: deliver
    // everything that is due (within 0.5 ms), then sleep until the next entry.
    const now = nowMs() + 0.5;
    while (this.#queue.length && this.#queue[0].due <= now) this.#deliver(this.#queue.shift()!.data);
    this.#arm();
  }

  #deliver(data: Buffer | null): void {
    if (this.to.destroyed) return;
    if (data === null) this.to.end();
    else this.to.write(data);
  }
}

export interface DelayProxyStats {
  connections: number;
  turnarounds: number;
  clientBytes: number;
  serverBytes: number;
}

export class DelayProxy {
  readonly #server: net.Server;
  readonly #open = new Set<net.Socket>();
  #stats: DelayProxyStats = { connections: 0, turnarounds: 0, clientBytes: 0, serverBytes: 0 };

  constructor(
    private readonly target: { host: string; port: number },
    /** One-way delay in ms (half the round trip); 0 = forward at once (netem adds the delay). */
    private readonly delayMs: number,
  ) {
    // Half-open: a FIN is forwarded (delayed) like any byte, not answered at once by Node.
    this.#server = net.createServer({ allowHalfOpen: true }, (client) => this.#connect(client));
  }

  listen(host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve) => this.#server.listen(0, host, () => resolve((this.#server.address() as net.AddressInfo).port)));
  }

  /** Counters since the last reset (turnarounds of every connection, open or closed). */
  stats(): DelayProxyStats {
    return { ...this.#stats };
  }

  reset(): void {
    this.#stats = { connections: 0, turnarounds: 0, clientBytes: 0, serverBytes: 0 };
  }

  close(): Promise<void> {
    for (const s of this.#open) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #connect(client: net.Socket): void {
    this.#stats.connections++;
    const server = net.connect({ port: this.target.port, host: this.target.host, allowHalfOpen: true });
    client.setNoDelay(true);
    server.setNoDelay(true);
    this.#open.add(client).add(server);
    const toServer = new DelayedPipe(server, this.delayMs);
    const toClient = new DelayedPipe(client, this.delayMs);
    // Who sent last on this connection: a server read after a client read is one turnaround.
    let lastFromClient = false;
    client.on('data', (d: Buffer) => {
      this.#stats.clientBytes += d.length;
      lastFromClient = true;
      toServer.push(d);
    });
    server.on('data', (d: Buffer) => {
      this.#stats.serverBytes += d.length;
      if (lastFromClient) this.#stats.turnarounds++;
      lastFromClient = false;
      toClient.push(d);
    });
    client.on('end', () => toServer.push(null));
    server.on('end', () => toClient.push(null));
    const teardown = () => {
      toServer.close();
      toClient.close();
      client.destroy();
      server.destroy();
      this.#open.delete(client);
      this.#open.delete(server);
    };
    // A reset or error on either side ends both at once (a real path would carry the RST too).
    client.on('error', teardown);
    server.on('error', teardown);
    // A socket closes once both of its directions ended (its FIN read, ours delivered).
    client.on('close', () => {
      toClient.close();
      this.#open.delete(client);
    });
    server.on('close', () => {
      toServer.close();
      this.#open.delete(server);
    });
  }
}
