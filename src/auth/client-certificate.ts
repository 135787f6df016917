/**
 * Load a client certificate credential (certificate + private key in one PEM) for the
 * certificate flavour of the client-credentials grant (docs/m365.md §10.3).
 *
 * Returns what MSAL needs: the SHA-256 thumbprint, the private key as PKCS#8 PEM and the
 * certificate PEM (sent as x5c). Problems become MailgateError SETTINGS_INVALID naming the setting.
 * A certificate file is read through config/bounded-file.ts (a regular file of at most 64 KB,
 * never a FIFO or a device): `readClientCertificate` off the event loop (saving settings, the
 * doctor), `loadClientCertificate` synchronously for the synchronous mailer construction.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { BoundedFileError, readBoundedFile, readBoundedFileSync } from '../config/bounded-file.js';
import { MailgateError } from '../core/errors.js';
import type { Secret } from '../core/secret.js';

export interface ClientCertificate {
  thumbprintSha256: string;
  /** SHA-1 of the DER certificate, 40 upper-case hex digits: the Thumbprint Entra shows in Certificates & secrets. */
  thumbprintSha1: string;
  privateKeyPem: string;
  certificatePem: string;
  notAfter: Date;
}

function invalid(key: string, env: string, message: string, cause?: unknown): MailgateError {
  return new MailgateError({
    code: 'SETTINGS_INVALID',
    phase: 'settings',
    message,
    problems: [{ key, env, label: 'Client certificate', message }],
    cause,
  });
}

function parseClientCertificate(pem: string, source = { key: 'clientCertificatePem', env: 'MAILGATE_CLIENT_CERTIFICATE_PEM' }): ClientCertificate {
  const certMatch = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  const keyMatch = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.exec(pem);
  if (!certMatch) throw invalid(source.key, source.env, 'Client certificate: the PEM holds no CERTIFICATE block');
  if (!keyMatch) throw invalid(source.key, source.env, 'Client certificate: the PEM holds no PRIVATE KEY block (it must hold the certificate and its private key)');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certMatch[0]);
  } catch (e) {
    throw invalid(source.key, source.env, 'Client certificate: the CERTIFICATE block cannot be parsed', e);
  }
  let privateKeyPem: string;
  try {
    const key = createPrivateKey(keyMatch[0]);
    if (!cert.checkPrivateKey(key)) throw new Error('mismatch');
    privateKeyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch (e) {
    throw invalid(source.key, source.env, 'Client certificate: the private key cannot be read or does not belong to the certificate (encrypted keys are not supported)', e);
  }
  return {
    thumbprintSha256: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
    thumbprintSha1: cert.fingerprint.replace(/:/g, '').toUpperCase(),
    privateKeyPem,
    certificatePem: certMatch[0],
    notAfter: new Date(cert.validTo),
  };
}

const PATH_SOURCE = { key: 'clientCertificatePath', env: 'MAILGATE_CLIENT_CERTIFICATE_PATH' };

function unreadableFile(path: string, e: unknown): MailgateError {
  const reason = e instanceof BoundedFileError ? e.message : `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
  return invalid(PATH_SOURCE.key, PATH_SOURCE.env, `Client certificate: ${reason}`, e);
}

/** Synchronous: for the synchronous mailer construction only (bounded, never blocks on a FIFO or a device). */
export function loadClientCertificate(opts: { path?: string; pem?: Secret }): ClientCertificate {
  if (opts.pem) return parseClientCertificate(opts.pem.reveal());
  if (!opts.path) throw invalid(PATH_SOURCE.key, PATH_SOURCE.env, 'Client certificate: no certificate configured');
  let text: string;
  try {
    text = readBoundedFileSync(opts.path).toString('utf8');
  } catch (e) {
    throw unreadableFile(opts.path, e);
  }
  return parseClientCertificate(text, PATH_SOURCE);
}

/** The same, reading a certificate file without blocking the event loop. */
export async function readClientCertificate(opts: { path?: string; pem?: Secret }): Promise<ClientCertificate> {
  if (opts.pem || !opts.path) return loadClientCertificate(opts);
  let text: string;
  try {
    text = (await readBoundedFile(opts.path)).toString('utf8');
  } catch (e) {
    throw unreadableFile(opts.path, e);
  }
  return parseClientCertificate(text, PATH_SOURCE);
}
