/** A self-signed TLS certificate for the sink and the token endpoint (SAN localhost, 127.0.0.1). */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertFiles {
  certPath: string;
  keyPath: string;
  cert: string;
  key: string;
}

export function ensureCertificate(dir: string): CertFiles {
  mkdirSync(dir, { recursive: true });
  const certPath = join(dir, 'sink.crt');
  const keyPath = join(dir, 'sink.key');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyPath, '-out', certPath],
      { stdio: 'ignore' },
    );
  }
  return { certPath, keyPath, cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}
