/**
 * The WAN scenario's delay proxy (bench/lib/delay-proxy.ts) in its own forked process, so its
 * timers are not delayed by the orchestrator and its CPU is accounted apart from every
 * competitor's.
 */
import { serveRpc } from './children.js';
import { DelayProxy } from './delay-proxy.js';

let proxy: DelayProxy | undefined;

serveRpc({
  async start(args: { targetPort: number; delayMs: number }) {
    proxy = new DelayProxy({ host: '127.0.0.1', port: args.targetPort }, args.delayMs);
    return { port: await proxy.listen('127.0.0.1') };
  },
  stats() {
    return proxy!.stats();
  },
  reset() {
    proxy!.reset();
    return {};
  },
  async stop() {
    await proxy?.close();
    return {};
  },
});
