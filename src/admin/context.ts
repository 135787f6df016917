/**
 * What every part of the admin app shares: the service's dependencies, the session store, the
 * login limiter, where the app is mounted, and how a client's address is found.
 *
 * Why: the page modules (settings, test, diagnostics, delivery log, API keys) are functions of
 * this one object, built once by `createAdminApp`, so tests can build it with fakes (a clock,
 * a fixed client address) and nothing is a module-level singleton.
 *
 * Imports: hono types, @hono/node-server/conninfo, ./session, ./login-limiter, ./client-address, the service's
 * AppDeps type.
 */
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { AppDeps } from '../service/intake/http/deps.js';
import { clientAddressFrom } from './client-address.js';
import { LoginLimiter, type LoginLimiterOptions } from './login-limiter.js';
import { SessionStore, type Session, type SessionStoreOptions } from './session.js';

export interface AdminOptions {
  /** Where the app is mounted by `createApp` (default `/admin`); links and the cookie path use it. */
  basePath?: string;
  /**
   * The client's address for login rate limiting. Default: the TCP peer address, or with
   * `deps.adminLogin.trustProxy` (MAILGATE_TRUST_PROXY) the address the proxy forwarded
   * (./client-address.ts). Tests pass a function.
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

/** The client address: the peer, or what the trusted proxy hops forwarded. */
export function forwardedClientAddress(trustedHops: number): (c: Context) => string {
  if (trustedHops <= 0) return peerAddress;
  return (c) => clientAddressFrom(peerAddress(c), { xForwardedFor: c.req.header('x-forwarded-for'), forwarded: c.req.header('forwarded') }, trustedHops);
}

export function createAdminContext(deps: AppDeps, o: AdminOptions = {}): Admin {
  const base = (o.basePath ?? '/admin').replace(/\/+$/, '');
  const login = deps.adminLogin;
  return {
    deps,
    base,
    // Bound to the admin password: a new password signs every session out, everywhere.
    sessions: new SessionStore(deps.store, { now: deps.now, ...(deps.adminPassword?.sessionTag ? { tag: () => deps.adminPassword!.sessionTag!() } : {}), ...o.sessions }),
    limiter: new LoginLimiter({ maxFailures: login?.maxFailures, windowMs: login?.windowMs, globalFailuresPerMinute: login?.globalFailuresPerMinute, ...o.loginLimits }),
    clientAddress: o.clientAddress ?? forwardedClientAddress(login?.trustProxy ?? 0),
    url: (path) => `${base}${path}`,
  };
}
