/**
 * The effective Email Settings of the service: stored values (editable through the API and
 * the admin page) overridden by environment variables, validated by the core's
 * `parseSettings`, with the source of every value reported.
 *
 * Why: administrators configure Mailgate on a settings page, operators pin values with
 * environment variables, and both must see which value wins. Stored secrets are encrypted
 * (secret-box.ts) and never leave this module except as `Secret` inside EmailSettings; views
 * for the API carry only `<key>Set: boolean`. Every change is validated as a whole before it
 * is saved and is recorded in the audit log with the changed keys (never secret values).
 * Other processes sharing the store notice a change through the store's settings version
 * (`refresh()`), so the worker's mailer is rebuilt without a restart.
 *
 * Imports: src/core (settings, errors, credential-destinations), auth/client-certificate (checked
 * when saved), ../outbox/store, ./secret-box, ../delivery/mailer-source types.
 */
import { isMailgateError, MailgateError, type Problem } from '../../core/errors.js';
import { Secret } from '../../core/secret.js';
import { readClientCertificate } from '../../auth/client-certificate.js';
import { credentialDestinationProblems } from '../../core/credential-destinations.js';
import { FIELD_BY_KEY, isSecretField, parseSettings, publicSettings, secretValues, SETTING_KEYS, SETTINGS_FIELDS, settingsFromEnv, type EmailSettings, type RawSettings, type SettingKey } from '../../core/settings.js';
import { SettingsConflictError, type ConfigStore } from '../outbox/store.js';
import { decryptValue, encryptValue, isEncrypted, keyCheck, keyMatches, MasterKeyError } from './secret-box.js';
import type { SettingsSnapshot } from '../delivery/mailer-source.js';

export type SettingSource = 'env' | 'stored' | 'default';

const KEY_CHECK = 'crypto.keyCheck';

/** The settings as the API and the admin page see them: no secret values. */
export interface SettingsView {
  version: number;
  valid: boolean;
  /** Non-secret values (typed when valid), plus `<key>Set: boolean` for every secret. */
  values: Record<string, unknown>;
  sources: Record<SettingKey, SettingSource>;
  problems: Problem[];
  warnings: Problem[];
}

export interface UpdateOptions {
  /** The rotation service (issue 17): may set the secondary credential's keys. */
  rotation?: boolean;
  /** The audit row's action and extra detail (never a secret), instead of `settings.update`. */
  audit?: { action: string; detail?: Record<string, unknown> };
  /** Further rows saved in the same transaction (the rotation's metadata row). */
  extraRows?: Record<string, string | null>;
  /**
   * The settings version the caller decided on (it read the state itself, e.g. the rotation
   * service): saved only if the version is still that one, else SettingsConflictError is thrown
   * for the caller to retry its whole decision. Without it, `update` retries on its own.
   */
  expectedVersion?: number;
}

/** How many times a decision is made again on fresh state before SETTINGS_CONFLICT is given up with. */
export const CONFLICT_ATTEMPTS = 5;

/**
 * Run `attempt` (reload → decide → compare-and-set save) again while the save finds that another
 * writer saved in between (SettingsConflictError): each retry decides on the fresh state, so a
 * step that is no longer allowed is refused with its usual explanation instead of overwriting the
 * other writer's change. Gives up with MailgateError SETTINGS_CONFLICT (HTTP 409) only when the
 * conflicts persist.
 */
export async function retryOnConflict<T>(attempt: () => Promise<T>, attempts = CONFLICT_ATTEMPTS): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof SettingsConflictError)) throw error;
      if (i >= attempts) {
        throw new MailgateError({ code: 'SETTINGS_CONFLICT', phase: 'settings', retryable: true, message: `The settings kept changing while this change was being saved (${attempts} attempts: another administrator, instance or \`mailgate credentials\` saved at the same time). Nothing was changed: reload the page or the settings and try again.` });
      }
      // A short, growing, jittered pause so two writers retrying in lockstep part ways.
      await new Promise((r) => setTimeout(r, Math.random() * 20 * i));
    }
  }
}

export type UpdateResult =
  | { ok: true; view: SettingsView; changedKeys: SettingKey[] }
  /** `reenter`: the credentials the change of a destination needs entered again (or cleared). */
  | { ok: false; problems: Problem[]; reenter: SettingKey[] };

interface Loaded {
  version: number;
  stored: RawSettings;
  settings?: EmailSettings;
  view: SettingsView;
  /** The secret values in effect (computed once per load: every log line asks for them). */
  secrets: string[];
}

const WRONG_KEY = 'The master key (MAILGATE_MASTER_KEY or the data dir\'s master.key) is not the one the stored secrets were encrypted with. Use the original key, or clear the stored secrets and enter them again.';

/** The stored rows of known settings, secrets decrypted (MasterKeyError when one cannot be). */
function decryptStored(key: Buffer, rows: Record<string, string>): RawSettings {
  const stored: RawSettings = {};
  for (const [name, value] of Object.entries(rows)) {
    if (!(SETTING_KEYS as readonly string[]).includes(name)) continue;
    const k = name as SettingKey;
    stored[k] = isSecretField(k) ? decryptValue(key, value, `settings.${k}`) : value;
  }
  return stored;
}

/**
 * The effective raw settings (stored, decrypted, then environment values on top, as the service
 * computes them) read without writing anything: the doctor's `--data-dir`. Stricter than
 * `SettingsService.open`: a key check that does not match is refused even when no secret is
 * stored yet (the service would then adopt the new key and overwrite the check; a reader must
 * not, and a key other than the service's is what the user needs to hear about).
 */
export async function readEffectiveSettings(store: Pick<ConfigStore, 'getSettings' | 'getMeta'>, masterKey: Buffer, env: Record<string, string | undefined>): Promise<RawSettings> {
  const check = await store.getMeta(KEY_CHECK);
  if (check !== undefined && !keyMatches(masterKey, check)) {
    throw new MasterKeyError('The master key (MAILGATE_MASTER_KEY or the data dir\'s master.key) is not the one this data dir\'s service uses (its key check does not match). Use the service\'s key.');
  }
  return { ...decryptStored(masterKey, await store.getSettings()), ...settingsFromEnv(env).raw };
}

export class SettingsService {
  readonly #store: ConfigStore;
  readonly #key: Buffer;
  readonly #env: { raw: RawSettings; keys: SettingKey[] };
  readonly #now: () => number;
  #loaded!: Loaded;
  readonly #listeners = new Set<(view: SettingsView) => void>();
  /** Updates run one at a time (see `update`). */
  #updates: Promise<unknown> = Promise.resolve();

  private constructor(store: ConfigStore, key: Buffer, env: Record<string, string | undefined>, now: () => number) {
    this.#store = store;
    this.#key = key;
    this.#env = settingsFromEnv(env);
    this.#now = now;
  }

  /** Load the settings; throws MasterKeyError when the stored secrets were encrypted with another key. */
  static async open(o: { store: ConfigStore; masterKey: Buffer; env: Record<string, string | undefined>; now?: () => number }): Promise<SettingsService> {
    const svc = new SettingsService(o.store, o.masterKey, o.env, o.now ?? Date.now);
    const check = await o.store.getMeta(KEY_CHECK);
    if (check !== undefined && !keyMatches(o.masterKey, check)) {
      const stored = await o.store.getSettings();
      if (Object.values(stored).some(isEncrypted)) {
        throw new MasterKeyError(WRONG_KEY);
      }
      await o.store.setMeta(KEY_CHECK, keyCheck(o.masterKey));
    } else if (check === undefined) {
      await o.store.setMetaIfAbsent(KEY_CHECK, keyCheck(o.masterKey));
    }
    svc.#loaded = await svc.#load();
    return svc;
  }

  /** The current view (cached; cheap). */
  view(): SettingsView {
    return this.#loaded.view;
  }

  /** Valid settings, or undefined. */
  settings(): EmailSettings | undefined {
    return this.#loaded.settings;
  }

  /**
   * The effective raw values (stored, then environment overrides), valid or not: what the
   * doctor checks, so it can report every settings problem too. Holds decrypted secrets:
   * never serialise it.
   */
  effectiveRaw(): RawSettings {
    return { ...this.#loaded.stored, ...this.#env.raw };
  }

  /** For the worker's MailerSource. */
  snapshot(): SettingsSnapshot {
    return { version: this.#loaded.version, settings: this.#loaded.settings };
  }

  /** The secret values in effect (for scrubbing texts before they are stored or shown). */
  secrets(): string[] {
    return this.#loaded.secrets;
  }

  onChange(listener: (view: SettingsView) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reload when another process changed the stored settings. Returns true when reloaded. */
  async refresh(): Promise<boolean> {
    const v = await this.#store.settingsVersion();
    if (v === this.#loaded.version) return false;
    this.#loaded = await this.#load();
    for (const l of this.#listeners) l(this.#loaded.view);
    return true;
  }

  async #load(): Promise<Loaded> {
    const version = await this.#store.settingsVersion();
    const stored = decryptStored(this.#key, await this.#store.getSettings());
    const effective: RawSettings = { ...stored, ...this.#env.raw };
    const parsed = parseSettings(effective);
    const sources = Object.fromEntries(
      SETTING_KEYS.map((k) => [k, this.#env.keys.includes(k) ? 'env' : stored[k] !== undefined ? 'stored' : 'default']),
    ) as Record<SettingKey, SettingSource>;
    const values = parsed.ok ? publicSettings(parsed.settings) : rawPublicValues(effective);
    const view: SettingsView = {
      version,
      valid: parsed.ok,
      values,
      sources,
      problems: parsed.ok ? [] : parsed.problems,
      warnings: parsed.warnings,
    };
    return { version, stored, settings: parsed.ok ? parsed.settings : undefined, view, secrets: secretValues(effective) };
  }

  /**
   * Validate and save a change. Rules: unknown keys are refused; a secret that is omitted or
   * empty keeps the stored one, `null` clears it; any other key set to `null` or "" is cleared
   * (its default applies); a key set by an environment variable cannot be changed here.
   * The merged settings must pass `parseSettings` or nothing is saved.
   *
   * Updates are serialised: checking a certificate file is asynchronous, and two interleaved
   * updates would each be checked against the settings before the other (e.g. one moving the
   * SMTP host with a throw-away secret, one setting a certificate file back), so their sum
   * could pass what neither may do alone (core/credential-destinations.ts).
   */
  update(patch: Record<string, unknown>, actor: string, options: UpdateOptions = {}): Promise<UpdateResult> {
    // Another process may save between the reload and the save: the save is a compare-and-set on
    // the version this decision was made on, and a conflict makes the whole decision again.
    const attempt = () => this.#update(patch, actor, options);
    const run = this.#updates.then(() => options.expectedVersion !== undefined ? attempt() : retryOnConflict(attempt));
    this.#updates = run.catch(() => undefined);
    return run;
  }

  async #update(patch: Record<string, unknown>, actor: string, options: UpdateOptions): Promise<UpdateResult> {
    // Checked against the stored settings, not this process's last copy (another instance or
    // `mailgate credentials` may have written since; the poll is up to a second late): a
    // destination move checked against a copy without a just-added secondary credential would
    // send that secondary to the new destination without anyone re-entering it.
    await this.refresh();
    const expectedVersion = options.expectedVersion ?? this.#loaded.version;
    const problems: Problem[] = [];
    const next: RawSettings = { ...this.#loaded.stored };
    const changes: Record<string, string | null> = {};
    const changedKeys: SettingKey[] = [];
    for (const [key, value] of Object.entries(patch)) {
      if (!(SETTING_KEYS as readonly string[]).includes(key)) {
        problems.push({ key, message: `${key}: unknown setting` });
        continue;
      }
      const k = key as SettingKey;
      const f = FIELD_BY_KEY[k];
      if (value === undefined) continue;
      if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) {
        problems.push({ key: k, env: f.env, label: f.label, message: `${f.label} (${k}) must be text, a number or true/false` });
        continue;
      }
      const secret = f.kind === 'secret';
      if (secret && value === '') continue;
      // The secondary credential is set through the rotation steps (audited as such, its test
      // recorded); an ordinary change may only drop it (null), e.g. with a destination move.
      if (f.rotation && !options.rotation && value !== null) {
        problems.push({ key: k, env: f.env, label: f.label, message: `${f.label} (${k}) is set with the rotation steps (POST /api/v1/credentials/default/secondary or \`mailgate credentials add default\`), or ${f.env}; here it can only be removed (null)` });
        continue;
      }
      if (this.#env.keys.includes(k)) {
        // The page may send back the value it showed read-only; anything else is a change.
        if (!secret && value !== null && String(value) === String(this.#env.raw[k])) continue;
        problems.push({ key: k, env: f.env, label: f.label, message: `${f.label} (${k}) is set by the environment variable ${f.env}; change it there` });
        continue;
      }
      const clear = value === null || value === '';
      const before = this.#loaded.stored[k];
      const after = clear ? undefined : String(value);
      if (after === (before === undefined ? undefined : String(before))) continue;
      if (after === undefined) delete next[k];
      else next[k] = after;
      changes[k] = after === undefined ? null : secret ? encryptValue(this.#key, after, `settings.${k}`) : after;
      changedKeys.push(k);
    }
    // A change of where credentials are sent must come with the credentials themselves
    // (core/credential-destinations.ts: the destinations, the credential kinds, the env cases).
    const redirect = credentialDestinationProblems({ before: this.effectiveRaw(), after: { ...next, ...this.#env.raw }, patch, envKeys: this.#env.keys });
    problems.push(...redirect);
    problems.push(...(await certificateProblems({ ...next, ...this.#env.raw }, changedKeys)));
    const parsed = parseSettings({ ...next, ...this.#env.raw });
    if (!parsed.ok) {
      const seen = new Set(problems.map((p) => p.key));
      problems.push(...parsed.problems.filter((p) => !seen.has(p.key)));
    }
    if (problems.length) return { ok: false, problems, reenter: redirect.map((p) => p.key as SettingKey) };
    if (changedKeys.length || options.extraRows) {
      await this.#store.saveSettings({ ...changes, ...options.extraRows }, { at: this.#now(), actor, action: options.audit?.action ?? 'settings.update', detail: { keys: changedKeys, ...options.audit?.detail } }, { expectedVersion });
      this.#loaded = await this.#load();
      for (const l of this.#listeners) l(this.#loaded.view);
    }
    return { ok: true, view: this.#loaded.view, changedKeys };
  }
}

/**
 * A changed client certificate must be readable and hold a key that matches the certificate:
 * checked when it is saved, so a bad file is refused at once instead of stopping delivery later.
 * A changed path is checked on its own even when a PEM (which wins) is set: every path a
 * setting names must be a regular file of at most 64 KB, read without blocking the event loop
 * (config/bounded-file.ts), never a device or a FIFO.
 */
async function certificateProblems(raw: RawSettings, changedKeys: SettingKey[]): Promise<Problem[]> {
  return [
    ...(await slotCertificateProblems(raw, changedKeys, 'clientCertificatePath', 'clientCertificatePem')),
    // The secondary's certificate (rotation) is checked the same way when it is set.
    ...(await slotCertificateProblems(raw, changedKeys, 'clientCertificatePathSecondary', 'clientCertificatePemSecondary')),
  ];
}

async function slotCertificateProblems(raw: RawSettings, changedKeys: SettingKey[], pathKey: SettingKey, pemKey: SettingKey): Promise<Problem[]> {
  const pathChanged = changedKeys.includes(pathKey);
  if (!pathChanged && !changedKeys.includes(pemKey)) return [];
  const rawPath = raw[pathKey];
  const rawPem = raw[pemKey];
  const path = typeof rawPath === 'string' && rawPath.trim() ? rawPath.trim() : undefined;
  const pem = typeof rawPem === 'string' && rawPem ? new Secret(rawPem) : undefined;
  const checks: { path?: string; pem?: Secret }[] = [];
  if (pem) checks.push({ pem });
  if (path && (pathChanged || !pem)) checks.push({ path });
  const out: Problem[] = [];
  for (const check of checks) {
    try {
      await readClientCertificate(check);
    } catch (error) {
      const key = check.pem ? pemKey : pathKey;
      const problems = isMailgateError(error) && error.problems ? error.problems : [{ key, message: `${FIELD_BY_KEY[key].label}: cannot be used` }];
      out.push(...problems.map((p) => (pemKey === 'clientCertificatePemSecondary' ? { ...p, key, label: FIELD_BY_KEY[key].label, env: FIELD_BY_KEY[key].env, message: `${FIELD_BY_KEY[key].label}: ${p.message}` } : p)));
    }
  }
  return out;
}

/** Public values from raw (unvalidated) settings: non-secret values as given, secrets as `<key>Set`. */
function rawPublicValues(raw: RawSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of SETTINGS_FIELDS) {
    const v = raw[f.key];
    if (f.kind === 'secret') out[`${f.key}Set`] = v !== undefined && v !== '';
    else if (v !== undefined) out[f.key] = v;
  }
  return out;
}
