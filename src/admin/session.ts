/**
 * Admin sessions: a server-side store (in memory) keyed by an unguessable cookie value, with
 * the session's CSRF token, idle and absolute expiry, and a one-shot flash message.
 *
 * Why server-side: the cookie carries only a random id (HttpOnly, SameSite=Strict, Secure over
 * TLS), so signing out or a restart really ends the session, and nothing about the
 * administrator is readable from the cookie. Why in memory: there is one administrator and one
 * process serving the page; a restart signs the administrator out, which is acceptable (the
 * session is not shared between replicas — see the report of issue 6).
 *
 * Anonymous sessions exist only to carry the CSRF token of the login form; they expire
 * quickly, and the store is capped so that unauthenticated requests cannot grow it without
 * bound (the least recently used anonymous sessions are dropped first, so such requests cannot
 * push out the administrator's session either).
 *
 * Imports: node:crypto, hono (cookies).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';

export const SESSION_COOKIE = 'mailgate_admin';

export interface Flash {
  kind: 'success' | 'error' | 'info';
  text: string;
}

export interface Session {
  /** The cookie value; the store keys sessions by its hash. */
  readonly id: string;
  readonly csrfToken: string;
  readonly authenticated: boolean;
  readonly createdAt: number;
  lastSeenAt: number;
  /** Shown once on the next page (after a redirect). */
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
}

const token = () => randomBytes(32).toString('base64url');
const keyOf = (id: string) => createHash('sha256').update(id).digest('base64url');

export class SessionStore {
  readonly #sessions = new Map<string, Session>();
  readonly #now: () => number;
  readonly #idleMs: number;
  readonly #absoluteMs: number;
  readonly #anonymousMs: number;
  readonly #max: number;

  constructor(o: SessionStoreOptions = {}) {
    this.#now = o.now ?? Date.now;
    this.#idleMs = o.idleMs ?? 2 * 3600_000;
    this.#absoluteMs = o.absoluteMs ?? 12 * 3600_000;
    this.#anonymousMs = o.anonymousMs ?? 30 * 60_000;
    this.#max = o.maxSessions ?? 5000;
  }

  get size(): number {
    return this.#sessions.size;
  }

  create(authenticated: boolean): Session {
    const now = this.#now();
    const session: Session = { id: token(), csrfToken: token(), authenticated, createdAt: now, lastSeenAt: now };
    this.#sessions.set(keyOf(session.id), session);
    while (this.#sessions.size > this.#max) this.#evictOne();
    return session;
  }

  /**
   * Drops the least recently used anonymous session, or, only when every session is signed in,
   * the least recently used one: a flood of login-page requests cannot sign the administrator out.
   */
  #evictOne(): void {
    for (const [key, s] of this.#sessions) {
      if (!s.authenticated) {
        this.#sessions.delete(key);
        return;
      }
    }
    this.#sessions.delete(this.#sessions.keys().next().value as string);
  }

  /** The live session for a cookie value (its last-seen time is updated), or undefined. */
  get(id: string | undefined): Session | undefined {
    if (!id || id.length > 100) return undefined;
    const key = keyOf(id);
    const s = this.#sessions.get(key);
    if (!s) return undefined;
    const now = this.#now();
    const expired = s.authenticated
      ? now - s.lastSeenAt > this.#idleMs || now - s.createdAt > this.#absoluteMs
      : now - s.createdAt > this.#anonymousMs;
    if (expired) {
      this.#sessions.delete(key);
      return undefined;
    }
    s.lastSeenAt = now;
    // Keep the Map ordered by activity so eviction drops the least recently used.
    this.#sessions.delete(key);
    this.#sessions.set(key, s);
    return s;
  }

  destroy(id: string | undefined): void {
    if (id) this.#sessions.delete(keyOf(id));
  }

  /** Replaces a session by a new authenticated one (new id and CSRF token: no session fixation). */
  signIn(previous: Session | undefined): Session {
    if (previous) this.destroy(previous.id);
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
