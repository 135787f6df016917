/**
 * MailerSource: the one Mailer of the process, rebuilt when the Email Settings change.
 *
 * Why: the token economy (one token per credential per token lifetime, however many messages
 * and connections) and Exchange's 3-connection limit both require a single pooled mailer per
 * process. Stored settings must also take effect without a restart. So the worker asks this
 * source for the mailer on every send; when the settings version changed, a new mailer is
 * built and the old one is closed at once: the sends it is running finish on their
 * connections (which close after them), and the ones still waiting for a connection are
 * withdrawn (INTERRUPTED, nothing sent) and go back to the queue for the new settings. When the
 * credential itself (tenant, client, secret or certificate, authority, scope) is unchanged, the
 * new mailer reuses the old token provider, so a change of, say, the SMTP timeout costs no new
 * token.
 *
 * Imports: core ports/settings types only; the factory (createMailer) is injected.
 */
import { createHash } from 'node:crypto';
import type { Mailer, TokenProvider } from '../../core/ports.js';
import type { EmailSettings } from '../../core/settings.js';

/** What the worker needs from a mailer factory (createMailer satisfies it). */
export type MailerFactory = (settings: EmailSettings, reuse: { tokenProvider?: TokenProvider }) => Mailer & { readonly tokenProvider?: TokenProvider };

export interface SettingsSnapshot {
  version: number;
  /** Undefined when the settings are missing or invalid (nothing can be sent). */
  settings?: EmailSettings;
}

export interface MailerLease {
  mailer: Mailer;
  settings: EmailSettings;
}

interface Built {
  version: number;
  settings: EmailSettings;
  mailer: Mailer & { readonly tokenProvider?: TokenProvider };
  credential: string;
}

function credentialFingerprint(s: EmailSettings): string {
  const parts = [s.useModernAuth, s.cloud, s.tenantId, s.clientId, s.authorityHost, s.scope, s.clientCertificatePath,
    s.clientSecret?.reveal(), s.clientCertificatePem?.reveal(), s.smtpUsername, s.smtpPassword?.reveal()];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export class MailerSource {
  readonly #settings: () => SettingsSnapshot;
  readonly #factory: MailerFactory;
  #current: Built | undefined;
  /** Token requests of providers no longer in use (a closed pool asks for no more tokens). */
  #retiredTokenRequests = 0;
  #closed = false;
  /** The settings version whose mailer could not be built (e.g. an unreadable certificate), and why. */
  #broken?: { version: number; error: unknown };
  readonly #onBuildError?: (error: unknown) => void;

  constructor(settings: () => SettingsSnapshot, factory: MailerFactory, onBuildError?: (error: unknown) => void) {
    this.#settings = settings;
    this.#factory = factory;
    this.#onBuildError = onBuildError;
  }

  /** Why the current settings cannot send although they are valid (e.g. the certificate file is unreadable). */
  buildError(): unknown {
    const snap = this.#settings();
    return this.#broken && this.#broken.version === snap.version ? this.#broken.error : undefined;
  }

  /** The current mailer, or undefined when the settings do not allow sending. */
  acquire(): MailerLease | undefined {
    if (this.#closed) return undefined;
    const snap = this.#settings();
    if (!snap.settings) return undefined;
    if (this.#broken?.version === snap.version) return undefined;
    if (!this.#current || this.#current.version !== snap.version) {
      try {
        this.#rebuild(snap.version, snap.settings);
      } catch (error) {
        // Never let a bad credential file crash the process: these settings cannot send until
        // they change (the error is reported once, and by /readyz).
        this.#broken = { version: snap.version, error };
        this.#onBuildError?.(error);
        return undefined;
      }
    }
    const b = this.#current!;
    return { mailer: b.mailer, settings: b.settings };
  }

  #rebuild(version: number, settings: EmailSettings): void {
    const old = this.#current;
    const credential = credentialFingerprint(settings);
    const reuse = old && old.credential === credential ? old.mailer.tokenProvider : undefined;
    const mailer = this.#factory(settings, { tokenProvider: reuse });
    const oldProvider = old?.mailer.tokenProvider;
    if (oldProvider && oldProvider !== mailer.tokenProvider) this.#retiredTokenRequests += oldProvider.requestCount;
    this.#current = { version, settings, mailer, credential };
    if (old) this.#closeBuilt(old);
  }

  #closeBuilt(b: Built): void {
    void b.mailer.close().catch(() => undefined);
  }

  /** Whether the settings currently allow sending. */
  ready(): boolean {
    return !this.#closed && this.#settings().settings !== undefined && this.buildError() === undefined;
  }

  /** Transport auto: the current mailer's route (where its sender goes, why, the moves so far). */
  route(): { transport: string; reason: string; since: number; switches: Record<string, number> } | undefined {
    const m = this.#current?.mailer as { route?: { transport: string; reason: string; since: number; switches: Record<string, number> } } | undefined;
    return m?.route;
  }

  /** Token requests made by every mailer this source built (for metrics and tests). */
  tokenRequests(): number {
    return this.#retiredTokenRequests + (this.#current?.mailer.tokenProvider?.requestCount ?? 0);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = this.#current ? [this.#current] : [];
    this.#retiredTokenRequests += this.#current?.mailer.tokenProvider?.requestCount ?? 0;
    this.#current = undefined;
    await Promise.all(all.map((b) => b.mailer.close().catch(() => undefined)));
  }
}
