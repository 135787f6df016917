/**
 * `mailgate dev`'s admin-scope API key (named `dev`) and admin password, kept across restarts
 * of the same data dir and printed again on each start.
 *
 * Why: `npm run dev` used to revoke the previous key and set a new password on every start, so
 * a curl command or a browser login from the last run silently stopped working.
 *
 * Security model (dev only): the key and the password must be stored retrievably to be printed
 * again, so they are kept in `<data dir>/dev-credentials.json`, mode 0600, in a data dir that is
 * mode 0700 and already holds the master key file that decrypts the stored secrets: whoever can
 * read this file can read that key, so it adds no new exposure, and the tenant behind them is the
 * local emulator's demo tenant. `mailgate serve` never reads or writes this file (production keys
 * are shown once and stored as hashes only). `--temp` writes nothing. Deleting the file gives a
 * new key and password at the next start. A password changed since (admin page or `mailgate
 * admin set-password`) is kept and not shown; a key revoked since is replaced.
 *
 * Imports: node:fs, node:path, ../service/access/admin-password, ../service/access/api-keys, ../service/outbox/store types.
 */
import { closeSync, fsyncSync, lstatSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_PASSWORD_META, generatePassword, setAdminPassword, verifyPassword } from '../service/access/admin-password.js';
import { authenticateApiKey, createApiKey, revokeApiKey } from '../service/access/api-keys.js';
import type { ConfigStore } from '../service/outbox/store.js';

export const DEV_CREDENTIALS_FILE = 'dev-credentials.json';
const DEV_KEY_NAME = 'dev';

export interface DevCredentials {
  apiKey: string;
  /** The password to print; undefined when it comes from the environment or was changed by the user. */
  adminPassword?: string;
  adminPasswordSource: 'env' | 'dev' | 'user';
  /** Both were the same as at the previous start of this data dir. */
  kept: boolean;
  /** Where they are kept (absent with --temp). */
  file?: string;
}

interface Saved {
  apiKey?: string;
  adminPassword?: string;
  /** The user set their own password since: keep it, never print it. */
  userPassword?: boolean;
}

function readSaved(file: string): Saved {
  try {
    const st = lstatSync(file);
    if (!st.isFile() || st.size > 4096) return {};
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (!v || typeof v !== 'object') return {};
    const o = v as Record<string, unknown>;
    return { apiKey: typeof o.apiKey === 'string' ? o.apiKey : undefined, adminPassword: typeof o.adminPassword === 'string' ? o.adminPassword : undefined, userPassword: o.userPassword === true };
  } catch {
    return {}; // missing or unreadable: new credentials
  }
}

/**
 * Write the file through a temp file in the data dir, created exclusively (`wx`, mode 0600), then
 * renamed into place: `wx` never follows a symlink planted at the temp name, and the rename
 * replaces a symlink at the final name instead of writing through it.
 */
function writeSaved(file: string, saved: Saved): void {
  const tmp = `${file}.${process.pid}.tmp`;
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // A leftover of a crashed start with the same pid, or something planted: remove the entry
    // itself (unlink never follows a symlink) and create the temp file exclusively again.
    unlinkSync(tmp);
    fd = openSync(tmp, 'wx', 0o600);
  }
  try {
    writeSync(fd, `${JSON.stringify(saved)}\n`);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(tmp, file);
}

export async function devCredentials(
  store: ConfigStore,
  o: { dataDir: string; persist: boolean; envPassword?: string; generatedPassword?: string; now: number },
): Promise<DevCredentials> {
  const file = o.persist ? join(o.dataDir, DEV_CREDENTIALS_FILE) : undefined;
  const saved = file ? readSaved(file) : {};
  const audit = { now: o.now, actor: 'mailgate dev' };

  let apiKey = saved.apiKey;
  const found = apiKey ? await authenticateApiKey(store, apiKey) : undefined;
  const keyKept = found?.name === DEV_KEY_NAME && found.scope === 'admin';
  if (!keyKept) {
    await revokeApiKey(store, DEV_KEY_NAME, audit);
    apiKey = (await createApiKey(store, DEV_KEY_NAME, 'admin', audit)).key;
  }

  let adminPassword: string | undefined;
  let source: DevCredentials['adminPasswordSource'] = 'dev';
  let passwordKept = false;
  if (o.envPassword) {
    source = 'env';
    passwordKept = true;
  } else {
    const hash = await store.getMeta(ADMIN_PASSWORD_META);
    if (saved.adminPassword && hash && (await verifyPassword(saved.adminPassword, hash))) {
      adminPassword = saved.adminPassword;
      passwordKept = true;
    } else if ((saved.adminPassword || saved.userPassword) && hash) {
      source = 'user'; // changed since the last start: keep the user's choice
      passwordKept = true;
    } else if (o.generatedPassword) {
      adminPassword = o.generatedPassword; // this start created the data dir's first password
    } else {
      adminPassword = generatePassword();
      await setAdminPassword(store, adminPassword, audit);
    }
  }

  if (file) writeSaved(file, source === 'user' ? { apiKey, userPassword: true } : { apiKey, adminPassword });
  return { apiKey: apiKey!, adminPassword, adminPasswordSource: source, kept: keyKept && passwordKept, file };
}
