/**
 * The trust store for Mailgate's own TLS connections (the token endpoint, the SMTP server): the
 * default roots, NODE_EXTRA_CA_CERTS, plus an extra CA when one is configured (the emulator's
 * in tests and `mailgate dev`, MAILGATE_CA_FILE).
 *
 * Why a module of its own: auth/ (HTTPS to Entra) and transport/ (SMTP STARTTLS) both need the
 * same cached contexts, and neither may import the other.
 *
 * Imports: node:tls, node:fs only.
 */
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

/**
 * Passing `ca` to a TLS connection replaces Node's trust store, so the default roots (and the
 * file named by NODE_EXTRA_CA_CERTS) are added back explicitly.
 */
const contexts = new Map<string, tls.SecureContext>();

/**
 * A TLS context trusting the default roots plus `extra`, built once per CA and reused: building
 * it parses some 140 root certificates (measured 18–50 ms of CPU), far too much per connection.
 */
export function secureContextFor(extra: string | Buffer): tls.SecureContext {
  const key = extra.toString();
  let ctx = contexts.get(key);
  if (!ctx) {
    ctx = tls.createSecureContext({ ca: trustedCas(extra), minVersion: 'TLSv1.2' });
    contexts.set(key, ctx);
  }
  return ctx;
}

function trustedCas(extra: string | Buffer): (string | Buffer)[] {
  const roots: (string | Buffer)[] = [...tls.rootCertificates];
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (file) {
    try {
      roots.push(readFileSync(file, 'utf8'));
    } catch {
      /* Node already warned about an unreadable NODE_EXTRA_CA_CERTS at start-up */
    }
  }
  roots.push(extra);
  return roots;
}
