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
  /**
   * The sender's From address when it is not the signed-in mailbox (Send As): set as the From
   * of a message that names none. Absent for the Email Settings' one sender.
   */
  from?: string;
  /** The sender's own limits (per signed-in mailbox), when it sets them. */
  limits?: SenderLimits;
}

export interface SenderLimits {
  ratePerMinute?: number;
  maxConnections?: number;
  dailyRecipients?: number;
}

/** The senders in effect (service/settings/senders-service.ts `snapshot()`). */
export interface SendersSnapshotView {
  senders: ReadonlyMap<string, { address: string; signInAs: string; settings?: EmailSettings; ratePerMinute?: number; maxConnections?: number; dailyRecipients?: number }>;
  defaultSender?: string;
}

interface Built {
  version: number;
  settings: EmailSettings;
  mailer: Mailer & { readonly tokenProvider?: TokenProvider };
  credential: string;
}

/** What makes two settings share a token: the credential and where it is sent, never the mailbox. */
export function credentialFingerprint(s: EmailSettings): string {
  // The secondary credential (issue 17) too: adding, promoting or removing it builds a new
  // provider (which starts on the primary again; a failover lasts until the credential changes).
  const parts = [s.useModernAuth, s.cloud, s.tenantId, s.clientId, s.authorityHost, s.scope, s.clientCertificatePath,
    s.clientSecret?.reveal(), s.clientCertificatePem?.reveal(), s.smtpUsername, s.smtpPassword?.reveal(),
    s.clientSecretSecondary?.reveal(), s.clientCertificatePemSecondary?.reveal(), s.clientCertificatePathSecondary];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** The key of the Email Settings' one sender when no senders source is given. */
const ONLY = '';

export class MailerSource {
  readonly #settings: () => SettingsSnapshot;
  readonly #senders?: () => SendersSnapshotView;
  readonly #factory: MailerFactory;
  /** One mailer per sender (ONLY without a senders source), rebuilt when its settings change. */
  readonly #built = new Map<string, Built>();
  /** Token requests of providers no longer in use (a closed pool asks for no more tokens). */
  #retiredTokenRequests = 0;
  #closed = false;
  /** Per sender: the settings (object) whose mailer could not be built, and why. */
  readonly #broken = new Map<string, { settings: EmailSettings; error: unknown }>();
  readonly #onBuildError?: (error: unknown) => void;

  /**
   * `senders`: the senders in effect (issue 16). Without it, the one sender is the Email
   * Settings (`settings`), as before.
   */
  constructor(settings: () => SettingsSnapshot, factory: MailerFactory, onBuildError?: (error: unknown) => void, senders?: () => SendersSnapshotView) {
    this.#settings = settings;
    this.#factory = factory;
    this.#onBuildError = onBuildError;
    this.#senders = senders;
  }

  /** The sender's settings (default sender when `sender` is absent), its key, and its lease extras. */
  #resolve(sender?: string): { key: string; version: number; settings?: EmailSettings; from?: string; limits?: SenderLimits } | undefined {
    const snap = this.#settings();
    if (!this.#senders) return { key: ONLY, version: snap.version, settings: snap.settings };
    const s = this.#senders();
    if (s !== this.#lastSnapshot) this.#prune(s);
    const key = (sender ?? s.defaultSender ?? '').toLowerCase();
    const entry = s.senders.get(key);
    if (!entry) return undefined;
    const limits: SenderLimits = {};
    if (entry.ratePerMinute !== undefined) limits.ratePerMinute = entry.ratePerMinute;
    if (entry.maxConnections !== undefined) limits.maxConnections = entry.maxConnections;
    if (entry.dailyRecipients !== undefined) limits.dailyRecipients = entry.dailyRecipients;
    return { key, version: snap.version, settings: entry.settings, ...(entry.address !== entry.signInAs ? { from: entry.address } : {}), ...(Object.keys(limits).length ? { limits } : {}) };
  }

  #lastSnapshot?: SendersSnapshotView;

  /** A new senders snapshot: close the mailers of senders that are gone (their pools and connections). */
  #prune(s: SendersSnapshotView): void {
    this.#lastSnapshot = s;
    for (const [key, b] of [...this.#built]) {
      if (s.senders.has(key)) continue;
      this.#built.delete(key);
      this.#broken.delete(key);
      this.#retire(b);
      this.#closeBuilt(b);
    }
  }

  /** Why the current settings cannot send although they are valid (e.g. the certificate file is unreadable). */
  buildError(sender?: string): unknown {
    const r = this.#resolve(sender);
    if (!r?.settings) return undefined;
    const b = this.#broken.get(r.key);
    return b && b.settings === r.settings ? b.error : undefined;
  }

  /** The mailer of a sender (the default sender when absent), or undefined when it cannot send. */
  acquire(sender?: string): MailerLease | undefined {
    if (this.#closed) return undefined;
    const r = this.#resolve(sender);
    if (!r?.settings) return undefined;
    if (this.#broken.get(r.key)?.settings === r.settings) return undefined;
    let b = this.#built.get(r.key);
    // Rebuilt when the sender's settings object changed (one per settings version for the
    // Email Settings; the senders service keeps an unchanged sender's object across reloads).
    if (!b || b.settings !== r.settings) {
      try {
        b = this.#rebuild(r.key, r.version, r.settings);
      } catch (error) {
        // Never let a bad credential file crash the process: this sender cannot send until
        // its settings change (the error is reported once, and by /readyz).
        this.#broken.set(r.key, { settings: r.settings, error });
        this.#onBuildError?.(error);
        return undefined;
      }
    }
    return { mailer: b.mailer, settings: b.settings, ...(r.from ? { from: r.from } : {}), ...(r.limits ? { limits: r.limits } : {}) };
  }

  /** A token provider in use for this credential (shared: one token per credential, however many senders). */
  #providerFor(credential: string): TokenProvider | undefined {
    for (const b of this.#built.values()) if (b.credential === credential && b.mailer.tokenProvider) return b.mailer.tokenProvider;
    return undefined;
  }

  #rebuild(key: string, version: number, settings: EmailSettings): Built {
    const old = this.#built.get(key);
    const credential = credentialFingerprint(settings);
    const reuse = this.#providerFor(credential);
    const mailer = this.#factory(settings, { tokenProvider: reuse });
    const built: Built = { version, settings, mailer, credential };
    this.#built.set(key, built);
    if (old) {
      this.#retire(old);
      this.#closeBuilt(old);
    }
    return built;
  }

  /** Count an old mailer's token requests once its provider is used by no mailer any more. */
  #retire(old: Built): void {
    const p = old.mailer.tokenProvider;
    if (!p) return;
    for (const b of this.#built.values()) if (b.mailer.tokenProvider === p) return;
    this.#retiredTokenRequests += p.requestCount;
  }

  #closeBuilt(b: Built): void {
    void b.mailer.close().catch(() => undefined);
  }

  /**
   * Close the mailers (their pools and connections) of the senders signing in as `mailbox`,
   * and wait until they are closed (PostgreSQL: before this instance hands the mailbox's
   * delivery to another, so the mailbox never sees more than its connections). The next send
   * for it builds a new mailer.
   */
  async closeMailbox(mailbox: string): Promise<void> {
    const m = mailbox.toLowerCase();
    const closing: Promise<void>[] = [];
    for (const [key, b] of [...this.#built]) {
      if (b.settings.authorizedFrom.toLowerCase() !== m) continue;
      this.#built.delete(key);
      this.#retire(b);
      closing.push(b.mailer.close().catch(() => undefined));
    }
    await Promise.all(closing);
  }

  /** Whether the settings currently allow sending (the default sender's; with senders, any sender's). */
  ready(): boolean {
    if (this.#closed) return false;
    if (!this.#senders) return this.#settings().settings !== undefined && this.buildError() === undefined;
    for (const [key, e] of this.#senders().senders) if (e.settings && this.#broken.get(key)?.settings !== e.settings) return true;
    return false;
  }

  /** The senders in effect (their keys for `acquire`); one undefined entry without a senders source. */
  senders(): (string | undefined)[] {
    return this.#senders ? [...this.#senders().senders.keys()] : [undefined];
  }

  /** Transport auto: the default sender's route (where it goes, why, the moves so far). */
  route(sender?: string): { transport: string; reason: string; since: number; switches: Record<string, number> } | undefined {
    const key = this.#senders ? (sender ?? this.#senders().defaultSender ?? '').toLowerCase() : ONLY;
    const m = this.#built.get(key)?.mailer as { route?: { transport: string; reason: string; since: number; switches: Record<string, number> } } | undefined;
    return m?.route;
  }

  /** Token requests made by every mailer this source built (for metrics and tests). */
  tokenRequests(): number {
    const providers = new Set<TokenProvider>();
    for (const b of this.#built.values()) if (b.mailer.tokenProvider) providers.add(b.mailer.tokenProvider);
    let n = this.#retiredTokenRequests;
    for (const p of providers) n += p.requestCount;
    return n;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#built.values()];
    this.#built.clear();
    const providers = new Set<TokenProvider>();
    for (const b of all) if (b.mailer.tokenProvider) providers.add(b.mailer.tokenProvider);
    for (const p of providers) this.#retiredTokenRequests += p.requestCount;
    await Promise.all(all.map((b) => b.mailer.close().catch(() => undefined)));
  }
}
