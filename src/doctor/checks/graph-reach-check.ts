/**
 * Check `graph-reach` (Transport graph or auto): a TCP connection to the Microsoft Graph
 * endpoint's host and port (443 by default) opens within the timeout.
 *
 * Why it exists: the `tcp` check proves the SMTP port, and the token check proves only the
 * authority host; a firewall or proxy that lets login.microsoftonline.com through but drops
 * graph.microsoft.com would otherwise show up only as a slow, vague graph-send failure (or,
 * without --to, not at all, and Automatic would be told Graph may work). `observeTcp` (the
 * tcp check's socket) does the I/O; `decideGraphReach` is pure.
 *
 * Imports: src/core (settings types), ./tcp-check, ./dns-check (hostOfUrl).
 */
import type { EmailSettings } from '../../core/settings.js';
import type { CheckResult } from '../types.js';
import { hostOfUrl } from './dns-check.js';
import type { TcpObservation } from './tcp-check.js';

/** The host and port requests to Graph go to (the endpoint setting; https's 443 by default). */
export function graphTarget(settings: EmailSettings): { host: string; port: number } {
  let port = 443;
  try {
    const u = new URL(settings.graphEndpoint);
    if (u.port) port = Number(u.port);
  } catch {
    // The settings schema validated the URL; keep 443 if it ever does not parse.
  }
  return { host: hostOfUrl(settings.graphEndpoint), port };
}

export function decideGraphReach(o: TcpObservation, settings: EmailSettings): CheckResult {
  const details = { endpoint: settings.graphEndpoint, host: o.host, port: o.port, ms: o.ms, ...(o.ok ? (o.remoteAddress ? { remoteAddress: o.remoteAddress } : {}) : { errno: o.code }) };
  if (o.ok) return { id: 'graph-reach', status: 'pass', summary: `TCP connection to the Microsoft Graph endpoint ${o.host}:${o.port} opened in ${o.ms} ms.`, details };
  const seconds = (o.timeoutMs / 1000).toLocaleString('en', { maximumFractionDigits: 1 });
  const summary = o.code === 'ETIMEDOUT'
    ? `No TCP connection to the Microsoft Graph endpoint ${o.host}:${o.port} within ${seconds} s: outbound HTTPS to it is most likely blocked by a firewall or proxy.`
    : o.code === 'ECONNREFUSED'
      ? `The TCP connection to the Microsoft Graph endpoint ${o.host}:${o.port} was refused: nothing listens there, or a firewall or proxy rejects it.`
      : `The TCP connection to the Microsoft Graph endpoint ${o.host}:${o.port} failed (${o.code}): no route, or a firewall forbids it.`;
  return {
    id: 'graph-reach',
    status: 'fail',
    summary,
    fix: [
      `Allow outbound HTTPS (TCP ${o.port}) from this machine to ${o.host} in the firewall or proxy (Microsoft Graph is in Microsoft 365's "Optimize/Allow" endpoints; Mailgate does not use an HTTP proxy).`,
      'Check Microsoft Graph endpoint (MAILGATE_GRAPH_ENDPOINT): leave it empty for the default of your Cloud setting (https://graph.microsoft.com for the global cloud).',
      settings.transport === 'auto' ? 'Until Graph is reachable, Automatic sends by SMTP only.' : 'Or set Transport to smtp (or auto) if SMTP AUTH is allowed for the mailbox.',
    ].join(' '),
    // The host comes from a validated URL setting (no spaces or quotes), not from a server.
    commands: [`Test-NetConnection -ComputerName ${o.host} -Port ${o.port}`],
    details,
  };
}
