/**
 * What every part of the admin app shares: the service's dependencies, the session store, the
 * login limiter, where the app is mounted, and how a client's address is found.
 *
 * Why: the page modules (settings, test, diagnostics, delivery log, API keys) are functions of
 * this one object, built once by `createAdminApp`, so tests can build it with fakes (a clock,
 * a fixed client address) and nothing is a module-level singleton.
 *
 * Imports: hono types, @hono/node-server/conninfo, ./session, ./login-limiter, the service's
 * AppDeps type.
 */
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { AppDeps } from '../service/http/deps.js';
import { LoginLimiter, type LoginLimiterOptions } from './login-limiter.js';
import { SessionStore, type Session, type SessionStoreOptions } from './session.js';

export interface AdminOptions {
  /** Where the app is mounted by `createApp` (default `/admin`); links and the cookie path use it. */
  basePath?: string;
  /**
   * The client's address for login rate limiting. Default: the TCP peer address. Behind a
   * reverse proxy every client has the proxy's address; pass a function that reads the
   * proxy's header (only when the proxy sets it and clients cannot).
   */
  clientAddress?: (c: Context) => string;
  sessions?: SessionStoreOptions;
  loginLimits?: LoginLimiterOptions;
}

export type AdminEnv = { Variables: { session: Session | undefined } };
export type AdminContext = Context<AdminEnv>;

export interface Admin {
  readonly deps: AppDeps;
  readonly base: string;
  readonly sessions: SessionStore;
  readonly limiter: LoginLimiter;
  clientAddress(c: Context): string;
  /** An absolute path inside the admin app: `url('/settings')` → `/admin/settings`. */
  url(path: string): string;
}

/** The TCP peer address (IPv4-mapped IPv6 shortened), or `unknown` outside a real server. */
export function peerAddress(c: Context): string {
  try {
    const address = getConnInfo(c).remote.address;
    if (address) return address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  } catch {
    // app.request() in tests has no socket.
  }
  return 'unknown';
}

export function createAdminContext(deps: AppDeps, o: AdminOptions = {}): Admin {
  const base = (o.basePath ?? '/admin').replace(/\/+$/, '');
  return {
    deps,
    base,
    sessions: new SessionStore({ now: deps.now, ...o.sessions }),
    limiter: new LoginLimiter(o.loginLimits),
    clientAddress: o.clientAddress ?? peerAddress,
    url: (path) => `${base}${path}`,
  };
}
