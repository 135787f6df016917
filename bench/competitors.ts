/**
 * The competitors, behind one interface so every scenario treats them alike:
 * - raw: nodemailer's pooled transport (3 connections) sending straight to the sink;
 * - postfix / postfix_default: Debian's Postfix relaying to the sink (TLS reuse on / off),
 *   fed by a nodemailer pool of 3 plain-SMTP connections;
 * - mailgate: the service end to end (HTTP API → SQLite → worker → SMTP pool of 3).
 */
import { RpcChild } from './lib/children.js';
import { distModule } from './lib/paths.js';
import type { Sink } from './sink/sink-control.js';
import type { PostfixInstance } from './postfix/postfix.js';
import { masterPid } from './postfix/postfix.js';
import type { MailgateLauncher } from './mailgate/service.js';

export type CompetitorKey = 'raw' | 'postfix' | 'postfix_default' | 'mailgate';

export interface BurstResult {
  start: number;
  end: number;
  errors: number;
  firstError?: string;
  acceptLatencies?: number[];
}

export interface PacedResult {
  submits: number[];
  /** sendMail callback (raw, postfix injection) or the API's 202 (mailgate). */
  callbacks: number[];
  errors: number;
  firstError?: string;
}

export interface Session {
  /** Process trees whose CPU is accounted, by name. */
  cpuRoots: Record<string, number[]>;
  /** The entry of cpuRoots that is the system under test. */
  sut: string;
  burst(run: string, count: number): Promise<BurstResult>;
  paced(run: string, count: number, intervalMs: number): Promise<PacedResult>;
  close(): Promise<void>;
  /** Peak RSS (MB) of the system under test, if it is one process. */
  peakRssPid?: number;
  /** Counters the system under test reports about itself (Mailgate: from /metrics). */
  counters?(): Promise<Record<string, number>>;
}

export interface Competitor {
  key: CompetitorKey;
  label: string;
  open(options?: { cpuProf?: string; transport?: 'smtp' | 'graph' }): Promise<Session>;
}

class DriverSession implements Session {
  counters?: () => Promise<Record<string, number>>;
  constructor(
    readonly driver: RpcChild,
    readonly cpuRoots: Record<string, number[]>,
    readonly sut: string,
    private readonly onClose: () => Promise<void> = async () => undefined,
    readonly peakRssPid?: number,
  ) {}

  burst(run: string, count: number): Promise<BurstResult> {
    return this.driver.call('burst', { run, count, acceptTimes: true }, 600_000);
  }

  paced(run: string, count: number, intervalMs: number): Promise<PacedResult> {
    return this.driver.call('paced', { run, count, intervalMs }, count * intervalMs + 120_000);
  }

  async close(): Promise<void> {
    await this.driver.call('close', {}, 10_000).catch(() => undefined);
    await this.driver.close();
    await this.onClose();
  }
}

export function rawCompetitor(sink: Pick<Sink, 'smtpPort' | 'token'>, ca: string): Competitor {
  return {
    key: 'raw',
    label: 'raw nodemailer (pool of 3)',
    async open() {
      const d = new RpcChild(distModule('drivers/smtp-driver.js'));
      await d.call('init', { host: '127.0.0.1', port: sink.smtpPort, tls: true, ca, token: sink.token, maxConnections: 3 });
      return new DriverSession(d, { driver: [d.pid] }, 'driver', undefined, d.pid);
    },
  };
}

export function postfixCompetitor(inst: PostfixInstance): Competitor {
  return {
    key: inst.reuse ? 'postfix' : 'postfix_default',
    label: inst.reuse ? 'Postfix (TLS connection reuse on)' : 'Postfix (default: TLS reuse off)',
    async open() {
      const master = masterPid(inst);
      if (master === undefined) throw new Error(`Postfix ${inst.name} is not running`);
      const d = new RpcChild(distModule('drivers/smtp-driver.js'));
      await d.call('init', { host: '127.0.0.1', port: inst.smtpdPort, tls: false, maxConnections: 3 });
      return new DriverSession(d, { postfix: [master], injector: [d.pid] }, 'postfix');
    },
  };
}

export function mailgateCompetitor(launcher: MailgateLauncher, concurrency: number, env?: Record<string, string>): Competitor {
  return {
    key: 'mailgate',
    label: 'Mailgate (HTTP API → SQLite → worker → pool of 3)',
    async open(options = {}) {
      const svc = await launcher.start({ cpuProf: options.cpuProf, transport: options.transport, env });
      const d = new RpcChild(distModule('drivers/http-driver.js'));
      await d.call('init', { baseUrl: svc.baseUrl, apiKey: svc.apiKey, concurrency });
      const session = new DriverSession(d, { service: [svc.pid], load: [d.pid] }, 'service', () => svc.stop(), svc.pid);
      session.counters = async () => {
        const text = await fetch(`${svc.baseUrl}/metrics`).then((r) => r.text());
        const out: Record<string, number> = {};
        for (const m of text.matchAll(/^(mailgate_store_commits_total)\{kind="(\w+)"\} (\d+)$/gm)) out[`${m[1]}_${m[2]}`] = Number(m[3]);
        return out;
      };
      return session;
    },
  };
}
