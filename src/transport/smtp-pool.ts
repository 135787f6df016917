/**
 * A small pool of authenticated SMTP sessions for one mailbox.
 *
 * Why not nodemailer's own pool: Exchange Online allows 3 concurrent connections per mailbox
 * (`432 4.3.2`), and pooled XOAUTH2 sessions must be retired before the token that
 * authenticated them expires (a live session is not re-checked, docs/dependencies.md §1). This pool
 * enforces both exactly:
 * - at most `maxConnections` (≤ 3) sessions exist at any moment, idle ones included;
 * - a session is reused only while its token has more than `retireMarginMs` left; otherwise
 *   it is closed and a new one authenticates with a fresh token;
 * - when the server refuses a token with 535 (not 5.7.139), the cached token is dropped and
 *   authentication is retried once on a new connection with a newly issued token;
 * - a session that failed in any way is closed, never reused; idle sessions close after
 *   `idleTimeoutMs`;
 * - when the configuration itself is refused while opening a session (credentials refused by
 *   Entra or Exchange, no STARTTLS, TLS refused), the sends waiting for a connection fail at
 *   once with that refusal, without contacting Entra or Exchange: a queue of waiting sends
 *   must not turn one refusal into dozens of refused logins and token requests, which Entra
 *   and Exchange count against the app (AADSTS50196 loop detection, continuous-error
 *   throttling). Sends that arrive later do try (the caller decides: an administrator's retry
 *   after fixing the set-up must reach the server).
 */
import { CONFIGURATION_REFUSALS, MailgateError } from '../core/errors.js';
import type { Clock } from '../core/ports.js';
import { systemClock } from '../core/ports.js';
import { SmtpSession, isTokenRefused, type SessionCredentials, type SessionOptions, type SessionSendResult } from './smtp-session.js';

export interface Authenticator {
  /** Credentials for a new session; `fresh` asks for a newly issued token. */
  credentials(fresh: boolean): Promise<{ creds: SessionCredentials; expiresAt?: number }>;
  /** Whether a refused authentication is worth one retry with fresh credentials. */
  retryOnRefusal: boolean;
}

export interface PoolOptions extends SessionOptions {
  maxConnections: number;
  retireMarginMs: number;
  idleTimeoutMs: number;
  clock?: Clock;
}


interface Waiter {
  /** true: a slot is handed over; false: the pool closed. */
  resolve: (granted: boolean) => void;
  reject: (error: unknown) => void;
}

export class SmtpPool {
  readonly #sessions = new Set<SmtpSession>();
  readonly #idle: SmtpSession[] = [];
  readonly #waiters: Waiter[] = [];
  #slotsInUse = 0;
  #closed = false;
  readonly #clock: Clock;
  #idleTimer?: NodeJS.Timeout;
  /** Peak number of sessions open at once (for tests and metrics). */
  peakConnections = 0;
  connectionsOpened = 0;

  constructor(private readonly o: PoolOptions, private readonly auth: Authenticator) {
    if (o.maxConnections < 1) throw new RangeError('maxConnections must be at least 1');
    this.#clock = o.clock ?? systemClock;
  }

  get openConnections(): number {
    return this.#sessions.size;
  }

  async send(envelope: { from: string; to: string[] }, raw: Buffer): Promise<SessionSendResult> {
    await this.#acquireSlot();
    let session: SmtpSession | undefined;
    try {
      session = await this.#sessionForSend();
      const result = await session.send(envelope, raw);
      this.#release(session, true);
      return result;
    } catch (err) {
      if (session) this.#release(session, false);
      else this.#releaseSlot();
      throw err;
    }
  }

  /** Take a usable idle session, or open a new one (closing stale ones first). */
  async #sessionForSend(): Promise<SmtpSession> {
    const now = this.#clock.now();
    while (this.#idle.length) {
      const s = this.#idle.pop()!;
      const expiring = s.tokenExpiresAt !== undefined && s.tokenExpiresAt - now <= this.#retireMargin(s);
      if (!s.closed && !expiring) return s;
      this.#discard(s);
    }
    // Make room: the cap counts idle sessions too.
    while (this.#sessions.size >= this.o.maxConnections && this.#idle.length) this.#discard(this.#idle.shift()!);
    return this.#open();
  }

  async #open(): Promise<SmtpSession> {
    try {
      return await this.#openOnce();
    } catch (err) {
      if (err instanceof MailgateError && CONFIGURATION_REFUSALS.has(err.code)) this.#failWaiters(err);
      throw err;
    }
  }

  /** The configuration was refused: the sends waiting for a connection fail with it, untried. */
  #failWaiters(e: MailgateError): void {
    for (const w of this.#waiters.splice(0)) {
      w.reject(new MailgateError({
        code: e.code, phase: e.phase, retryable: e.retryable, smtp: e.smtp, token: e.token, problems: e.problems, context: { ...e.context, notTried: true },
        message: `${e.message} (this message waited for a connection and was not tried)`,
      }));
    }
  }

  async #openOnce(): Promise<SmtpSession> {
    let first = true;
    for (;;) {
      const { creds, expiresAt } = await this.auth.credentials(!first);
      const s = new SmtpSession(this.o);
      this.#sessions.add(s);
      this.connectionsOpened++;
      this.peakConnections = Math.max(this.peakConnections, this.#sessions.size);
      try {
        await s.connect();
        await s.authenticate(creds);
        s.tokenExpiresAt = expiresAt;
        s.authenticatedAt = this.#clock.now();
        return s;
      } catch (err) {
        this.#discard(s);
        if (first && this.auth.retryOnRefusal && isTokenRefused(err)) {
          first = false;
          continue;
        }
        throw err;
      }
    }
  }

  /** The retire margin, capped at half the token's lifetime (as the token cache does) so short-lived tokens still allow reuse. */
  #retireMargin(s: SmtpSession): number {
    const lifetime = (s.tokenExpiresAt ?? 0) - s.authenticatedAt;
    return Math.min(this.o.retireMarginMs, Math.max(0, lifetime / 2));
  }

  #discard(s: SmtpSession): void {
    s.close();
    this.#sessions.delete(s);
    const i = this.#idle.indexOf(s);
    if (i >= 0) this.#idle.splice(i, 1);
  }

  #release(s: SmtpSession, healthy: boolean): void {
    if (!healthy || s.closed || this.#closed) this.#discard(s);
    else {
      // Idle time is measured on the pool's clock (the one its idle check reads).
      s.lastUsedAt = this.#clock.now();
      this.#idle.push(s);
      this.#armIdleTimer();
    }
    this.#releaseSlot();
  }

  #armIdleTimer(): void {
    if (this.#idleTimer) return;
    this.#idleTimer = setInterval(() => {
      const now = this.#clock.now();
      for (const s of [...this.#idle]) {
        if (s.closed || now - s.lastUsedAt >= this.o.idleTimeoutMs) this.#discard(s);
      }
      if (!this.#idle.length && this.#idleTimer) {
        clearInterval(this.#idleTimer);
        this.#idleTimer = undefined;
      }
    }, Math.min(this.o.idleTimeoutMs, 5000));
    this.#idleTimer.unref();
  }

  #acquireSlot(): Promise<void> {
    if (this.#closed) return Promise.reject(new MailgateError({ code: 'INTERRUPTED', phase: 'send', retryable: true, message: 'The SMTP pool is closed (the settings changed or the service is stopping); nothing was sent', context: { notSent: true } }));
    if (this.#slotsInUse < this.o.maxConnections) {
      this.#slotsInUse++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({
        reject,
        resolve: (granted) => (!granted ? reject(new MailgateError({ code: 'INTERRUPTED', phase: 'send', retryable: true, message: 'The SMTP pool was closed while the message waited for a connection (the settings changed or the service is stopping); nothing was sent', context: { notSent: true } })) : resolve()),
      });
    });
  }

  #releaseSlot(): void {
    const next = this.#waiters.shift();
    if (next) next.resolve(true); // hand the slot over directly
    else this.#slotsInUse--;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#idleTimer) clearInterval(this.#idleTimer);
    for (const w of this.#waiters.splice(0)) w.resolve(false);
    for (const s of [...this.#sessions]) if (this.#idle.includes(s)) this.#discard(s);
    // Busy sessions are discarded when their send completes.
  }
}
