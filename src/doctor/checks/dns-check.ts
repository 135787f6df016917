/**
 * Check `dns`: the SMTP host, (with OAuth2) the authority host and (with Transport graph or auto)
 * the Microsoft Graph endpoint's host resolve to addresses.
 *
 * Why it exists: a typo in a host name or a broken resolver otherwise shows up later as a vague
 * connection or token failure. Resolving both names first says which one is wrong. The lookup
 * (`observeDns`) is I/O; `decideDns` is pure.
 *
 * Imports: node:dns, node:net, src/core (settings, diagnosis), ../fix-commands.
 */
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import type { EmailSettings } from '../../core/settings.js';
import { diagnosisForRule } from '../../core/diagnosis/index.js';
import type { DiagnosisContext } from '../../core/diagnosis/types.js';
import { NET, fillAll, fillValues, joinFix } from '../fix-commands.js';
import type { CheckResult } from '../types.js';

export type HostRole = 'smtp' | 'authority' | 'graph';

export interface HostLookup {
  role: HostRole;
  host: string;
  /** The addresses found (an IP literal resolves to itself). */
  addresses?: string[];
  /** The resolver's error code (ENOTFOUND, EAI_AGAIN, ETIMEOUT, ...) when it failed. */
  error?: string;
}

const LABEL: Record<HostRole, string> = { smtp: 'SMTP Client Server', authority: 'Authority host', graph: 'Microsoft Graph endpoint' };
const DETAIL_KEY: Record<HostRole, string> = { smtp: 'smtpHost', authority: 'authorityHost', graph: 'graphHost' };

export type Lookup = (host: string) => Promise<string[]>;

/** The host name of a URL such as https://login.microsoftonline.com (brackets of IPv6 removed). */
export function hostOfUrl(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return url;
  }
}

/**
 * The hosts to resolve: the SMTP host, the authority host when OAuth2 is on, and the Graph
 * endpoint's host when messages may go by Graph (Transport graph or auto, which need OAuth2).
 */
export function hostsToResolve(settings: EmailSettings): { role: HostRole; host: string }[] {
  const hosts: { role: HostRole; host: string }[] = [{ role: 'smtp', host: settings.smtpHost.replace(/^\[(.*)\]$/, '$1') }];
  if (settings.useModernAuth) hosts.push({ role: 'authority', host: hostOfUrl(settings.authorityHost) });
  if (settings.useModernAuth && settings.transport !== 'smtp') hosts.push({ role: 'graph', host: hostOfUrl(settings.graphEndpoint) });
  return hosts;
}

export const systemLookup: Lookup = async (host) => (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('DNS lookup timed out'), { code: 'ETIMEOUT' })), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves each host (IP literals are not looked up). Never throws. */
export async function observeDns(settings: EmailSettings, lookup: Lookup, timeoutMs: number): Promise<HostLookup[]> {
  return Promise.all(
    hostsToResolve(settings).map(async ({ role, host }): Promise<HostLookup> => {
      if (isIP(host)) return { role, host, addresses: [host] };
      try {
        const addresses = await withTimeout(lookup(host), timeoutMs);
        return addresses.length ? { role, host, addresses } : { role, host, error: 'ENODATA' };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException)?.code;
        return { role, host, error: typeof code === 'string' && /^[A-Z_]{3,32}$/.test(code) ? code : 'ERROR' };
      }
    }),
  );
}


export function decideDns(lookups: HostLookup[], ctx: DiagnosisContext): CheckResult {
  const details: Record<string, unknown> = {};
  for (const l of lookups) details[DETAIL_KEY[l.role]] = l.error ? { host: l.host, error: l.error } : { host: l.host, addresses: l.addresses };
  const failed = lookups.filter((l) => l.error);
  if (!failed.length) {
    return {
      id: 'dns',
      status: 'pass',
      summary: `${lookups.map((l) => (isIP(l.host) ? `${LABEL[l.role]} ${l.host} is an IP address` : `${LABEL[l.role]} ${l.host} → ${(l.addresses ?? []).slice(0, 3).join(', ')}`)).join('; ')}.`,
      details,
    };
  }
  const values = fillValues(ctx);
  const smtpFailed = failed.some((l) => l.role === 'smtp');
  const authorityFailed = failed.some((l) => l.role === 'authority');
  const graphFailed = failed.find((l) => l.role === 'graph');
  const fix: string[] = [];
  const commands: string[] = [];
  if (smtpFailed) {
    const d = diagnosisForRule('connect-dns', ctx);
    fix.push(...(d?.fixes ?? ['Check SMTP Client Server (smtp.office365.com for the global cloud).']));
    commands.push(...(d?.commands ?? fillAll([NET.resolveSmtp], values)));
  }
  if (authorityFailed) {
    fix.push('Check Authority host: leave it at the default of your Cloud setting (https://login.microsoftonline.com for the global cloud).');
    commands.push(...fillAll([NET.resolveAuthority], values));
  }
  if (graphFailed) {
    fix.push('Check Microsoft Graph endpoint (MAILGATE_GRAPH_ENDPOINT): leave it empty for the default of your Cloud setting (https://graph.microsoft.com for the global cloud).');
    // The host comes from a validated URL setting (no spaces or quotes), not from a server.
    commands.push(`Resolve-DnsName ${graphFailed.host}`);
  }
  fix.push('If the names are right, this machine\'s DNS resolver cannot resolve internet names: check its DNS configuration.');
  return {
    id: 'dns',
    status: 'fail',
    summary: failed.map((l) => `${LABEL[l.role]} ${l.host} does not resolve (${l.error})`).join('; ') + '.',
    fix: joinFix(fix),
    commands,
    details,
  };
}
