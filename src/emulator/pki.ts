/**
 * The emulator's PKI: a throwaway certificate authority and a TLS server certificate
 * (SAN `localhost`, `127.0.0.1`, `::1`) made at every start, plus `createClientCertificate()`,
 * a test utility that makes the self-signed RSA certificate + PKCS#8 key pair an Entra app
 * would use as a certificate credential.
 *
 * Why it exists: the emulator must speak real TLS (STARTTLS on SMTP, HTTPS for Entra) with a
 * CA that clients can trust through `NODE_EXTRA_CA_CERTS` or a `ca` option, without any files
 * checked in. Certificates are built with the small DER writer in ../net/der.ts and signed with
 * node:crypto (EC P-256 for the server side: fast to generate; RSA 2048 for client
 * credentials, because Entra's client assertions are RS256/PS256).
 *
 * Imports: node built-ins, ../net/der.ts and ../net/self-signed-rsa.ts (the client certificate,
 * shared with `mailgate cert create`) only.
 */
import { createHash, createPrivateKey, generateKeyPair, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import * as der from '../net/der.js';
import { createSelfSignedRsa } from '../net/self-signed-rsa.js';

const generateKeyPairAsync = promisify(generateKeyPair);

const OID = {
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** The certificates and keys the emulator's TLS listeners use. */
export interface EmulatorPki {
  /** The CA certificate (PEM): what clients must trust. */
  caPem: string;
  /** The server certificate (PEM), issued by the CA. */
  serverCertPem: string;
  /** The server private key (PKCS#8 PEM). */
  serverKeyPem: string;
}

/** A certificate credential for an Entra app, as `createClientCertificate()` returns it. */
export interface ClientCertificate {
  /** The self-signed certificate (PEM): what the administrator uploads to the app registration. */
  certPem: string;
  /** The RSA private key as PKCS#8 PEM (what MSAL's `clientCertificate.privateKey` takes). */
  privateKeyPem: string;
  /** SHA-256 of the DER certificate, lowercase hex (MSAL `thumbprintSha256`, state `thumbprintSha256`). */
  thumbprintSha256: string;
  /** SHA-1 of the DER certificate, uppercase hex (the deprecated `thumbprint`, shown in the Azure portal). */
  thumbprintSha1: string;
  /** When the certificate expires (ISO 8601). */
  expires: string;
}

interface CertificateSpec {
  subjectCn: string;
  issuerCn: string;
  subjectPublicKey: KeyObject;
  issuerPrivateKey: KeyObject;
  issuerPublicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  /** Extended key usages (OIDs); omitted when empty. */
  extendedKeyUsages: string[];
  dnsNames: string[];
  ipAddresses: string[];
}

function name(commonName: string): Buffer {
  return der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.utf8String(commonName))));
}

function keyIdentifier(publicKey: KeyObject): Buffer {
  return createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
}

const extension = der.extension;

function ipBytes(ip: string): Buffer {
  if (ip.includes(':')) {
    // Only the forms the emulator uses (e.g. "::1"); expands "::" into zero groups.
    const [head, tail] = ip.split('::') as [string, string | undefined];
    const headGroups = head ? head.split(':') : [];
    const tailGroups = tail ? tail.split(':') : [];
    const groups = [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
    return Buffer.from(groups.flatMap((g) => { const n = parseInt(g, 16); return [n >> 8, n & 0xff]; }));
  }
  return Buffer.from(ip.split('.').map(Number));
}

function signatureAlgorithm(key: KeyObject): { algorithm: Buffer; sign(data: Buffer): Buffer } {
  if (key.asymmetricKeyType === 'ec') {
    return { algorithm: der.sequence(der.oid(OID.ecdsaWithSha256)), sign: (data) => sign('sha256', data, key) };
  }
  return { algorithm: der.sequence(der.oid(OID.sha256WithRsa), der.nullValue()), sign: (data) => sign('sha256', data, key) };
}

function buildCertificate(spec: CertificateSpec): string {
  const extensions: Buffer[] = [];
  if (spec.isCa) {
    extensions.push(extension(OID.basicConstraints, true, der.sequence(der.boolean(true))));
    // keyCertSign (bit 5) + cRLSign (bit 6): 0b0000_0110, one unused bit.
    extensions.push(extension(OID.keyUsage, true, der.bitString(Buffer.from([0x06]), 1)));
  } else {
    extensions.push(extension(OID.basicConstraints, true, der.sequence()));
    // digitalSignature (bit 0) + keyEncipherment (bit 2): 0b1010_0000, five unused bits.
    extensions.push(extension(OID.keyUsage, true, der.bitString(Buffer.from([0xa0]), 5)));
  }
  if (spec.extendedKeyUsages.length) {
    extensions.push(extension(OID.extKeyUsage, false, der.sequence(...spec.extendedKeyUsages.map((o) => der.oid(o)))));
  }
  const altNames = [
    ...spec.dnsNames.map((d) => der.implicitPrimitive(2, Buffer.from(d, 'ascii'))),
    ...spec.ipAddresses.map((ip) => der.implicitPrimitive(7, ipBytes(ip))),
  ];
  if (altNames.length) extensions.push(extension(OID.subjectAltName, false, der.sequence(...altNames)));
  extensions.push(extension(OID.subjectKeyId, false, der.octetString(keyIdentifier(spec.subjectPublicKey))));
  extensions.push(extension(OID.authorityKeyId, false, der.sequence(der.implicitPrimitive(0, keyIdentifier(spec.issuerPublicKey)))));

  const signer = signatureAlgorithm(spec.issuerPrivateKey);
  return der.certificatePem({
    issuer: name(spec.issuerCn),
    subject: name(spec.subjectCn),
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    spki: spec.subjectPublicKey.export({ type: 'spki', format: 'der' }),
    extensions,
    algorithm: signer.algorithm,
    sign: (tbs) => signer.sign(tbs),
  });
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** Makes a fresh CA and a server certificate for `localhost`, `127.0.0.1` and `::1`. */
export async function createEmulatorPki(now = new Date()): Promise<EmulatorPki> {
  const [ca, server] = await Promise.all([
    generateKeyPairAsync('ec', { namedCurve: 'P-256' }),
    generateKeyPairAsync('ec', { namedCurve: 'P-256' }),
  ]);
  const notBefore = new Date(now.getTime() - HOUR); // tolerate clients whose clock is a little behind
  const notAfter = new Date(now.getTime() + 365 * DAY);
  const caPem = buildCertificate({
    subjectCn: 'Mailgate Emulator CA', issuerCn: 'Mailgate Emulator CA',
    subjectPublicKey: ca.publicKey, issuerPrivateKey: ca.privateKey, issuerPublicKey: ca.publicKey,
    notBefore, notAfter, isCa: true, extendedKeyUsages: [], dnsNames: [], ipAddresses: [],
  });
  const serverCertPem = buildCertificate({
    subjectCn: 'localhost', issuerCn: 'Mailgate Emulator CA',
    subjectPublicKey: server.publicKey, issuerPrivateKey: ca.privateKey, issuerPublicKey: ca.publicKey,
    notBefore, notAfter, isCa: false, extendedKeyUsages: [OID.serverAuth],
    dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'],
  });
  const serverKeyPem = server.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { caPem, serverCertPem, serverKeyPem };
}

/** The SHA-256 (lowercase hex) and SHA-1 (uppercase hex) thumbprints of a PEM certificate. */
export function certificateThumbprints(pem: string): { sha256: string; sha1: string } {
  const cert = new X509Certificate(pem);
  return {
    sha256: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
    sha1: cert.fingerprint.replace(/:/g, '').toUpperCase(),
  };
}

export interface ClientCertificateOptions {
  /** Subject CN; default "mailgate-test-client". */
  commonName?: string;
  /** Validity start; default one hour ago. */
  notBefore?: Date;
  /** Validity end; default one year from now. Pass a past date to make an expired credential. */
  notAfter?: Date;
  /** RSA modulus length; default 2048. */
  modulusLength?: number;
}

/**
 * Makes a self-signed RSA certificate and its PKCS#8 private key, as an administrator would
 * create one to upload to an app registration ("Certificates & secrets").
 *
 * @example
 * const cert = await createClientCertificate();
 * const state = buildTenantState({ certificates: [cert] });
 * new ConfidentialClientApplication({ auth: { clientId, authority, knownAuthorities, authorityMetadata,
 *   clientCertificate: { thumbprintSha256: cert.thumbprintSha256, privateKey: cert.privateKeyPem } } });
 */
export async function createClientCertificate(options: ClientCertificateOptions = {}): Promise<ClientCertificate> {
  const now = Date.now();
  const notAfter = options.notAfter ?? new Date(now + 365 * DAY);
  const made = await createSelfSignedRsa({
    commonName: options.commonName ?? 'mailgate-test-client',
    notBefore: options.notBefore ?? new Date(now - HOUR),
    notAfter,
    modulusLength: options.modulusLength,
  });
  return {
    certPem: made.certPem,
    privateKeyPem: made.privateKeyPem,
    thumbprintSha256: made.thumbprintSha256,
    thumbprintSha1: made.thumbprintSha1,
    expires: notAfter.toISOString(),
  };
}

