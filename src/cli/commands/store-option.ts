/**
 * Opening the store for one-shot commands (`apikey`, `admin`): the data dir comes from
 * `--data-dir`, MAILGATE_DATA_DIR or ./data, exactly as for `mailgate serve`, so the commands
 * work next to a running service (SQLite WAL, busy timeout).
 */
import { openSqliteStore, type SqliteStore } from '../../service/sqlite/sqlite-store.js';

export function dataDirOf(opts: { dataDir?: string }): string {
  return opts.dataDir ?? process.env.MAILGATE_DATA_DIR ?? './data';
}

export async function withStore<T>(opts: { dataDir?: string }, fn: (store: SqliteStore) => Promise<T>): Promise<T> {
  const store = openSqliteStore(dataDirOf(opts));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function exitWith(command: string, error: unknown): never {
  process.stderr.write(`mailgate ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
