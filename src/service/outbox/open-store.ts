/**
 * Choosing and opening the store: PostgreSQL when MAILGATE_DATABASE_URL is set, SQLite in the
 * data directory otherwise.
 *
 * Why one place: `mailgate serve`, `dev` and the one-shot commands (apikey, admin-password,
 * relay-client, migrate) must agree on where the data is, or a key created by the CLI would land
 * in a database the service never reads.
 *
 * Imports: ./sqlite/sqlite-store, ./postgres/pg-store, ./store.
 */
import { openSqliteStore, type SqliteStore } from './sqlite/sqlite-store.js';
import { openPgStore, type PgStore } from './postgres/pg-store.js';
import type { Store } from './store.js';

/** Either store, with the commit counters the metrics read. */
export type AnyStore = (SqliteStore & { readonly kind?: 'sqlite' }) | PgStore;

export interface OpenStoreOptions {
  dataDir: string;
  databaseUrl?: string;
  /** PostgreSQL: 'auto' applies pending migrations at start; 'check' refuses to start with any pending. */
  migrate?: 'auto' | 'check';
  onIdleError?: (error: Error) => void;
}

export async function openStore(o: OpenStoreOptions): Promise<AnyStore> {
  if (o.databaseUrl) return openPgStore({ url: o.databaseUrl, migrate: o.migrate ?? 'auto', ...(o.onIdleError ? { onIdleError: o.onIdleError } : {}) });
  return openSqliteStore(o.dataDir);
}

export function isPgStore(store: Store): store is PgStore {
  return (store as Partial<PgStore>).kind === 'postgres';
}

/**
 * The password of a database URL (to scrub from logs), if any: in the user info, or as the
 * `password` query parameter, which node-postgres (pg-connection-string) takes as the password.
 */
export function databasePassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    const p = u.searchParams.get('password') || decodeURIComponent(u.password);
    return p || undefined;
  } catch {
    return undefined;
  }
}
