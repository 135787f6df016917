/**
 * Admin page sessions in the SQLite store (table admin_sessions, migration 0006): the same
 * behaviour as the PostgreSQL store's (the contract suite runs on both), so sessions survive a
 * restart of the one instance.
 *
 * Why a separate file: sessions are neither outbox nor configuration; the statements are few.
 * Writes are bookkeeping (no fsync): losing a session in a crash only means signing in again.
 *
 * Imports: better-sqlite3 types, ../store, ./write-queue.
 */
import type { Database } from 'better-sqlite3';
import type { AdminSessionRecord, AdminSessionStore } from '../store.js';
import type { WriteQueue } from './write-queue.js';

interface Row {
  key_hash: string;
  authenticated: number;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  flash: string | null;
}

function toRecord(r: Row): AdminSessionRecord {
  const s: AdminSessionRecord = { keyHash: r.key_hash, authenticated: r.authenticated === 1, createdAt: r.created_at, lastSeenAt: r.last_seen_at, expiresAt: r.expires_at };
  if (r.flash !== null) s.flash = r.flash;
  return s;
}

export function sqliteAdminSessions(db: Database, queue: WriteQueue): AdminSessionStore {
  const insert = db.prepare('INSERT INTO admin_sessions (key_hash, authenticated, created_at, last_seen_at, expires_at, flash) VALUES (?, ?, ?, ?, ?, ?)');
  const purge = db.prepare('DELETE FROM admin_sessions WHERE expires_at < ?');
  const count = db.prepare('SELECT count(*) AS n FROM admin_sessions');
  const evict = db.prepare('DELETE FROM admin_sessions WHERE key_hash IN (SELECT key_hash FROM admin_sessions ORDER BY authenticated, last_seen_at LIMIT ?)');
  const get = db.prepare('SELECT * FROM admin_sessions WHERE key_hash = ? AND expires_at >= ?');
  const remove = db.prepare('DELETE FROM admin_sessions WHERE key_hash = ?');
  const exists = db.prepare('SELECT 1 FROM admin_sessions WHERE key_hash = ?');
  const bookkeeping = { durable: false };
  return {
    createAdminSession: (s, max) => queue.write(() => {
      insert.run(s.keyHash, s.authenticated ? 1 : 0, s.createdAt, s.lastSeenAt, s.expiresAt, s.flash ?? null);
      purge.run(s.createdAt);
      const n = (count.get() as { n: number }).n;
      if (n > max) evict.run(n - max);
    }, bookkeeping),
    getAdminSession: async (keyHash, now) => {
      const r = get.get(keyHash, now) as Row | undefined;
      return r && toRecord(r);
    },
    updateAdminSession: (keyHash, change) => queue.write(() => {
      const sets: string[] = [];
      const values: unknown[] = [];
      if (change.lastSeenAt !== undefined) (sets.push('last_seen_at = ?'), values.push(change.lastSeenAt));
      if (change.expiresAt !== undefined) (sets.push('expires_at = ?'), values.push(change.expiresAt));
      if (change.flash !== undefined) (sets.push('flash = ?'), values.push(change.flash));
      if (!sets.length) return exists.get(keyHash) !== undefined;
      return db.prepare(`UPDATE admin_sessions SET ${sets.join(', ')} WHERE key_hash = ?`).run(...values, keyHash).changes > 0;
    }, bookkeeping),
    deleteAdminSession: (keyHash) => queue.write(() => void remove.run(keyHash), bookkeeping),
  };
}
