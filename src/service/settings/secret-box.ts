/**
 * Encryption at rest for stored secrets (client secret, certificate PEM, SMTP password):
 * AES-256-GCM under a master key.
 *
 * Why: no secret may appear in plaintext anywhere in the data directory. The master key comes
 * from MAILGATE_MASTER_KEY (32 bytes as 64 hex characters or base64), or, when that is unset,
 * from a key file `master.key` created in the data dir with mode 0600 and a warning (the key
 * then sits next to the data it protects; fine for development, not for production).
 *
 * Ciphertext format: `v1:<base64 iv(12) | tag(16) | ciphertext>`, with the setting key as
 * additional authenticated data, so a value cannot be moved to another key unnoticed.
 * A key check (HMAC of a constant) is stored in the store's metadata; a different master key
 * is then reported at start-up instead of failing later on the first decryption.
 *
 * Imports: node:crypto, node:fs.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const MASTER_KEY_FILE = 'master.key';
const PREFIX = 'v1:';

export class MasterKeyError extends Error {
  override readonly name = 'MasterKeyError';
}

export interface MasterKey {
  readonly key: Buffer;
  readonly source: 'env' | 'file';
  /** Set when the key file was created now. */
  readonly created: boolean;
  /** Where the key file is, for source 'file'. */
  readonly path?: string;
  /** Warnings to show at start-up (key file in use, loose permissions). */
  readonly warnings: string[];
}

function decodeKey(text: string): Buffer | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) {
    const b = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
    if (b.length === 32) return b;
  }
  return undefined;
}

/** Load the master key from the environment value or the data dir's key file (created if missing). */
export function loadMasterKey(envValue: string | undefined, dataDir: string): MasterKey {
  if (envValue !== undefined && envValue !== '') {
    const key = decodeKey(envValue);
    if (!key) {
      throw new MasterKeyError('MAILGATE_MASTER_KEY must be 32 bytes written as 64 hexadecimal characters or as base64 (generate one with: openssl rand -base64 32).');
    }
    return { key, source: 'env', created: false, warnings: [] };
  }
  const path = join(dataDir, MASTER_KEY_FILE);
  const warnings = [`MAILGATE_MASTER_KEY is not set: stored secrets are encrypted with the key in ${path}. Anyone who can read the data directory can decrypt them; set MAILGATE_MASTER_KEY (openssl rand -base64 32) in production.`];
  let created = false;
  try {
    writeFileSync(path, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new MasterKeyError(`The key file ${path} cannot be created: ${(error as Error).message}`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new MasterKeyError(`The key file ${path} cannot be read: ${(error as Error).message}`);
  }
  const key = decodeKey(text);
  if (!key) throw new MasterKeyError(`The key file ${path} is damaged (it must hold 32 bytes in base64). Restore it from a backup; without it the stored secrets cannot be decrypted.`);
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) warnings.push(`The key file ${path} is readable by other users (mode ${mode.toString(8)}); run: chmod 600 ${path}`);
  return { key, source: 'file', created, path, warnings };
}

/** A short fingerprint stored with the data to recognise the right key. */
export function keyCheck(key: Buffer): string {
  return createHmac('sha256', key).update('mailgate master key check v1').digest('hex').slice(0, 32);
}

export function keyMatches(key: Buffer, check: string): boolean {
  const a = Buffer.from(keyCheck(key));
  const b = Buffer.from(check);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function isEncrypted(value: string): boolean {
  return value.startsWith(PREFIX);
}

export function encryptValue(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
}

export function decryptValue(key: Buffer, value: string, aad: string): string {
  if (!isEncrypted(value)) throw new MasterKeyError(`the stored value of ${aad} is not encrypted`);
  const raw = Buffer.from(value.slice(PREFIX.length), 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(raw.subarray(12, 28));
  try {
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    throw new MasterKeyError(`The stored value of ${aad} cannot be decrypted: the master key is not the one it was encrypted with, or the value is damaged.`);
  }
}
