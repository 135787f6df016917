/**
 * Opening the store for one-shot commands (`apikey`, `admin`, `backup`): the data dir comes from
 * `--data-dir`, MAILGATE_DATA_DIR, or the rule of ../../service/data-dir.ts (./data, or
 * `mailgate dev`'s ./data/dev when only that one has a database), so the commands work next to
 * a running service (SQLite WAL, busy timeout) and agree with `mailgate dev` by default.
 * With MAILGATE_DATABASE_URL set they use that PostgreSQL database instead, like `serve`.
 */
import { resolve } from 'node:path';
import { DEFAULT_DATA_DIR, resolveDataDir } from '../../service/data-dir.js';
import { openStore, type AnyStore } from '../../service/outbox/open-store.js';

/** Help text of every `--data-dir` option of the one-shot commands. */
export const DATA_DIR_HELP = `data directory (default MAILGATE_DATA_DIR, else ${DEFAULT_DATA_DIR}, or ./data/dev when only mailgate dev has a database)`;

/** The data dir to use; says on stderr when it is `mailgate dev`'s. */
export function dataDirOf(opts: { dataDir?: string }): string {
  const r = resolveDataDir(opts.dataDir);
  if (r.source === 'dev') process.stderr.write(`mailgate: using the data dir of mailgate dev, ${resolve(r.dir)} (./data has no database; --data-dir or MAILGATE_DATA_DIR chooses another)\n`);
  return r.dir;
}

export async function withStore<T>(opts: { dataDir?: string }, fn: (store: AnyStore, dataDir: string) => Promise<T>): Promise<T> {
  const databaseUrl = process.env.MAILGATE_DATABASE_URL?.trim() || undefined;
  const dir = databaseUrl ? resolve(opts.dataDir ?? process.env.MAILGATE_DATA_DIR ?? DEFAULT_DATA_DIR) : dataDirOf(opts);
  const store = await openStore({ dataDir: dir, databaseUrl });
  try {
    return await fn(store, resolve(dir));
  } finally {
    await store.close();
  }
}

export function exitWith(command: string, error: unknown): never {
  process.stderr.write(`mailgate ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
