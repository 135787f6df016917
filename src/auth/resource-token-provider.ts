/**
 * One token cache per resource: the Outlook (SMTP) token and the Graph token of one credential
 * live in separate cache entries, each with its own single-flight and invalidation.
 *
 * Why: an access token is issued for one resource (its `aud`); Graph answers an Outlook token
 * with 401 "Invalid audience", and Exchange answers a Graph token with 535 5.7.3. Worse, a token
 * sent to the wrong service is a bearer credential handed to a party that should never hold it.
 * So the cache is keyed by the scope asked for, and a caller gets the provider of *its* scope
 * (`forResource(scope)`); nothing ever picks "the" token of a credential. The default scope
 * (the settings' SMTP scope) keeps the plain TokenProvider methods working for SMTP callers.
 *
 * Keys are normalised (trimmed, lower case) so `https://Graph.microsoft.com/.default` and the
 * canonical form share one entry; different resources never do.
 *
 * Imports: src/core (ports), ./token-provider.
 */
import type { AccessToken, TokenProvider } from '../core/ports.js';
import type { CachingTokenProvider } from './token-provider.js';

export const scopeKey = (scope: string): string => scope.trim().toLowerCase();

export class ResourceTokenProvider implements TokenProvider {
  readonly #entries = new Map<string, CachingTokenProvider>();
  readonly #defaultScope: string;
  readonly #make: (scope: string) => CachingTokenProvider;

  /**
   * @param defaultScope the scope `getToken()` serves (SMTP's, e.g. https://outlook.office365.com/.default)
   * @param make builds the cache of one scope (its token request asks for exactly that scope)
   */
  constructor(defaultScope: string, make: (scope: string) => CachingTokenProvider) {
    this.#defaultScope = defaultScope;
    this.#make = make;
  }

  /** The cache of one resource (created on first use). */
  forResource(scope: string): CachingTokenProvider {
    const key = scopeKey(scope);
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = this.#make(scope.trim());
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** The scopes with a cache entry (for tests and diagnostics; never the tokens). */
  get resources(): string[] {
    return [...this.#entries.keys()];
  }

  getToken(options?: { forceRefresh?: boolean }): Promise<AccessToken> {
    return this.forResource(this.#defaultScope).getToken(options);
  }

  invalidate(): void {
    this.#entries.get(scopeKey(this.#defaultScope))?.invalidate();
  }

  /** Token requests of every resource together. */
  get requestCount(): number {
    let n = 0;
    for (const e of this.#entries.values()) n += e.requestCount;
    return n;
  }
}
