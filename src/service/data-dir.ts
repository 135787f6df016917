/**
 * Which data directory a command uses when none is named.
 *
 * Why: `mailgate serve` uses ./data and `mailgate dev` uses ./data/dev (so the emulator's demo
 * settings never end up in the data dir a real `serve` starts on). The one-shot commands
 * (`apikey`, `admin set-password`, `backup`, `doctor --data-dir`) used to default to ./data
 * only, so a newcomer running `npm run dev` then `mailgate apikey create` made a key the dev
 * server did not know. They now follow one rule, which agrees with whichever server exists:
 *
 *   --data-dir, else MAILGATE_DATA_DIR, else ./data if it holds a database, else ./data/dev if
 *   it holds one (the dev server's), else ./data.
 *
 * A command that picks ./data/dev says so on stderr. `serve` never falls back to ./data/dev.
 *
 * Imports: node:fs, node:path, ./outbox/sqlite/open (the database file name).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DATABASE_FILE } from './outbox/sqlite/open.js';

export const DEFAULT_DATA_DIR = './data';
export const DEV_DATA_DIR = './data/dev';

export interface ResolvedDataDir {
  dir: string;
  /** Where it came from; `dev` means the fallback to `mailgate dev`'s data dir. */
  source: 'option' | 'env' | 'default' | 'dev';
}

export function resolveDataDir(option: string | undefined, env: Record<string, string | undefined> = process.env): ResolvedDataDir {
  if (option) return { dir: option, source: 'option' };
  if (env.MAILGATE_DATA_DIR) return { dir: env.MAILGATE_DATA_DIR, source: 'env' };
  const hasDb = (dir: string) => existsSync(join(dir, DATABASE_FILE));
  if (!hasDb(DEFAULT_DATA_DIR) && hasDb(DEV_DATA_DIR)) return { dir: DEV_DATA_DIR, source: 'dev' };
  return { dir: DEFAULT_DATA_DIR, source: 'default' };
}
