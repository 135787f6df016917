/**
 * The senders and credentials of the service (issue 16): the default sender (the Email
 * Settings, as before), senders and credentials stored through the API, or all of them from the
 * MAILGATE_CONFIG file; each resolved to the Email Settings it sends with.
 *
 * Why one module: the worker (which mailer a message goes through), the API (which `from` a
 * key may use, /api/v1/senders and /api/v1/credentials), the relay (which addresses a client
 * may send as) and the admin page all need the same list, with the same validation and the
 * same secrets kept out of every view.
 *
 * Storage: the Email Settings stay where they were (the `settings` rows: the default sender
 * and its credential, named "default"), so an existing data dir needs no data migration; the
 * further credentials and senders are one JSON document in the same table (`senders.config`,
 * saved through saveSettings: atomic, audited, versioned, noticed by other processes). Secret
 * values in it are AES-256-GCM ciphertext (secret-box.ts); references (env:, file:, from
 * `mailgate config import`) are kept as references and resolved at load.
 *
 * With MAILGATE_CONFIG the file is the whole configuration: the API and the admin page show it
 * read-only (like environment values), and its first sender is the default sender, which the
 * Email Settings view shows as environment values (see `fileDefaultEnv`).
 *
 * Imports: src/core, config/mailgate-config (reference resolution), ../outbox/store types,
 * ./secret-box, ./settings-store.
 */
import { createHash } from 'node:crypto';
import type { Problem } from '../../core/errors.js';
import { Secret } from '../../core/secret.js';
import { movedDestinations } from '../../core/credential-destinations.js';
import { credentialSchema, DEFAULT_CREDENTIAL, IDENTITY_KEYS, pathText, senderSchema, senderSettings, type CredentialConfig, type ResolvedCredential, type SenderConfig, type SenderInfo, type SendersConfig } from '../../core/senders.js';
import { FIELD_BY_KEY, parseSettings, secretValues, settingsFromEnv, type EmailSettings, type RawSettings, type SettingKey } from '../../core/settings.js';
import { resolveCredential } from '../../config/mailgate-config.js';
import type { ConfigStore, OutboxStore } from '../outbox/store.js';
import { decryptValue, encryptValue } from './secret-box.js';
import { retryOnConflict, type SettingsService } from './settings-store.js';

/** The settings row that holds the stored credentials and senders (JSON). */
export const SENDERS_ROW = 'senders.config';

/** A stored credential: secrets as ciphertext (`...Encrypted`) or as a reference. */
export interface StoredCredential extends Omit<CredentialConfig, 'clientSecret' | 'clientCertificate' | 'secondary'> {
  clientSecret?: string;
  clientCertificate?: string;
  clientSecretEncrypted?: string;
  clientCertificateEncrypted?: string;
  /** The secondary credential (rotation, issue 17): a reference (from an import) or ciphertext. */
  secondary?: StoredSlot;
}

/** One stored credential slot: references as given, values as ciphertext (never plain). */
export interface StoredSlot {
  clientSecret?: string;
  clientCertificate?: string;
  clientSecretEncrypted?: string;
  clientCertificateEncrypted?: string;
  clientSecretExpires?: string;
}

interface StoredDoc {
  credentials: StoredCredential[];
  senders: SenderConfig[];
}

/** One sender as the service uses it. */
export interface SenderEntry extends SenderInfo {
  /** The Email Settings it sends with; undefined when they are incomplete or invalid. */
  settings?: EmailSettings;
  problems: Problem[];
}

/** A credential as the API and the admin page show it: never a secret value. */
export interface CredentialView {
  name: string;
  cloud: string;
  tenantId?: string;
  clientId?: string;
  /** Whether a client secret is set, and how (a reference is shown: it is not the secret). */
  clientSecretSet: boolean;
  clientCertificateSet: boolean;
  clientSecretRef?: string;
  clientCertificateRef?: string;
  /** When the client secret expires (YYYY-MM-DD or ISO date-time), when given. */
  clientSecretExpires?: string;
  authorityHost?: string;
  smtpHost?: string;
  smtpPort?: number;
  graphEndpoint?: string;
  source: 'settings' | 'stored' | 'file';
  /** The senders using it. */
  senders: string[];
  problems: Problem[];
}

/** One credential and Email Settings that carry it (undefined: incomplete or unresolvable). */
export interface CredentialSettings {
  name: string;
  settings?: EmailSettings;
}

export interface SendersSnapshot {
  /** Incremented by every reload. */
  version: number;
  senders: ReadonlyMap<string, SenderEntry>;
  defaultSender?: string;
}

export type SenderWriteResult = { ok: true } | { ok: false; status: 404 | 409 | 422; problems: Problem[] };

/** The additional data a stored secret is encrypted with: its credential and field (`secondary.clientSecret` for the secondary). */
export const aad = (name: string, field: string) => `credentials.${name.toLowerCase()}.${field}`;

/** The default sender's raw Email Settings from a file's first sender, as environment variables (the Email Settings view shows them read-only). */
export function fileDefaultEnv(credential: ResolvedCredential, sender: SenderConfig, env: Record<string, string | undefined>): Record<string, string> {
  const raw = senderSettings(credential, sender, settingsFromEnv(env).raw);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) out[FIELD_BY_KEY[k as SettingKey].env] = String(v);
  return out;
}

/** The stored credentials and senders of a `settings` table's rows (none: empty lists). */
export function storedSendersDoc(rows: Record<string, string>): { credentials: StoredCredential[]; senders: SenderConfig[] } {
  return rows[SENDERS_ROW] ? (JSON.parse(rows[SENDERS_ROW]) as StoredDoc) : { credentials: [], senders: [] };
}

/** A stored (or file) credential with its references resolved and its stored secrets decrypted (in memory only). */
export async function resolveStoredCredential(c: CredentialConfig | StoredCredential, key: Buffer, env: Record<string, string | undefined>, where: string): Promise<{ credential?: ResolvedCredential; problems: Problem[] }> {
  const { clientSecretEncrypted, clientCertificateEncrypted, secondary, ...rest } = c as StoredCredential;
  const { clientSecretEncrypted: secondarySecret, clientCertificateEncrypted: secondaryCertificate, ...secondaryRest } = secondary ?? {};
  const r = await resolveCredential({ ...rest, ...(secondary ? { secondary: secondaryRest } : {}) } as CredentialConfig, env, where);
  if (!r.credential) return r;
  try {
    if (clientSecretEncrypted) r.credential.clientSecret = decryptValue(key, clientSecretEncrypted, aad(c.name, 'clientSecret'));
    if (clientCertificateEncrypted) r.credential.clientCertificatePem = decryptValue(key, clientCertificateEncrypted, aad(c.name, 'clientCertificate'));
    if (secondarySecret) r.credential.secondary!.clientSecret = decryptValue(key, secondarySecret, aad(c.name, 'secondary.clientSecret'));
    if (secondaryCertificate) r.credential.secondary!.clientCertificatePem = decryptValue(key, secondaryCertificate, aad(c.name, 'secondary.clientCertificate'));
  } catch (error) {
    return { problems: [{ key: where, message: `${where}: ${(error as Error).message}` }] };
  }
  return r;
}

export class SendersService {
  readonly #store: ConfigStore & Pick<OutboxStore, 'list'>;
  readonly #settings: SettingsService;
  readonly #key: Buffer;
  readonly #env: Record<string, string | undefined>;
  readonly #file?: SendersConfig;
  readonly #now: () => number;
  #doc: StoredDoc = { credentials: [], senders: [] };
  #snapshot: SendersSnapshot = { version: 0, senders: new Map() };
  #credentials: CredentialView[] = [];
  #credentialSettings: CredentialSettings[] = [];
  /** Each sender's effective raw Email Settings (decrypted secrets: never serialise). */
  #raw = new Map<string, RawSettings>();
  #secrets: string[] = [];
  #reloads: Promise<void> = Promise.resolve();
  readonly #listeners = new Set<() => void>();
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(o: SendersServiceOptions) {
    this.#store = o.store;
    this.#settings = o.settings;
    this.#key = o.masterKey;
    this.#env = o.env;
    this.#file = o.file;
    this.#now = o.now ?? Date.now;
  }

  static async open(o: SendersServiceOptions): Promise<SendersService> {
    const s = new SendersService(o);
    await s.reload();
    s.#unsubscribe = o.settings.onChange(() => s.#reloadUntilDone());
    return s;
  }

  #retry: NodeJS.Timeout | undefined;
  #closed = false;
  #unsubscribe: (() => void) | undefined;

  /**
   * A reload the settings asked for that fails (the database went away between the settings
   * poll seeing a new version and this read) is tried again, 1 s then doubling up to 30 s, until
   * it succeeds: nothing else would ask again before the next settings change, so the senders
   * kept the old document (a new default sender unseen) for as long as nobody changed anything.
   */
  #reloadUntilDone(delay = 1000): void {
    if (this.#retry) {
      clearTimeout(this.#retry);
      this.#retry = undefined;
    }
    this.reload().catch(() => {
      if (this.#closed || this.#retry) return;
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        this.#reloadUntilDone(Math.min(delay * 2, 30_000));
      }, delay);
      this.#retry.unref();
    });
  }

  /** Stop following the settings (service shutdown). */
  close(): void {
    this.#closed = true;
    this.#unsubscribe?.();
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  /** Whether the senders come from MAILGATE_CONFIG (read-only here). */
  get fromFile(): boolean {
    return this.#file !== undefined;
  }

  onChange(l: () => void): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  /** Reload (the Email Settings or the stored document changed). Serialised. */
  reload(): Promise<void> {
    const run = this.#reloads.then(() => this.#load());
    this.#reloads = run.catch(() => undefined);
    return run;
  }

  snapshot(): SendersSnapshot {
    return this.#snapshot;
  }

  list(): SenderEntry[] {
    return [...this.#snapshot.senders.values()];
  }

  get(address: string): SenderEntry | undefined {
    return this.#snapshot.senders.get(address.trim().toLowerCase());
  }

  defaultSender(): SenderEntry | undefined {
    const d = this.#snapshot.defaultSender;
    return d ? this.#snapshot.senders.get(d) : undefined;
  }

  credentials(): CredentialView[] {
    return this.#credentials;
  }

  /**
   * Every named credential with Email Settings that carry it (resolved secrets: never
   * serialise), for the credential expiry monitor (one entry per credential, its name as the
   * metric label; the Graph read per app registration). `version` changes with every reload.
   */
  credentialSettings(): { version: number; list: readonly CredentialSettings[] } {
    return { version: this.#snapshot.version, list: this.#credentialSettings };
  }

  /**
   * The effective raw Email Settings of one sender (the default sender's are the Email
   * Settings'), valid or not: what the doctor checks per sender (`runDoctor(raw)`), as
   * `SettingsService.effectiveRaw()` is for the default sender. `authorizedFrom` is the
   * signed-in mailbox; the From address is the sender's `address`. Holds decrypted secrets:
   * never serialise it.
   */
  effectiveRawFor(address: string): RawSettings | undefined {
    const a = address.trim().toLowerCase();
    if (a === this.#snapshot.defaultSender) return this.#settings.effectiveRaw();
    const r = this.#raw.get(a);
    return r ? { ...r } : undefined;
  }

  /** Every secret value in effect for any sender (for scrubbing). */
  secrets(): string[] {
    return this.#secrets;
  }

  /** The stored (or file) configuration for `mailgate config export`: secrets as references or omitted. */
  exportConfig(): { credentials: Record<string, unknown>[]; senders: SenderConfig[]; omitted: string[] } {
    const omitted: string[] = [];
    if (this.#file) {
      return { credentials: this.#file.credentials.map((c) => ({ ...c })), senders: this.#file.senders.map((s) => ({ ...s })), omitted };
    }
    const credentials: Record<string, unknown>[] = [];
    const def = this.#settings.effectiveRaw();
    const defSender = this.defaultSender();
    if (defSender) {
      const c: Record<string, unknown> = { name: DEFAULT_CREDENTIAL };
      for (const k of ['cloud', 'tenantId', 'clientId', 'clientSecretExpires', 'authorityHost', 'smtpHost', 'smtpPort', 'graphEndpoint'] as const) if (def[k] !== undefined && def[k] !== '') c[k] = k === 'smtpPort' ? Number(def[k]) : def[k];
      if (def.clientCertificatePath) c.clientCertificate = `file:${String(def.clientCertificatePath)}`;
      if (def.clientSecret || def.clientCertificatePem) omitted.push(`credentials[0] (${DEFAULT_CREDENTIAL}): its ${def.clientSecret ? 'client secret' : 'certificate'} is stored encrypted and is not exported; add clientSecret: env:NAME or clientCertificate: file:/path`);
      // The secondary (rotation): a certificate file as its reference; stored values are left out.
      if (def.clientCertificatePathSecondary) c.secondary = { clientCertificate: `file:${String(def.clientCertificatePathSecondary)}`, ...(def.clientSecretExpiresSecondary ? { clientSecretExpires: def.clientSecretExpiresSecondary } : {}) };
      if (def.clientSecretSecondary || def.clientCertificatePemSecondary) omitted.push(`credentials[0] (${DEFAULT_CREDENTIAL}): its secondary ${def.clientSecretSecondary ? 'client secret' : 'certificate'} is stored encrypted and is not exported; add secondary: { clientSecret: env:NAME } or { clientCertificate: file:/path }`);
      credentials.push(c);
    }
    for (const sc of this.#doc.credentials) {
      const { clientSecretEncrypted, clientCertificateEncrypted, secondary, ...rest } = sc;
      if (clientSecretEncrypted || clientCertificateEncrypted) omitted.push(`credentials[${credentials.length}] (${sc.name}): its ${clientSecretEncrypted ? 'client secret' : 'certificate'} is stored encrypted and is not exported`);
      // The secondary: references are exported, ciphertext never (as for the primary).
      const sec = secondary ? { ...(secondary.clientSecret ? { clientSecret: secondary.clientSecret } : {}), ...(secondary.clientCertificate ? { clientCertificate: secondary.clientCertificate } : {}), ...(secondary.clientSecretExpires ? { clientSecretExpires: secondary.clientSecretExpires } : {}) } : undefined;
      if (secondary && (secondary.clientSecretEncrypted || secondary.clientCertificateEncrypted)) omitted.push(`credentials[${credentials.length}] (${sc.name}): its secondary ${secondary.clientSecretEncrypted ? 'client secret' : 'certificate'} is stored encrypted and is not exported`);
      credentials.push({ ...rest, ...(sec && (sec.clientSecret || sec.clientCertificate) ? { secondary: sec } : {}) });
    }
    const senders: SenderConfig[] = [];
    if (defSender) senders.push({ address: defSender.address, credential: DEFAULT_CREDENTIAL, ...(defSender.transport !== 'smtp' ? { transport: defSender.transport } : {}) });
    senders.push(...this.#doc.senders.map((s) => ({ ...s })));
    return { credentials, senders, omitted };
  }

  async #load(): Promise<void> {
    const rows = await this.#store.getSettings();
    this.#doc = storedSendersDoc(rows);
    const senders = new Map<string, SenderEntry>();
    const raws = new Map<string, RawSettings>();
    const credentials: CredentialView[] = [];
    const secrets = new Set<string>(this.#settings.secrets());
    const base = settingsFromEnv(this.#env).raw;
    const emailSettings = this.#settings.settings();
    let defaultSender: string | undefined;

    // The default sender: the Email Settings (in file mode, the file's first sender, given to
    // the settings service as environment values).
    const defaultRaw = this.#settings.effectiveRaw();
    const defAddress = typeof defaultRaw.authorizedFrom === 'string' ? defaultRaw.authorizedFrom.trim().toLowerCase() : '';
    const fileDefault = this.#file?.senders[0];
    const source = this.#file ? 'file' : 'settings';
    if (defAddress) {
      const address = fileDefault ? fileDefault.address.toLowerCase() : defAddress;
      senders.set(address, {
        address,
        signInAs: defAddress,
        credential: fileDefault?.credential ?? DEFAULT_CREDENTIAL,
        transport: emailSettings?.transport ?? 'smtp',
        ...(fileDefault ? limitsOf(fileDefault) : {}),
        source,
        isDefault: true,
        settings: emailSettings,
        problems: emailSettings ? [] : this.#settings.view().problems,
      });
      defaultSender = address;
    }
    if (!this.#file) {
      credentials.push({
        name: DEFAULT_CREDENTIAL,
        cloud: String(defaultRaw.cloud ?? 'global'),
        ...(defaultRaw.tenantId ? { tenantId: String(defaultRaw.tenantId) } : {}),
        ...(defaultRaw.clientId ? { clientId: String(defaultRaw.clientId) } : {}),
        clientSecretSet: Boolean(defaultRaw.clientSecret),
        clientCertificateSet: Boolean(defaultRaw.clientCertificatePem || defaultRaw.clientCertificatePath),
        ...(defaultRaw.clientSecretExpires ? { clientSecretExpires: String(defaultRaw.clientSecretExpires) } : {}),
        source: 'settings',
        senders: [],
        problems: [],
      });
    }

    // The other credentials, resolved.
    const configs: { cfg: CredentialConfig | StoredCredential; where: string; src: 'stored' | 'file' }[] = this.#file
      ? this.#file.credentials.map((c, i) => ({ cfg: c, where: `credentials[${i}]`, src: 'file' as const }))
      : this.#doc.credentials.map((c, i) => ({ cfg: c, where: `stored credentials[${i}]`, src: 'stored' as const }));
    const resolved = new Map<string, { credential?: ResolvedCredential; problems: Problem[] }>();
    for (const { cfg, where, src } of configs) {
      const r = await this.#resolve(cfg, where);
      resolved.set(cfg.name.toLowerCase(), r);
      if (r.credential?.clientSecret) secrets.add(r.credential.clientSecret);
      if (r.credential?.clientCertificatePem) secrets.add(r.credential.clientCertificatePem);
      if (r.credential?.secondary?.clientSecret) secrets.add(r.credential.secondary.clientSecret);
      if (r.credential?.secondary?.clientCertificatePem) secrets.add(r.credential.secondary.clientCertificatePem);
      const sc = cfg as StoredCredential;
      credentials.push({
        name: cfg.name,
        cloud: cfg.cloud ?? 'global',
        tenantId: cfg.tenantId,
        clientId: cfg.clientId,
        clientSecretSet: Boolean(sc.clientSecret || sc.clientSecretEncrypted),
        clientCertificateSet: Boolean(sc.clientCertificate || sc.clientCertificateEncrypted),
        ...(sc.clientSecret ? { clientSecretRef: sc.clientSecret } : {}),
        ...(sc.clientCertificate ? { clientCertificateRef: sc.clientCertificate } : {}),
        ...(cfg.clientSecretExpires ? { clientSecretExpires: cfg.clientSecretExpires } : {}),
        ...(cfg.authorityHost ? { authorityHost: cfg.authorityHost } : {}),
        ...(cfg.smtpHost ? { smtpHost: cfg.smtpHost } : {}),
        ...(cfg.smtpPort ? { smtpPort: cfg.smtpPort } : {}),
        ...(cfg.graphEndpoint ? { graphEndpoint: cfg.graphEndpoint } : {}),
        source: src,
        senders: [],
        problems: r.problems,
      });
    }

    // The other senders.
    const list = this.#file ? this.#file.senders.slice(1).map((s, i) => ({ s, where: `senders[${i + 1}]`, src: 'file' as const })) : this.#doc.senders.map((s, i) => ({ s, where: `stored senders[${i}]`, src: 'stored' as const }));
    for (const { s, where, src } of list) {
      const address = s.address.toLowerCase();
      if (senders.has(address)) continue; // the default sender wins (the store refuses duplicates)
      const problems: Problem[] = [];
      let raw: RawSettings | undefined;
      if (s.credential.toLowerCase() === DEFAULT_CREDENTIAL && !this.#file) {
        raw = { ...defaultRaw, authorizedFrom: s.signInAs ?? s.address, ...(s.transport ? { transport: s.transport } : {}) };
      } else {
        const r = resolved.get(s.credential.toLowerCase());
        if (!r) problems.push({ key: `${where}.credential`, message: `${where}.credential: no credential named "${s.credential}"` });
        else if (!r.credential) problems.push(...r.problems);
        else raw = senderSettings(r.credential, s, base);
      }
      let settings: EmailSettings | undefined;
      if (raw) raws.set(address, raw);
      if (raw) {
        const parsed = parseSettings(raw);
        if (parsed.ok) settings = parsed.settings;
        else problems.push(...parsed.problems.map((p) => ({ ...p, message: `${where} (${address}): ${p.message}` })));
      }
      senders.set(address, {
        address,
        signInAs: (s.signInAs ?? s.address).toLowerCase(),
        credential: s.credential,
        transport: s.transport ?? settings?.transport ?? 'smtp',
        ...limitsOf(s),
        source: src,
        isDefault: false,
        settings,
        problems,
      });
    }
    for (const c of credentials) c.senders = [...senders.values()].filter((s) => s.credential.toLowerCase() === c.name.toLowerCase()).map((s) => s.address);
    // Each credential's settings: those of a sender using it (the default credential's are the
    // Email Settings); a credential no sender uses yet still expires, so its own settings are
    // built with a placeholder mailbox (only the credential's values are read from them).
    const credentialSettings: CredentialSettings[] = [];
    for (const c of credentials) {
      const user = [...senders.values()].find((x) => x.credential.toLowerCase() === c.name.toLowerCase() && x.settings);
      let settings = user?.settings;
      if (!settings && c.name.toLowerCase() === DEFAULT_CREDENTIAL && !this.#file) settings = emailSettings;
      const r = resolved.get(c.name.toLowerCase());
      if (!settings && r?.credential) {
        const parsed = parseSettings(senderSettings(r.credential, { address: 'unused-credential@mailgate.invalid', credential: c.name }, base));
        if (parsed.ok) settings = parsed.settings;
      }
      credentialSettings.push({ name: c.name, ...(settings ? { settings } : {}) });
    }
    for (const s of senders.values()) if (s.settings) for (const v of secretValues(s.settings)) secrets.add(v);
    // An unchanged sender keeps its settings object across reloads: the worker keys its mailer,
    // its pause and its queue-ahead on that identity, so adding a sender does not rebuild the others.
    const prev = new Map<string, EmailSettings>();
    for (const e of this.#snapshot.senders.values()) if (e.settings) prev.set(settingsFingerprint(e.settings), e.settings);
    for (const e of senders.values()) if (e.settings) e.settings = prev.get(settingsFingerprint(e.settings)) ?? e.settings;
    this.#credentials = credentials;
    this.#credentialSettings = credentialSettings;
    this.#raw = raws;
    this.#secrets = [...secrets];
    this.#snapshot = { version: this.#snapshot.version + 1, senders, ...(defaultSender ? { defaultSender } : {}) };
    for (const l of this.#listeners) l();
  }

  #resolve(c: CredentialConfig | StoredCredential, where: string): Promise<{ credential?: ResolvedCredential; problems: Problem[] }> {
    return resolveStoredCredential(c, this.#key, this.#env, where);
  }

  // ---- writes (API, admin page, `mailgate config import`) ----

  #readOnly(): SenderWriteResult | undefined {
    if (this.#file) return { ok: false, status: 409, problems: [{ key: 'MAILGATE_CONFIG', message: `The senders and credentials are configured by MAILGATE_CONFIG (${this.#env.MAILGATE_CONFIG ?? 'the configuration file'}); change them there` }] };
    return undefined;
  }

  /**
   * One write: reload → decide (`fn` on a copy of the stored document) → save. The save is a
   * compare-and-set on the settings version read before anything the decision read, so a write
   * another process (another instance, `mailgate config import`, the CLI) saved in between is never
   * overwritten: the decision is made again on the fresh state (`retryOnConflict`). With
   * `expectedVersion` (the rotation service decided on its own reload) the conflict is the caller's.
   */
  #write(fn: (doc: StoredDoc) => Promise<SenderWriteResult & { audit?: { action: string; detail: Record<string, unknown> }; extraRows?: Record<string, string | null> }>, actor: string, expectedVersion?: number): Promise<SenderWriteResult> {
    const attempt = async (): Promise<SenderWriteResult> => {
      const expected = expectedVersion ?? await this.#store.settingsVersion();
      await this.#settings.refresh();
      await this.reload();
      const doc: StoredDoc = structuredClone(this.#doc);
      const r = await fn(doc);
      if (!r.ok) return r;
      await this.#store.saveSettings({ [SENDERS_ROW]: JSON.stringify(doc), ...r.extraRows }, { at: this.#now(), actor, action: r.audit?.action ?? 'senders.update', detail: r.audit?.detail ?? {} }, { expectedVersion: expected });
      await this.#settings.refresh();
      await this.reload();
      return { ok: true } as SenderWriteResult;
    };
    const run = this.#writes.then(() => {
      const ro = this.#readOnly();
      if (ro) return ro;
      return expectedVersion !== undefined ? attempt() : retryOnConflict(attempt);
    });
    this.#writes = run.catch(() => undefined);
    return run;
  }

  /** Create (`create`) or replace a sender. */
  putSender(input: unknown, actor: string, o: { create: boolean; address?: string }): Promise<SenderWriteResult> {
    return this.#write(async (doc) => {
      const r = senderSchema.safeParse(input);
      if (!r.success) return { ok: false, status: 422, problems: r.error.issues.map((i) => ({ key: pathText(i.path), message: `${pathText(i.path)}: ${i.message}` })) };
      const s = r.data;
      const address = s.address.toLowerCase();
      if (o.address !== undefined && o.address.toLowerCase() !== address) return { ok: false, status: 422, problems: [{ key: 'address', message: 'address: a sender\'s address cannot change; create a new sender' }] };
      const def = this.#snapshot.defaultSender;
      if (address === def) return { ok: false, status: 409, problems: [{ key: 'address', message: `address: ${address} is the default sender, configured by the Email Settings` }] };
      const i = doc.senders.findIndex((x) => x.address.toLowerCase() === address);
      if (o.create && i >= 0) return { ok: false, status: 409, problems: [{ key: 'address', message: `address: a sender ${address} exists already` }] };
      if (!o.create && i < 0) return { ok: false, status: 404, problems: [{ key: 'address', message: `no stored sender ${address}` }] };
      const known = [DEFAULT_CREDENTIAL, ...doc.credentials.map((c) => c.name.toLowerCase())];
      if (!known.includes(s.credential.toLowerCase())) return { ok: false, status: 422, problems: [{ key: 'credential', message: `credential: no credential named "${s.credential}"` }] };
      const entry: SenderConfig = { ...s, address };
      if (i >= 0) doc.senders[i] = entry;
      else doc.senders.push(entry);
      return { ok: true, audit: { action: o.create ? 'sender.create' : 'sender.update', detail: { address } } };
    }, actor);
  }

  /** Delete a stored sender; refused while messages for it are queued, retrying or sending. */
  deleteSender(address: string, actor: string): Promise<SenderWriteResult> {
    return this.#write(async (doc) => {
      const a = address.trim().toLowerCase();
      const i = doc.senders.findIndex((x) => x.address.toLowerCase() === a);
      if (i < 0) return { ok: false, status: a === this.#snapshot.defaultSender ? 409 : 404, problems: [{ key: 'address', message: a === this.#snapshot.defaultSender ? `${a} is the default sender (the Email Settings)` : `no stored sender ${a}` }] };
      for (const status of ['queued', 'retrying', 'sending'] as const) {
        const page = await this.#store.list({ sender: a, status, limit: 1 });
        if (page.items.length) return { ok: false, status: 409, problems: [{ key: 'address', message: `${a} has ${status} messages: fail them or let them be delivered before deleting the sender` }] };
      }
      doc.senders.splice(i, 1);
      return { ok: true, audit: { action: 'sender.delete', detail: { address: a } } };
    }, actor);
  }

  /**
   * Create or replace a credential (the API: secret values only, stored encrypted). A secret
   * omitted keeps the stored one. Moving a destination (cloud, authority, SMTP host or port,
   * Graph endpoint) needs the secret entered again in the same request
   * (core/credential-destinations.ts, per credential).
   */
  putCredential(input: unknown, actor: string, o: { create: boolean; name?: string }): Promise<SenderWriteResult> {
    return this.#write(async (doc) => {
      const r = credentialSchema('value').safeParse(input);
      if (!r.success) return { ok: false, status: 422, problems: r.error.issues.map((i) => ({ key: pathText(i.path), message: `${pathText(i.path)}: ${i.message}` })) };
      const c = r.data;
      if (c.name.toLowerCase() === DEFAULT_CREDENTIAL) return { ok: false, status: 409, problems: [{ key: 'name', message: `name: "${DEFAULT_CREDENTIAL}" is the Email Settings' credential; change it on the Email Settings` }] };
      if (o.name !== undefined && o.name.toLowerCase() !== c.name.toLowerCase()) return { ok: false, status: 422, problems: [{ key: 'name', message: 'name: a credential\'s name cannot change' }] };
      const i = doc.credentials.findIndex((x) => x.name.toLowerCase() === c.name.toLowerCase());
      if (o.create && i >= 0) return { ok: false, status: 409, problems: [{ key: 'name', message: `name: a credential "${c.name}" exists already` }] };
      if (!o.create && i < 0) return { ok: false, status: 404, problems: [{ key: 'name', message: `no stored credential "${c.name}"` }] };
      const before = i >= 0 ? doc.credentials[i] : undefined;
      const { clientSecret, clientCertificate, secondary: dropSecondary, ...rest } = c;
      const next: StoredCredential = { ...rest };
      // The secondary is kept (it is managed by the rotation steps) unless `secondary: null` drops it.
      if (before?.secondary && dropSecondary !== null) next.secondary = before.secondary;
      if (clientSecret !== undefined) next.clientSecretEncrypted = encryptValue(this.#key, clientSecret, aad(c.name, 'clientSecret'));
      else if (before?.clientSecretEncrypted || before?.clientSecret) Object.assign(next, pick(before, ['clientSecretEncrypted', 'clientSecret']));
      if (clientCertificate !== undefined) next.clientCertificateEncrypted = encryptValue(this.#key, clientCertificate, aad(c.name, 'clientCertificate'));
      else if (before?.clientCertificateEncrypted || before?.clientCertificate) Object.assign(next, pick(before, ['clientCertificateEncrypted', 'clientCertificate']));
      if (!next.clientSecretEncrypted && !next.clientSecret && !next.clientCertificateEncrypted && !next.clientCertificate) {
        return { ok: false, status: 422, problems: [{ key: 'clientSecret', message: 'clientSecret or clientCertificate is required' }] };
      }
      if (before) {
        const moved = movedDestinations(destinationsOf(before), destinationsOf(next));
        const kept = [
          ...(clientSecret === undefined && (before.clientSecretEncrypted || before.clientSecret) ? ['clientSecret'] : []),
          ...(clientCertificate === undefined && (before.clientCertificateEncrypted || before.clientCertificate) ? ['clientCertificate'] : []),
        ];
        if (moved.length && kept.length) {
          return { ok: false, status: 422, problems: kept.map((k) => ({ key: k, message: `${k}: changing ${moved.join(', ')} sends the credential somewhere else: enter ${k} again in the same request (or remove it)` })) };
        }
        // The secondary would follow the primary to the new destination (failover): it is
        // dropped in the same request ("secondary": null) or removed first, never redirected.
        if (moved.length && next.secondary) {
          return { ok: false, status: 422, problems: [{ key: 'secondary', message: `secondary: changing ${moved.join(', ')} sends the credential somewhere else, the secondary too: send "secondary": null in the same request (or remove it first: DELETE /api/v1/credentials/${c.name}/secondary), then add it again` }] };
        }
      }
      if (i >= 0) doc.credentials[i] = next;
      else doc.credentials.push(next);
      return { ok: true, audit: { action: o.create ? 'credential.create' : 'credential.update', detail: { name: c.name, secretChanged: clientSecret !== undefined || clientCertificate !== undefined, ...(before?.secondary && !next.secondary ? { secondaryDropped: true } : {}) } } };
    }, actor);
  }

  /**
   * Change one stored credential in place (the rotation steps, credential-rotation-service.ts):
   * `mutate` edits the stored row (ciphertext only) and returns the audit entry (never a
   * secret) and rows saved in the same transaction, or a refusal.
   */
  updateStoredCredential(name: string, actor: string, mutate: (c: StoredCredential, key: Buffer) => SenderWriteResult & { audit?: { action: string; detail: Record<string, unknown> }; extraRows?: Record<string, string | null> }, options: { expectedVersion?: number } = {}): Promise<SenderWriteResult> {
    return this.#write(async (doc) => {
      const c = doc.credentials.find((x) => x.name.toLowerCase() === name.toLowerCase());
      if (!c) return { ok: false, status: 404, problems: [{ key: 'name', message: `no stored credential "${name}"` }] };
      return mutate(c, this.#key);
    }, actor, options.expectedVersion);
  }

  /** The stored row of a credential (ciphertext and references only), for the rotation view. */
  storedCredential(name: string): StoredCredential | undefined {
    return this.#doc.credentials.find((x) => x.name.toLowerCase() === name.toLowerCase());
  }

  deleteCredential(name: string, actor: string): Promise<SenderWriteResult> {
    return this.#write(async (doc) => {
      const i = doc.credentials.findIndex((x) => x.name.toLowerCase() === name.toLowerCase());
      if (i < 0) return { ok: false, status: 404, problems: [{ key: 'name', message: `no stored credential "${name}"` }] };
      const users = doc.senders.filter((s) => s.credential.toLowerCase() === name.toLowerCase()).map((s) => s.address);
      if (users.length) return { ok: false, status: 409, problems: [{ key: 'name', message: `credential "${name}" is used by ${users.join(', ')}: delete or move those senders first` }] };
      doc.credentials.splice(i, 1);
      return { ok: true, audit: { action: 'credential.delete', detail: { name } } };
    }, actor);
  }

  /**
   * `mailgate config import`: store a checked configuration (references kept as references).
   * Its first sender becomes the default sender: the Email Settings keep their own values and
   * the first sender must be the Email Settings' Authorized from Address, or the Email Settings
   * must be empty (then the first credential and sender are written there).
   */
  importConfig(config: SendersConfig, actor: string): Promise<SenderWriteResult> {
    return this.#write(async (doc) => {
      const def = this.#snapshot.defaultSender;
      const first = config.senders[0];
      const rest = config.senders.slice(def && first.address.toLowerCase() !== def ? 0 : 1);
      doc.credentials = config.credentials.filter((c) => c.name.toLowerCase() !== DEFAULT_CREDENTIAL).map(({ secondary, ...c }) => ({ ...c, ...(secondary ? { secondary: { ...secondary } } : {}) }));
      doc.senders = rest.filter((s) => s.address.toLowerCase() !== def).map((s) => ({ ...s, address: s.address.toLowerCase() }));
      return { ok: true, audit: { action: 'config.import', detail: { credentials: doc.credentials.length, senders: doc.senders.length } } };
    }, actor);
  }
}

export interface SendersServiceOptions {
  store: ConfigStore & Pick<OutboxStore, 'list'>;
  settings: SettingsService;
  masterKey: Buffer;
  env: Record<string, string | undefined>;
  /** The MAILGATE_CONFIG file's configuration (checked), when set. */
  file?: SendersConfig;
  now?: () => number;
}

const fingerprints = new WeakMap<EmailSettings, string>();

/** Every value of the settings, secrets included (hashed): equal settings, equal fingerprint. */
function settingsFingerprint(s: EmailSettings): string {
  let f = fingerprints.get(s);
  if (f === undefined) {
    const plain = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v instanceof Secret ? `secret:${v.reveal()}` : v]));
    f = createHash('sha256').update(JSON.stringify(plain)).digest('hex');
    fingerprints.set(s, f);
  }
  return f;
}

function limitsOf(s: SenderConfig): Pick<SenderInfo, 'ratePerMinute' | 'maxConnections' | 'dailyRecipients'> {
  return {
    ...(s.ratePerMinute !== undefined ? { ratePerMinute: s.ratePerMinute } : {}),
    ...(s.maxConnections !== undefined ? { maxConnections: s.maxConnections } : {}),
    ...(s.dailyRecipients !== undefined ? { dailyRecipients: s.dailyRecipients } : {}),
  };
}

function pick<T extends object>(o: T, keys: (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function destinationsOf(c: StoredCredential): RawSettings {
  return { cloud: c.cloud, authorityHost: c.authorityHost, smtpHost: c.smtpHost, smtpPort: c.smtpPort, graphEndpoint: c.graphEndpoint };
}

/** The identity variables, for messages (re-exported for the CLI). */
export const SINGLE_SENDER_VARIABLES = IDENTITY_KEYS.map((k) => FIELD_BY_KEY[k].env);
