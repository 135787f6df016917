/**
 * Admin sessions: kept in the store (table admin_sessions) keyed by the SHA-256 of an
 * unguessable cookie value, with idle and absolute expiry and a one-shot flash message; the
 * session's CSRF token is derived from the cookie value (HMAC), so the store holds neither.
 *
 * Why server-side: the cookie carries only a random id (HttpOnly, SameSite=Strict, Secure over
 * TLS), so signing out really ends the session, and nothing about the administrator is readable
 * from the cookie. Why in the store (issue 18): several instances behind a load balancer share
 * one PostgreSQL; a session signed in on one works on every other, and signing out or expiry
 * ends it everywhere, without sticky sessions. On SQLite the session survives a restart.
 *
 * Anonymous sessions exist only to carry the CSRF token of the login form; they expire
 * quickly, and the store is capped so that unauthenticated requests cannot grow it without
 * bound (expired sessions are purged, then the least recently used anonymous sessions are
 * dropped first, so such requests cannot push out the administrator's session either).
 *
 * Sessions are bound to the admin password (`tag`, AdminPassword.sessionTag): setting a new one
 * (`mailgate admin set-password`, a new MAILGATE_ADMIN_PASSWORD) ends every session, as a
 * restart did while sessions lived in memory.
 *
 * Activity is written at most every `touchMs` (a tenth of the idle timeout, at most a minute),
 * not on every page. A flash set while handling a request is written by `save()` (the guard
 * calls it after every admin request).
 *
 * Imports: node:crypto, hono (cookies), the store's AdminSessionStore type.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AdminSessionRecord, AdminSessionStore } from '../service/outbox/store.js';

export const SESSION_COOKIE = 'mailgate_admin';

export interface Flash {
  kind: 'success' | 'error' | 'info';
  text: string;
}

export interface Session {
  /** The cookie value; the store keeps only its hash. */
  readonly id: string;
  readonly csrfToken: string;
  readonly authenticated: boolean;
  readonly createdAt: number;
  lastSeenAt: number;
  /** Shown once on the next page (after a redirect); written by SessionStore.save. */
  flash?: Flash;
}

export interface SessionStoreOptions {
  now?: () => number;
  /** An authenticated session ends after this much inactivity (default 2 h). */
  idleMs?: number;
  /** An authenticated session ends this long after sign-in, active or not (default 12 h). */
  absoluteMs?: number;
  /** An anonymous (login-form) session ends after this long (default 30 min). */
  anonymousMs?: number;
  /** At most this many sessions are kept (default 5000); anonymous ones are dropped first. */
  maxSessions?: number;
  /**
   * A value that changes when the admin password changes (AdminPassword.sessionTag): mixed into
   * the stored key, so a new password ends every session, on every instance and across restarts
   * (before the store kept sessions, a restart did that).
   */
  tag?: () => Promise<string> | string;
}

const token = () => randomBytes(32).toString('base64url');
const keyOf = (id: string, tag = '') => createHash('sha256').update(tag ? `${tag}\0${id}` : id).digest('base64url');
const csrfOf = (id: string) => createHmac('sha256', id).update('mailgate admin csrf').digest('base64url');

function parseFlash(json: string | undefined): Flash | undefined {
  if (!json) return undefined;
  try {
    const f = JSON.parse(json) as Flash;
    return (f.kind === 'success' || f.kind === 'error' || f.kind === 'info') && typeof f.text === 'string' ? { kind: f.kind, text: f.text } : undefined;
  } catch {
    return undefined;
  }
}

export class SessionStore {
  readonly #store: AdminSessionStore;
  readonly #now: () => number;
  readonly #idleMs: number;
  readonly #absoluteMs: number;
  readonly #anonymousMs: number;
  readonly #max: number;
  readonly #touchMs: number;
  /** The flash each loaded session had in the store (JSON), to write only changes. */
  readonly #storedFlash = new WeakMap<Session, string | undefined>();
  readonly #destroyed = new WeakSet<Session>();
  /** The stored key of each session handled (its cookie value's hash, bound to the password tag). */
  readonly #keys = new WeakMap<Session, string>();
  readonly #tag: () => Promise<string> | string;

  constructor(store: AdminSessionStore, o: SessionStoreOptions = {}) {
    this.#store = store;
    this.#now = o.now ?? Date.now;
    this.#idleMs = o.idleMs ?? 2 * 3600_000;
    this.#absoluteMs = o.absoluteMs ?? 12 * 3600_000;
    this.#anonymousMs = o.anonymousMs ?? 30 * 60_000;
    this.#max = o.maxSessions ?? 5000;
    this.#touchMs = Math.min(60_000, Math.floor(this.#idleMs / 10));
    this.#tag = o.tag ?? (() => '');
  }

  async #keyOf(id: string): Promise<string> {
    return keyOf(id, await this.#tag());
  }

  #expiresAt(s: { authenticated: boolean; createdAt: number; lastSeenAt: number }): number {
    return s.authenticated ? Math.min(s.lastSeenAt + this.#idleMs, s.createdAt + this.#absoluteMs) : s.createdAt + this.#anonymousMs;
  }

  async create(authenticated: boolean): Promise<Session> {
    const now = this.#now();
    const id = token();
    const session: Session = { id, csrfToken: csrfOf(id), authenticated, createdAt: now, lastSeenAt: now };
    const key = await this.#keyOf(id);
    this.#keys.set(session, key);
    await this.#store.createAdminSession({ keyHash: key, authenticated, createdAt: now, lastSeenAt: now, expiresAt: this.#expiresAt(session) }, this.#max);
    this.#storedFlash.set(session, undefined);
    return session;
  }

  /** The live session for a cookie value (its activity is recorded), or undefined. */
  async get(id: string | undefined): Promise<Session | undefined> {
    if (!id || id.length > 100) return undefined;
    const now = this.#now();
    const row: AdminSessionRecord | undefined = await this.#store.getAdminSession(await this.#keyOf(id), now);
    if (!row) return undefined;
    const session: Session = { id, csrfToken: csrfOf(id), authenticated: row.authenticated, createdAt: row.createdAt, lastSeenAt: row.lastSeenAt };
    this.#keys.set(session, row.keyHash);
    const flash = parseFlash(row.flash);
    if (flash) session.flash = flash;
    this.#storedFlash.set(session, row.flash);
    if (now - row.lastSeenAt >= this.#touchMs) {
      session.lastSeenAt = now;
      await this.#store.updateAdminSession(row.keyHash, { lastSeenAt: now, expiresAt: this.#expiresAt(session) });
    }
    return session;
  }

  /** Writes the session's flash if it changed while handling the request. */
  async save(session: Session | undefined): Promise<void> {
    if (!session || this.#destroyed.has(session) || !this.#storedFlash.has(session)) return;
    const json = session.flash ? JSON.stringify({ kind: session.flash.kind, text: session.flash.text }) : undefined;
    if (json === this.#storedFlash.get(session)) return;
    await this.#store.updateAdminSession(this.#keys.get(session) ?? (await this.#keyOf(session.id)), { flash: json ?? null });
    this.#storedFlash.set(session, json);
  }

  async destroy(session: Session | string | undefined): Promise<void> {
    if (!session) return;
    if (typeof session !== 'string') this.#destroyed.add(session);
    const key = typeof session === 'string' ? await this.#keyOf(session) : (this.#keys.get(session) ?? (await this.#keyOf(session.id)));
    await this.#store.deleteAdminSession(key);
  }

  /** Replaces a session by a new authenticated one (new id and CSRF token: no session fixation). */
  async signIn(previous: Session | undefined): Promise<Session> {
    if (previous) await this.destroy(previous);
    return this.create(true);
  }
}

/** Whether the submitted token is the session's CSRF token (constant-time comparison). */
export function csrfMatches(session: Session | undefined, submitted: unknown): boolean {
  if (!session || typeof submitted !== 'string' || submitted.length === 0 || submitted.length > 200) return false;
  const a = createHash('sha256').update(session.csrfToken).digest();
  const b = createHash('sha256').update(submitted).digest();
  return timingSafeEqual(a, b);
}

/** Whether the request reached us over TLS (directly, or through a proxy that says so). */
export function isSecureRequest(c: Context): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true;
  const forwarded = c.req.header('x-forwarded-proto');
  return forwarded?.split(',')[0]?.trim().toLowerCase() === 'https';
}

export function readSessionCookie(c: Context): string | undefined {
  return getCookie(c, SESSION_COOKIE);
}

export function writeSessionCookie(c: Context, session: Session, path: string): void {
  setCookie(c, SESSION_COOKIE, session.id, { path, httpOnly: true, sameSite: 'Strict', secure: isSecureRequest(c) });
}

export function clearSessionCookie(c: Context, path: string): void {
  deleteCookie(c, SESSION_COOKIE, { path, httpOnly: true, sameSite: 'Strict', secure: isSecureRequest(c) });
}
