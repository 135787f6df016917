/**
 * The settings a service's data dir holds, read the way the service reads them (issue 16
 * leftover: shared by `mailgate doctor --data-dir` and `mailgate setup-script --data-dir`).
 *
 * Why it exists: both commands must see exactly the Email Settings and stored senders the
 * service would use (stored values, secrets decrypted, environment values on top), without
 * ever creating, migrating or writing a data dir: the database (the data dir's SQLite file, or
 * MAILGATE_DATABASE_URL's PostgreSQL, its schema checked, never migrated) is opened read-only, and a
 * missing directory, database or key is an argument error naming it.
 *
 * Imports: src/core, src/service (read-only store, secret box, settings reading).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MailgateError, type Problem } from '../core/errors.js';
import { scrubText } from '../core/secret.js';
import type { RawSettings } from '../core/settings.js';
import { DATABASE_FILE, DataDirError } from '../service/outbox/sqlite/open.js';
import { openReadOnlyStore, type ReadOnlyStore } from '../service/outbox/sqlite/read-only.js';
import { openPgStore } from '../service/outbox/postgres/pg-store.js';
import { databasePassword } from '../service/outbox/open-store.js';
import { loadMasterKey, MASTER_KEY_FILE, MasterKeyError } from '../service/settings/secret-box.js';
import { readEffectiveSettings } from '../service/settings/settings-store.js';

const argumentError = (problems: Problem[]): MailgateError =>
  new MailgateError({ code: 'ARGUMENT_INVALID', phase: 'arguments', message: `Invalid arguments: ${problems.map((p) => p.message).join('; ')}`, problems });

/** What a data dir holds: the effective raw settings, the settings rows and the master key. */
export interface StoredSettings { raw: RawSettings; rows: Record<string, string>; key: Buffer }

/**
 * The settings a service with this data dir would use: stored values (secrets decrypted), then
 * the environment's values on top, as SettingsService does for the service itself.
 */
export async function storedSettings(dataDir: string, env: Record<string, string | undefined>): Promise<StoredSettings> {
  const pg = databaseUrlOf(env) !== undefined;
  // With PostgreSQL the data dir only holds the master key file (when MAILGATE_MASTER_KEY is not set).
  if (!(pg && env.MAILGATE_MASTER_KEY) && (!existsSync(dataDir) || !statSync(dataDir).isDirectory())) throw argumentError([{ key: 'dataDir', message: `--data-dir ${dataDir}: no such directory` }]);
  if (!pg && !existsSync(join(dataDir, DATABASE_FILE))) throw argumentError([{ key: 'dataDir', message: `--data-dir ${dataDir}: no Mailgate database (${DATABASE_FILE}) in it; is it the service's MAILGATE_DATA_DIR? (with PostgreSQL, set MAILGATE_DATABASE_URL)` }]);
  if (!env.MAILGATE_MASTER_KEY && !existsSync(join(dataDir, MASTER_KEY_FILE))) {
    throw argumentError([{ key: 'dataDir', message: `--data-dir ${dataDir}: no ${MASTER_KEY_FILE} in it and MAILGATE_MASTER_KEY is not set, so the stored secrets cannot be decrypted (set MAILGATE_MASTER_KEY to the service's key)` }]);
  }
  let key: Buffer;
  try {
    key = loadMasterKey(env.MAILGATE_MASTER_KEY, dataDir).key;
  } catch (err) {
    if (err instanceof MasterKeyError) throw argumentError([{ key: 'masterKey', message: err.message }]);
    throw err;
  }
  const store = await openStoreForReading(dataDir, env);
  try {
    return { raw: await readEffectiveSettings(store, key, env), rows: await store.getSettings(), key };
  } catch (err) {
    if (err instanceof MasterKeyError) throw argumentError([{ key: 'masterKey', message: err.message }]);
    throw err;
  } finally {
    await store.close();
  }
}

/** MAILGATE_DATABASE_URL when set: the service's store is that PostgreSQL database, not the data dir's SQLite file. */
export function databaseUrlOf(env: Record<string, string | undefined>): string | undefined {
  return env.MAILGATE_DATABASE_URL?.trim() || undefined;
}

/** What the read-only commands read from a store (either kind). */
export type StoreForReading = Pick<ReadOnlyStore, 'getSettings' | 'getMeta' | 'settingsVersion' | 'listRelayClients'> & { close(): unknown };

/**
 * The service's configuration, read only (the doctor never migrates, probes or writes it): the
 * PostgreSQL database of MAILGATE_DATABASE_URL (its schema checked, never migrated: a pending
 * migration is an argument error), else the data dir's database opened read-only.
 */
export async function openStoreForReading(dataDir: string, env: Record<string, string | undefined>): Promise<StoreForReading> {
  const url = databaseUrlOf(env);
  if (url) {
    try {
      return await openPgStore({ url, migrate: 'check', maxConnections: 2 });
    } catch (err) {
      throw argumentError([{ key: 'databaseUrl', message: `MAILGATE_DATABASE_URL: ${scrubText((err as Error).message, [databasePassword(url)])}` }]);
    }
  }
  try {
    return openReadOnlyStore(dataDir);
  } catch (err) {
    if (err instanceof DataDirError) throw argumentError([{ key: 'dataDir', message: `--data-dir ${dataDir}: ${err.message}` }]);
    throw err;
  }
}
