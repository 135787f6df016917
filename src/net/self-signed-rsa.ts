/**
 * A self-signed RSA certificate and its key, as an app registration's certificate credential:
 * X.509 v3, sha256WithRSAEncryption, RSA 2048 bits or more, extended key usage clientAuth.
 * Used by `mailgate cert create` (what an administrator uploads to Entra) and by the emulator's
 * `createClientCertificate` (tests), so there is one copy of the construction.
 *
 * Why in net/: the CLI may not import the emulator, and the emulator imports nothing of the
 * product but Node-only helpers of net/ (scripts/import-rules.mjs); the certificate is built
 * with the shared DER writer (./der.ts) and signed with node:crypto.
 *
 * Imports: node:crypto, ./der.
 */
import { createHash, generateKeyPair, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import * as der from './der.js';

const generateKeyPairAsync = promisify(generateKeyPair);

const OID = {
  commonName: '2.5.4.3',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

export interface SelfSignedRsaOptions {
  /** Subject (and issuer) CN. */
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  /** RSA modulus length; at least 2048 (Entra's minimum). Default 2048. */
  modulusLength?: number;
}

export interface SelfSignedRsa {
  /** The certificate, PEM: what is uploaded to the app registration. */
  certPem: string;
  /** The private key, PKCS#8 PEM. */
  privateKeyPem: string;
  /** SHA-256 of the DER certificate, lower-case hex (MSAL's thumbprintSha256). */
  thumbprintSha256: string;
  /** SHA-1 of the DER certificate, 40 upper-case hex digits: the Thumbprint Entra shows. */
  thumbprintSha1: string;
  notAfter: Date;
}

const extension = der.extension;

function build(o: SelfSignedRsaOptions, publicKey: KeyObject, privateKey: KeyObject): string {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const keyId = createHash('sha1').update(spki).digest();
  const name = der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.utf8String(o.commonName))));
  const extensions = [
    extension(OID.basicConstraints, true, der.sequence()),
    // digitalSignature (bit 0) + keyEncipherment (bit 2): 0b1010_0000, five unused bits.
    extension(OID.keyUsage, true, der.bitString(Buffer.from([0xa0]), 5)),
    extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.clientAuth))),
    extension(OID.subjectKeyId, false, der.octetString(keyId)),
    extension(OID.authorityKeyId, false, der.sequence(der.implicitPrimitive(0, keyId))),
  ];
  const algorithm = der.sequence(der.oid(OID.sha256WithRsa), der.nullValue());
  return der.certificatePem({ issuer: name, subject: name, notBefore: o.notBefore, notAfter: o.notAfter, spki, extensions, algorithm, sign: (tbs) => sign('sha256', tbs, privateKey) });
}

/** Generates an RSA key and its self-signed certificate. */
export async function createSelfSignedRsa(o: SelfSignedRsaOptions): Promise<SelfSignedRsa> {
  const modulusLength = o.modulusLength ?? 2048;
  if (modulusLength < 2048) throw new RangeError('RSA keys must have at least 2048 bits');
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength });
  const certPem = build(o, publicKey, privateKey);
  const x509 = new X509Certificate(certPem);
  return {
    certPem,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    thumbprintSha256: x509.fingerprint256.replace(/:/g, '').toLowerCase(),
    thumbprintSha1: x509.fingerprint.replace(/:/g, '').toUpperCase(),
    notAfter: new Date(x509.validTo),
  };
}
