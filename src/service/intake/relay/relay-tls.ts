/**
 * The SMTP relay's TLS certificate: the administrator's PEM files (MAILGATE_RELAY_TLS_CERT /
 * _KEY, read with config/bounded-file.ts and reloaded when they change), or a self-signed
 * EC P-256 certificate generated once into `<data dir>/relay-tls/` (key 0600) and reused across
 * restarts, so an administrator can pin its SHA-256 fingerprint on a device.
 *
 * Why: printers rarely check certificates, but the password they send must still travel
 * encrypted (AUTH only after STARTTLS), and TLS 1.2 is the minimum (`minVersion`).
 *
 * Imports: node:crypto, node:fs, node:tls, ../../../net/der (certificate generation; @peculiar/x509 would
 * need a global Reflect polyfill), ../../../config/bounded-file.
 */
import { createHash, generateKeyPair, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { chmodSync, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import * as der from '../../../net/der.js';
import { readBoundedFileSync } from '../../../config/bounded-file.js';

export interface RelayCertificateInfo {
  /** SHA-256 of the DER certificate, `AA:BB:...` (what a device pins). */
  fingerprint256: string;
  /** When it expires (epoch ms). */
  expiresAt: number;
  subject: string;
  source: 'files' | 'generated';
  /** The certificate file in use. */
  certFile: string;
}

export interface RelayTls {
  /** The current context (files re-checked at most every RELOAD_CHECK_MS). */
  context(): SecureContext;
  info(): RelayCertificateInfo;
}

const RELOAD_CHECK_MS = 5_000;
const GENERATED_VALIDITY_DAYS = 3 * 365;
/** A certificate chain plus key is far below this; the bound protects against a wrong path. */
const PEM_LIMIT = 256 * 1024;

export class RelayTlsError extends Error {
  override readonly name = 'RelayTlsError';
}

function build(certPem: Buffer, keyPem: Buffer, source: RelayCertificateInfo['source'], certFile: string): { ctx: SecureContext; info: RelayCertificateInfo } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (cause) {
    throw new RelayTlsError(`The relay certificate ${certFile} is not a PEM certificate (${(cause as Error).message}).`);
  }
  let ctx: SecureContext;
  try {
    ctx = createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
  } catch (cause) {
    // The message of a key error never contains the key itself.
    throw new RelayTlsError(`The relay certificate ${certFile} and its key cannot be used together (${(cause as Error).message}).`);
  }
  return { ctx, info: { fingerprint256: cert.fingerprint256, expiresAt: Date.parse(cert.validTo), subject: cert.subject, source, certFile } };
}

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

const extension = der.extension;

/** A self-signed EC P-256 server certificate (X.509 v3, ecdsa-with-SHA256). */
function selfSigned(o: { cn: string; dnsNames: string[]; ipAddresses: string[]; publicKey: KeyObject; privateKey: KeyObject; notBefore: Date; notAfter: Date }): string {
  const spki = o.publicKey.export({ type: 'spki', format: 'der' });
  const name = der.sequence(
    der.set(der.sequence(der.oid(OID.commonName), der.utf8String(o.cn))),
    der.set(der.sequence(der.oid(OID.organization), der.utf8String('Mailgate SMTP relay'))),
  );
  const altNames = [...o.dnsNames.map((d) => der.implicitPrimitive(2, Buffer.from(d, 'ascii'))), ...o.ipAddresses.map((ip) => der.implicitPrimitive(7, Buffer.from(ip.split('.').map(Number))))];
  const extensions = [
    extension(OID.basicConstraints, true, der.sequence()),
    // digitalSignature (bit 0): 0b1000_0000, seven unused bits.
    extension(OID.keyUsage, true, der.bitString(Buffer.from([0x80]), 7)),
    extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth))),
    extension(OID.subjectAltName, false, der.sequence(...altNames)),
    extension(OID.subjectKeyId, false, der.octetString(createHash('sha1').update(spki).digest())),
  ];
  const algorithm = der.sequence(der.oid(OID.ecdsaWithSha256));
  return der.certificatePem({ issuer: name, subject: name, notBefore: o.notBefore, notAfter: o.notAfter, spki, extensions, algorithm, sign: (tbs) => sign('sha256', tbs, o.privateKey) });
}

/** Generate (once) and return the paths of the self-signed pair in `dataDir`. */
export async function ensureGeneratedCertificate(dataDir: string, now = new Date()): Promise<{ certFile: string; keyFile: string; generated: boolean }> {
  const dir = join(dataDir, 'relay-tls');
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile, generated: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { publicKey, privateKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '') || 'mailgate';
  const certPem = selfSigned({ cn: host, dnsNames: [...new Set([host, 'localhost'])], ipAddresses: ['127.0.0.1'], publicKey, privateKey, notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + GENERATED_VALIDITY_DAYS * 86_400_000) });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  // Written under temporary names and renamed, key first: a crash never leaves a certificate
  // without its key (the next start would keep a pair that cannot work).
  writeFileSync(`${keyFile}.tmp`, keyPem, { mode: 0o600 });
  chmodSync(`${keyFile}.tmp`, 0o600);
  renameSync(`${keyFile}.tmp`, keyFile);
  writeFileSync(`${certFile}.tmp`, certPem, { mode: 0o644 });
  renameSync(`${certFile}.tmp`, certFile);
  return { certFile, keyFile, generated: true };
}

/**
 * The relay's TLS: from the given files, else the generated pair. Throws RelayTlsError (naming
 * the file) when the files cannot be used; a later reload that fails keeps the previous
 * certificate (and `onReloadError` says why).
 */
export async function loadRelayTls(o: { certFile?: string; keyFile?: string; dataDir: string; onReloadError?: (error: Error) => void; onReload?: (info: RelayCertificateInfo) => void; reloadCheckMs?: number }): Promise<RelayTls & { generated: boolean }> {
  if ((o.certFile === undefined) !== (o.keyFile === undefined)) {
    throw new RelayTlsError('MAILGATE_RELAY_TLS_CERT and MAILGATE_RELAY_TLS_KEY go together: set both (PEM files) or neither (a self-signed certificate is generated).');
  }
  const source: RelayCertificateInfo['source'] = o.certFile ? 'files' : 'generated';
  const paths = o.certFile && o.keyFile ? { certFile: o.certFile, keyFile: o.keyFile, generated: false } : await ensureGeneratedCertificate(o.dataDir);
  const read = (f: string) => {
    try {
      return readBoundedFileSync(f, PEM_LIMIT);
    } catch (cause) {
      throw new RelayTlsError(`The relay TLS file ${f} cannot be read: ${(cause as Error).message}`);
    }
  };
  const stamp = () => [paths.certFile, paths.keyFile].map((f) => { try { const s = statSync(f); return `${s.mtimeMs}:${s.size}:${s.ino}`; } catch { return 'missing'; } }).join('|');
  let current = build(read(paths.certFile), read(paths.keyFile), source, paths.certFile);
  let lastStamp = stamp();
  let lastCheck = performance.now();
  const refresh = () => {
    const t = performance.now();
    if (t - lastCheck < (o.reloadCheckMs ?? RELOAD_CHECK_MS)) return;
    lastCheck = t;
    const s = stamp();
    if (s === lastStamp) return;
    lastStamp = s;
    try {
      current = build(read(paths.certFile), read(paths.keyFile), source, paths.certFile);
      o.onReload?.(current.info);
    } catch (error) {
      o.onReloadError?.(error as Error);
    }
  };
  return {
    generated: paths.generated,
    context() {
      refresh();
      return current.ctx;
    },
    info: () => current.info,
  };
}
