/**
 * Admin changes reaching every instance at once: one LISTEN connection on `mailgate_config`.
 *
 * Why: with several instances, a revoked API key, a changed setting, a new relay client or an
 * admin retry made on one instance must take effect on all of them within a second. Writers
 * (pg-config.ts, pg-outbox.ts requeue) send `pg_notify('mailgate_config', what)` in the same
 * transaction as the change, so the notification arrives only once it is committed. A lost
 * connection is reconnected with backoff and every reconnection counts as "everything may have
 * changed" (a notification sent while we were away is gone); the settings poll (1 s with
 * PostgreSQL) covers the gap in between.
 *
 * Imports: pg, ./pg-db.
 */
import pg from 'pg';
import type { PgOptions } from './pg-db.js';

export const CONFIG_CHANNEL = 'mailgate_config';

/**
 * What changed: `settings`, `apikeys`, `relay-clients`, `retry`, `queued` (an instance committed
 * new messages: the one delivering for their mailbox claims them now, not at its next poll), or
 * `all` after a reconnection.
 */
export type ConfigChange = 'settings' | 'apikeys' | 'relay-clients' | 'retry' | 'queued' | 'all';

export interface ConfigListener {
  stop(): Promise<void>;
}

export function listenForConfigChanges(o: PgOptions, onChange: (what: ConfigChange) => void, onError: (error: unknown) => void = () => undefined): ConfigListener {
  let client: pg.Client | undefined;
  let stopped = false;
  let delay = 250;
  let timer: NodeJS.Timeout | undefined;
  const connect = async () => {
    if (stopped) return;
    const c = new pg.Client({ connectionString: o.url, connectionTimeoutMillis: o.connectTimeoutMs ?? 5000, application_name: 'mailgate-listen', ...(o.schema ? { options: `-c search_path=${o.schema}` } : {}) });
    c.on('error', (error) => {
      onError(error);
      retry(c);
    });
    c.on('end', () => retry(c));
    c.on('notification', (n) => {
      const p = n.payload ?? '';
      const what: ConfigChange = p.startsWith('settings') ? 'settings' : p === 'apikeys' || p === 'relay-clients' || p === 'retry' || p === 'queued' ? p : 'all';
      onChange(what);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CONFIG_CHANNEL}`);
      if (stopped) {
        await c.end().catch(() => undefined);
        return;
      }
      client = c;
      delay = 250;
      onChange('all');
    } catch (error) {
      onError(error);
      retry(c);
    }
  };
  const retry = (c: pg.Client) => {
    if (stopped || timer || (client && client !== c)) return;
    client = undefined;
    c.end().catch(() => undefined);
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
    timer.unref();
    delay = Math.min(delay * 2, 5000);
  };
  void connect();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
