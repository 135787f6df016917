/**
 * The admin password for the admin page: set with `mailgate admin set-password` (stored as a
 * scrypt hash) or MAILGATE_ADMIN_PASSWORD (never stored); when neither exists, the first start
 * generates one, stores its hash and returns it once for printing.
 *
 * Why scrypt: unlike API keys, passwords are chosen by people and must be slow to guess
 * offline. Hash format: `scrypt$N$r$p$<salt b64>$<hash b64>`. Checking a password (~40 ms of
 * CPU) runs on libuv's thread pool (async `scrypt`), never on the event loop, so sign-in
 * attempts cannot stall the API's intake.
 *
 * Imports: node:crypto, ../outbox/store.
 */
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { ConfigStore } from '../outbox/store.js';

export const ADMIN_PASSWORD_META = 'admin.passwordHash';
const N = 16384;
const R = 8;
const P = 1;

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

function scryptAsync(password: string, salt: Buffer, length: number, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, length, o, (err, key) => (err ? reject(err) : resolve(key))));
}

/** hashPassword off the event loop (relay client creation, which a web request may trigger). */
export async function hashPasswordAsync(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, 32, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Whether `password` matches the stored hash; hashes off the event loop. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number);
  if (![n, r, p].every((x) => Number.isInteger(x) && x > 0) || n > 1 << 20 || r > 64 || p > 16) return false;
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  if (expected.length < 16) return false;
  const actual = await scryptAsync(password, salt, expected.length, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 });
  return timingSafeEqual(actual, expected);
}

export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

export function checkNewPassword(password: string): string | undefined {
  if (password.length < 12) return 'The admin password must have at least 12 characters.';
  if (/[\r\n]/.test(password)) return 'The admin password must not contain line breaks.';
  return undefined;
}

export interface AdminPassword {
  /** Where the password comes from. */
  readonly source: 'env' | 'stored';
  /** Set only when this start generated the password (print it once). */
  readonly generated?: string;
  verify(password: string): Promise<boolean>;
  /**
   * A value that changes whenever the password changes (`mailgate admin set-password`, or a new
   * MAILGATE_ADMIN_PASSWORD at the next start), the same on every instance: admin sessions are
   * bound to it (admin/session.ts), so a new password signs every session out everywhere. Kept
   * in memory only; the store sees it only inside a hash with the random cookie value.
   */
  sessionTag?(): Promise<string>;
}

const tagOf = (text: string) => createHash('sha256').update('mailgate admin session\0').update(text).digest('base64url');

/** Resolve the admin password at start-up (generating and storing one if there is none). */
export async function resolveAdminPassword(store: ConfigStore, envValue: string | undefined, o: { now: number }): Promise<AdminPassword> {
  if (envValue) {
    const hash = hashPassword(envValue);
    // The variable itself (its hash is salted anew at every start and on every instance).
    const tag = tagOf(`env\0${envValue}`);
    return { source: 'env', verify: (pw) => verifyPassword(pw, hash), sessionTag: async () => tag };
  }
  let generated: string | undefined;
  let hash = await store.getMeta(ADMIN_PASSWORD_META);
  if (hash === undefined) {
    const candidate = generatePassword();
    const candidateHash = hashPassword(candidate);
    hash = await store.setMetaIfAbsent(ADMIN_PASSWORD_META, candidateHash);
    if (hash === candidateHash) {
      generated = candidate;
      await store.appendAudit({ at: o.now, actor: 'mailgate', action: 'admin.password.generate', detail: {} });
    }
  }
  return {
    source: 'stored',
    generated,
    // Read the hash on each check so `mailgate admin set-password` takes effect at once.
    verify: async (pw) => {
      const current = await store.getMeta(ADMIN_PASSWORD_META);
      return current !== undefined && (await verifyPassword(pw, current));
    },
    // The stored hash (salted anew by every set-password): read each time, like verify.
    sessionTag: async () => tagOf(`stored\0${(await store.getMeta(ADMIN_PASSWORD_META)) ?? ''}`),
  };
}

export async function setAdminPassword(store: ConfigStore, password: string, o: { now: number; actor: string }): Promise<void> {
  const problem = checkNewPassword(password);
  if (problem) throw new Error(problem);
  await store.setMeta(ADMIN_PASSWORD_META, hashPassword(password));
  await store.appendAudit({ at: o.now, actor: o.actor, action: 'admin.password.set', detail: {} });
}
