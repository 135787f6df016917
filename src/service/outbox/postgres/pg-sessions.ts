/**
 * Admin page sessions in the PostgreSQL store (table admin_sessions, migration 0004), the same
 * behaviour as sqlite-sessions.ts (the contract suite runs on both).
 *
 * Why: with several instances behind a load balancer, a session signed in on one instance must
 * work on the others, and signing out must end it on all of them, without sticky sessions.
 * Writes are bookkeeping commits (synchronous_commit off): committed rows are visible to every
 * instance at once; only a database crash within ~600 ms could lose one (sign in again).
 *
 * Imports: ../store, ./pg-db.
 */
import type { AdminSessionRecord, AdminSessionStore } from '../store.js';
import type { PgDb } from './pg-db.js';

interface Row {
  key_hash: string;
  authenticated: boolean;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  flash: string | null;
}

const BOOKKEEPING = { durable: false };

function toRecord(r: Row): AdminSessionRecord {
  const s: AdminSessionRecord = { keyHash: r.key_hash, authenticated: r.authenticated, createdAt: Number(r.created_at), lastSeenAt: Number(r.last_seen_at), expiresAt: Number(r.expires_at) };
  if (r.flash !== null) s.flash = r.flash;
  return s;
}

export function pgAdminSessions(db: PgDb): AdminSessionStore {
  return {
    async createAdminSession(s, max) {
      await db.tx(async (c) => {
        await c.query('INSERT INTO admin_sessions (key_hash, authenticated, created_at, last_seen_at, expires_at, flash) VALUES ($1, $2, $3, $4, $5, $6)',
          [s.keyHash, s.authenticated, s.createdAt, s.lastSeenAt, s.expiresAt, s.flash ?? null]);
        await c.query('DELETE FROM admin_sessions WHERE expires_at < $1', [s.createdAt]);
        const n = Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM admin_sessions')).rows[0].n);
        if (n > max) {
          await c.query('DELETE FROM admin_sessions WHERE key_hash IN (SELECT key_hash FROM admin_sessions ORDER BY authenticated, last_seen_at LIMIT $1)', [n - max]);
        }
      }, BOOKKEEPING);
    },
    async getAdminSession(keyHash, now) {
      const r = (await db.query<Row>('SELECT * FROM admin_sessions WHERE key_hash = $1 AND expires_at >= $2', [keyHash, now])).rows[0];
      return r && toRecord(r);
    },
    async updateAdminSession(keyHash, change) {
      const sets: string[] = [];
      const values: unknown[] = [keyHash];
      const set = (column: string, v: unknown) => (values.push(v), sets.push(`${column} = $${values.length}`));
      if (change.lastSeenAt !== undefined) set('last_seen_at', change.lastSeenAt);
      if (change.expiresAt !== undefined) set('expires_at', change.expiresAt);
      if (change.flash !== undefined) set('flash', change.flash);
      if (!sets.length) return (await db.query('SELECT 1 FROM admin_sessions WHERE key_hash = $1', [keyHash])).rowCount > 0;
      return (await db.query(`UPDATE admin_sessions SET ${sets.join(', ')} WHERE key_hash = $1`, values, BOOKKEEPING)).rowCount > 0;
    },
    async deleteAdminSession(keyHash) {
      await db.query('DELETE FROM admin_sessions WHERE key_hash = $1', [keyHash], BOOKKEEPING);
    },
  };
}
