/**
 * What one TLS client context costs when an extra CA is configured the way src/auth/https-request
 * `trustedCas()` does it (all ~140 Node root certificates plus the extra one, parsed again for
 * each connection), against Node's default context. Mailgate pays the first for every new
 * connection when MAILGATE_CA_FILE is set; the benchmark trusts its sink with
 * NODE_EXTRA_CA_CERTS instead, as production against Microsoft 365 needs no extra CA.
 */
import tls from 'node:tls';
import { nowMs } from './clock.js';
import { median, round } from './stats.js';

export function tlsContextProbe(extraCa: string, count = 5): { allRootsPlusExtraMs: number | null; defaultMs: number | null } {
  const withRoots: number[] = [];
  const plain: number[] = [];
  for (let i = 0; i < count; i++) {
    let t = nowMs();
    tls.createSecureContext({ ca: [...tls.rootCertificates, extraCa] });
    withRoots.push(nowMs() - t);
    t = nowMs();
    tls.createSecureContext({});
    plain.push(nowMs() - t);
  }
  return { allRootsPlusExtraMs: round(median(withRoots), 2), defaultMs: round(median(plain), 3) };
}
