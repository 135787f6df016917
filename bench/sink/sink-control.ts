/** The orchestrator's handle on the sink process. */
import type { CertFiles } from '../lib/certs.js';
import { RpcChild } from '../lib/children.js';
import { nowMs, sleep } from '../lib/clock.js';
import { distModule } from '../lib/paths.js';

export interface SinkRunReport {
  received: number;
  first: number | null;
  last: number | null;
  peakConnections: number;
  openConnections: number;
  connectionsOpened: number;
  authentications: number;
  throttles: number;
  throttleReplies: string[];
  accepted: number;
  unmatched: number;
  /** Most authenticated connections at once for any one AUTH user (signed-in mailbox) since the reset. */
  peakConnectionsPerUser: number;
  /** Distinct AUTH users seen since the reset. */
  usersSeen: number;
  /** The Graph sendMail endpoint: most requests in flight at once, requests, refused (400), TLS connections opened, most open at once. */
  graph: { peakInFlight: number; requests: number; refused: number; connectionsOpened: number; peakOpenConnections: number };
  times?: [number, number][];
}

export interface ThrottleRule {
  windowMs: number;
  maxMessages: number;
  maxConnectionsPerUser: number;
}

export class Sink {
  readonly rpc: RpcChild;
  smtpPort = 0;
  tokenPort = 0;
  /** HTTPS port of the Graph sendMail endpoint. */
  graphPort = 0;
  token = '';

  private constructor() {
    this.rpc = new RpcChild(distModule('sink/sink-process.js'));
  }

  static async start(cert: CertFiles): Promise<Sink> {
    const s = new Sink();
    const r = await s.rpc.call<{ smtpPort: number; tokenPort: number; graphPort: number; token: string }>('start', { cert: cert.cert, key: cert.key });
    Object.assign(s, r);
    return s;
  }

  get pid(): number {
    return this.rpc.pid;
  }

  reset(options: { throttle?: ThrottleRule; tokenDelayMs?: number } = {}): Promise<{ open: number }> {
    return this.rpc.call('reset', options);
  }

  wait(run: string, count: number, timeoutMs: number, times = false): Promise<SinkRunReport> {
    return this.rpc.call('wait', { run, count, timeoutMs, times }, timeoutMs + 30_000);
  }

  forget(run: string): Promise<unknown> {
    return this.rpc.call('forget', { run });
  }

  resetTokens(): Promise<unknown> {
    return this.rpc.call('resetTokens');
  }

  tokens(): Promise<{ requests: number; paths: string[]; clients: Record<string, number> }> {
    return this.rpc.call('tokens');
  }

  connections(): Promise<{ open: number; peak: number }> {
    return this.rpc.call('connections');
  }

  /** Wait (bounded) until no connection to the sink is open, so the next competitor's peak is its own. */
  async waitClosed(maxMs: number): Promise<number> {
    const deadline = nowMs() + maxMs;
    for (let i = 0; i < 10_000; i++) {
      const { open } = await this.connections();
      if (open === 0 || nowMs() > deadline) return open;
      await sleep(100);
    }
    return -1;
  }

  async stop(): Promise<void> {
    await this.rpc.call('stop', {}, 10_000).catch(() => undefined);
    await this.rpc.close();
  }
}
