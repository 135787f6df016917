/**
 * The token provider: one cached access token per credential, shared by every connection.
 *
 * - Cache: a token is reused until `expiresAt - margin` (margin default 300 s, capped at half
 *   the token's lifetime so short-lived tokens are still cached).
 * - Single-flight: however many callers wait on a cold or stale cache, one request is sent.
 * - Invalidate: after the SMTP server refused a token (535), the transport drops it and asks
 *   again once.
 * - Transient failures (5xx, 429 with Retry-After, network) are retried with exponential
 *   backoff within a time budget; permanent AADSTS answers are thrown at once.
 *
 * The token request itself is injected (`fetchToken`), so this module is pure logic over a
 * clock and a sleep function, unit-tested without a network.
 */
import { isMailgateError } from '../core/errors.js';
import type { AccessToken, Clock, TokenProvider } from '../core/ports.js';
import { systemClock } from '../core/ports.js';

export interface TokenProviderOptions {
  fetchToken: () => Promise<AccessToken>;
  /** Refresh this long before expiry (ms). Default 300 000. */
  refreshMarginMs?: number;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  /** Attempts for transient failures, first included. Default 4. */
  maxAttempts?: number;
  /** Base backoff (ms), doubled each attempt. Default 500. */
  baseDelayMs?: number;
  /** Never wait longer than this in total across retries (ms). Default 30 000. */
  retryBudgetMs?: number;
  /** Called after each token request, for logs and metrics (never given the token). */
  onRequest?: (outcome: { ok: boolean; code?: string; attempt: number }) => void;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class CachingTokenProvider implements TokenProvider {
  #cached?: AccessToken & { obtainedAt: number };
  #inflight?: Promise<AccessToken>;
  #requests = 0;
  readonly #o: Required<Omit<TokenProviderOptions, 'onRequest'>> & Pick<TokenProviderOptions, 'onRequest'>;

  constructor(options: TokenProviderOptions) {
    this.#o = {
      refreshMarginMs: 300_000,
      clock: systemClock,
      sleep: defaultSleep,
      maxAttempts: 4,
      baseDelayMs: 500,
      retryBudgetMs: 30_000,
      // Options given as `undefined` keep the default.
      ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as TokenProviderOptions),
    };
  }

  get requestCount(): number {
    return this.#requests;
  }


  #fresh(now: number): boolean {
    const c = this.#cached;
    if (!c) return false;
    const lifetime = c.expiresAt - c.obtainedAt;
    const margin = Math.min(this.#o.refreshMarginMs, lifetime / 2);
    return now < c.expiresAt - margin;
  }

  getToken(options: { forceRefresh?: boolean } = {}): Promise<AccessToken> {
    if (!options.forceRefresh && this.#fresh(this.#o.clock.now())) {
      const c = this.#cached!;
      return Promise.resolve({ token: c.token, expiresAt: c.expiresAt });
    }
    if (options.forceRefresh) this.#cached = undefined;
    this.#inflight ??= this.#fetchWithRetry().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  invalidate(): void {
    this.#cached = undefined;
  }

  async #fetchWithRetry(): Promise<AccessToken> {
    const started = this.#o.clock.now();
    for (let attempt = 1; ; attempt++) {
      this.#requests++;
      try {
        const t = await this.#o.fetchToken();
        this.#cached = { ...t, obtainedAt: this.#o.clock.now() };
        this.#o.onRequest?.({ ok: true, attempt });
        return { token: t.token, expiresAt: t.expiresAt };
      } catch (err) {
        const code = isMailgateError(err) ? err.code : undefined;
        this.#o.onRequest?.({ ok: false, code, attempt });
        const retryable = isMailgateError(err) && err.retryable;
        if (!retryable || attempt >= this.#o.maxAttempts) throw err;
        const retryAfterMs = (isMailgateError(err) ? err.token?.retryAfterSeconds : undefined) ?? undefined;
        const backoff = this.#o.baseDelayMs * 2 ** (attempt - 1) * (0.8 + Math.random() * 0.4);
        const delay = retryAfterMs !== undefined ? retryAfterMs * 1000 : backoff;
        if (this.#o.clock.now() - started + delay > this.#o.retryBudgetMs) throw err;
        await this.#o.sleep(delay);
      }
    }
  }
}
