/**
 * Check `tcp`: a TCP connection to the SMTP host and port opens within the timeout.
 *
 * Why it exists: the most common first-day failure is a firewall or proxy that silently drops
 * outbound port 587; an application then sees only a slow, vague timeout. A bare TCP connect
 * with a short timeout tells "the network blocks the port" apart from everything later, and
 * fails fast. `observeTcp` is the socket; `decideTcp` is pure.
 *
 * Imports: node:net, src/core (errors, diagnosis), ../fix-commands.
 */
import net from 'node:net';
import { MailgateError } from '../../core/errors.js';
import { diagnose } from '../../core/diagnosis/index.js';
import type { DiagnosisContext } from '../../core/diagnosis/types.js';
import { NET, fillAll, fillValues } from '../fix-commands.js';
import type { CheckResult } from '../types.js';
import { checkFromDiagnosis } from './diagnosis-result.js';

export type TcpObservation =
  | { ok: true; host: string; port: number; ms: number; remoteAddress?: string }
  | { ok: false; host: string; port: number; ms: number; timeoutMs: number; code: string };

/** Opens and immediately closes one TCP connection. Never throws. */
export function observeTcp(host: string, port: number, timeoutMs: number): Promise<TcpObservation> {
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const socket = net.connect({ host: host.replace(/^\[(.*)\]$/, '$1'), port });
    const finish = (o: TcpObservation) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ ok: false, host, port, ms: Date.now() - started, timeoutMs, code: 'ETIMEDOUT' }), timeoutMs);
    socket.once('connect', () => finish({ ok: true, host, port, ms: Date.now() - started, remoteAddress: socket.remoteAddress }));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      const code = typeof e.code === 'string' && /^[A-Z_]{3,32}$/.test(e.code) ? e.code : 'ERROR';
      finish({ ok: false, host, port, ms: Date.now() - started, timeoutMs, code });
    });
  });
}

export function decideTcp(o: TcpObservation, ctx: DiagnosisContext): CheckResult {
  if (o.ok) {
    return {
      id: 'tcp',
      status: 'pass',
      summary: `TCP connection to ${o.host}:${o.port} opened in ${o.ms} ms.`,
      details: { host: o.host, port: o.port, ms: o.ms, ...(o.remoteAddress ? { remoteAddress: o.remoteAddress } : {}) },
    };
  }
  const timedOut = o.code === 'ETIMEDOUT';
  const err = new MailgateError({
    code: timedOut ? 'CONNECT_TIMEOUT' : 'CONNECT_FAILED',
    phase: 'connect',
    retryable: true,
    message: timedOut ? `No TCP connection to ${o.host}:${o.port} within ${o.timeoutMs} ms` : `TCP connection to ${o.host}:${o.port} failed (${o.code})`,
    context: { host: o.host, port: o.port, errno: o.code },
    cause: Object.assign(new Error(o.code), { code: o.code }),
  });
  const d = diagnose(err, ctx);
  const seconds = (o.timeoutMs / 1000).toLocaleString('en', { maximumFractionDigits: 1 });
  const summary = timedOut
    ? `No TCP connection to ${o.host}:${o.port} within ${seconds} s: outbound port ${o.port} is most likely blocked by a firewall or proxy.`
    : o.code === 'ECONNREFUSED'
      ? `The TCP connection to ${o.host}:${o.port} was refused: nothing listens on that port, or a firewall or proxy rejects it.`
      : `The TCP connection to ${o.host}:${o.port} failed (${o.code}): no route, or a firewall forbids it.`;
  // The diagnosis carries Test-NetConnection; make sure it is there even if its table changes.
  const testPort = fillAll([NET.testPort], fillValues(ctx))[0]!;
  const commands = d.commands?.includes(testPort) ? d.commands : [testPort, ...(d.commands ?? [])];
  return checkFromDiagnosis('tcp', d, err, { summary, commands, details: { host: o.host, port: o.port, ms: o.ms, errno: o.code } });
}
