/**
 * The WAN scenario's 40 ms path between the clients and the sink.
 *
 * Every client (Mailgate, raw nodemailer, Postfix's smtp client) connects to a forwarder
 * (bench/lib/delay-proxy.ts) in front of the sink, so every byte of their SMTP sessions crosses
 * the same path and the forwarder counts the round trips. The delay itself comes from:
 * - `tc netem` where the kernel has it: a prio qdisc on the namespace's loopback whose fourth
 *   band (never used by the default priomap) holds `netem delay <rtt/2>`, and u32 filters that put
 *   the packets to and from the forwarder's port in it, so each direction waits rtt/2 in the
 *   kernel and the forwarder only counts; only inside the benchmark's private namespace (the
 *   machine's own loopback is never touched);
 * - otherwise the forwarder's own userspace delay (rtt/2 per direction, order kept).
 * `method` says which one, and the results record it.
 */
import { execFileSync } from 'node:child_process';
import { RpcChild } from './children.js';
import { distModule } from './paths.js';
import type { DelayProxyStats } from './delay-proxy.js';

export type WanMethod = 'netem' | 'delay-proxy';

export interface WanLink {
  port: number;
  method: WanMethod;
  rttMs: number;
  /** Why netem was not used (when it was not). */
  netemError?: string;
  pid: number;
  stats(): Promise<DelayProxyStats>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const tc = (args: string[]) => execFileSync('tc', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });

function tryNetem(port: number, oneWayMs: number): string | undefined {
  try {
    tc(['qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'prio', 'bands', '4']);
  } catch (e) {
    return firstLine(e);
  }
  try {
    tc(['qdisc', 'add', 'dev', 'lo', 'parent', '1:4', 'handle', '40:', 'netem', 'delay', `${oneWayMs}ms`]);
    for (const dir of ['dport', 'sport']) {
      tc(['filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', dir, String(port), '0xffff', 'flowid', '1:4']);
    }
    return undefined;
  } catch (e) {
    removeNetem();
    return firstLine(e);
  }
}

function removeNetem(): void {
  try {
    tc(['qdisc', 'del', 'dev', 'lo', 'root']);
  } catch {
    /* nothing was added */
  }
}

function firstLine(e: unknown): string {
  const err = e as { stderr?: Buffer; message?: string };
  return (err.stderr?.toString().trim() || err.message || String(e)).split('\n')[0];
}

/**
 * Start the path to `sinkPort`. `inNamespace`: the run is inside the benchmark's own network
 * namespace, the only place where netem may be set up.
 */
export async function startWanLink(o: { sinkPort: number; rttMs: number; inNamespace: boolean }): Promise<WanLink> {
  const oneWay = o.rttMs / 2;
  const proc = new RpcChild(distModule('lib/delay-proxy-process.js'));
  // The forwarder listens first (netem needs its port); it starts without a delay and is
  // restarted with one if netem cannot be had.
  let { port } = await proc.call<{ port: number }>('start', { targetPort: o.sinkPort, delayMs: 0 });
  let method: WanMethod = 'netem';
  const netemError = o.inNamespace ? tryNetem(port, oneWay) : 'not in the benchmark\'s own network namespace (--no-netns): the machine\'s loopback is left alone';
  if (netemError !== undefined) {
    method = 'delay-proxy';
    await proc.call('stop');
    ({ port } = await proc.call<{ port: number }>('start', { targetPort: o.sinkPort, delayMs: oneWay }));
  }
  return {
    port,
    method,
    rttMs: o.rttMs,
    netemError,
    pid: proc.pid,
    stats: () => proc.call('stats'),
    reset: async () => void (await proc.call('reset')),
    async stop() {
      if (method === 'netem') removeNetem();
      await proc.call('stop', {}, 10_000).catch(() => undefined);
      await proc.close();
    },
  };
}
