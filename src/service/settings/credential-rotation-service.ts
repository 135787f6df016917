/**
 * Credential rotation (issue 17 item 3): two live credentials per app registration, the
 * primary and an optional secondary, and the four audited steps of a rotation without
 * downtime: add the new credential as the secondary → test it (a real, uncached token request
 * with it alone) → promote it (swap) → remove the old one. The API, the CLI and the admin page
 * all go through this one service, with the rules of core/credential-rotation.ts.
 *
 * Where the secondary lives:
 * - the default credential (the Email Settings): the settings keys `clientSecretSecondary`,
 *   `clientCertificatePemSecondary` (encrypted like the primary), `clientCertificatePathSecondary`,
 *   `clientSecretExpiresSecondary`, written through SettingsService.update (validated, audited,
 *   versioned: running workers pick the change up the usual way); MAILGATE_*_SECONDARY
 *   variables make it read-only (source `environment`);
 * - a stored named credential: its stored row (`secondary`, ciphertext);
 * - MAILGATE_CONFIG: its `secondary:` references, read-only (409 `credential-read-only`).
 * Metadata that is not a secret (when a slot was added, its last test) is one settings row
 * (`credentials.rotation`), each entry tied to the slot's value by an HMAC (master key), so a
 * test of an old secondary never vouches for a new one.
 *
 * Failover (auth/credential-failover.ts switches in the token provider) is reported here:
 * `recordFailover` keeps the state for the views (`active`, `failover`), and the service's
 * composition root logs, counts and alerts (credential-failover-alert.ts).
 *
 * No secret ever leaves: views carry a kind, an expiry, a thumbprint and at most the first 3
 * characters of a secret (as Entra's own hint); audit rows name the step, never the value.
 *
 * Imports: src/core, auth/client-certificate (the certificate's thumbprint and expiry),
 * ../outbox/store types, ./secret-box, ./settings-store, ./senders-service, ./credential-slots.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { applyRotationStep, type RotationSlot, type RotationState, type SlotTest } from '../../core/credential-rotation.js';
import { parseExpiryDate } from '../../core/credential-expiry.js';
import { DEFAULT_CREDENTIAL } from '../../core/senders.js';
import { MailgateError, isMailgateError, type Problem } from '../../core/errors.js';
import { Secret, scrubText } from '../../core/secret.js';
import type { EmailSettings } from '../../core/settings.js';
import { loadClientCertificate, readClientCertificate } from '../../auth/client-certificate.js';
import type { ConfigStore } from '../outbox/store.js';
import { encryptValue } from './secret-box.js';
import { retryOnConflict, type SettingsService } from './settings-store.js';
import { aad, type SendersService, type StoredCredential, type StoredSlot } from './senders-service.js';
import { pick, reencrypt, SLOT_KEYS, slotOf, withSlotAlone, type SlotValues } from './credential-slots.js';

export { secondarySettings, withSlotAlone } from './credential-slots.js';

export interface CredentialSlotView {
  kind: 'secret' | 'certificate';
  expires?: string;
  thumbprint?: string;
  /** The first 3 characters of a secret at most, like Entra's hint. */
  hint?: string;
  addedAt?: string;
  lastTest?: { at: string; ok: boolean; code?: string; summary?: string };
}

export interface CredentialRotationView {
  name: string;
  source: 'settings' | 'stored' | 'file' | 'environment';
  readOnly: boolean;
  primary: CredentialSlotView | null;
  secondary: CredentialSlotView | null;
  /** Which slot the token provider uses now (secondary after a failover, until the credential's settings change). */
  active: 'primary' | 'secondary';
  failover?: { at: string; code: string };
}

export interface SlotTestResult {
  ok: boolean;
  code?: string;
  summary?: string;
  fixes?: string[];
}

export interface SecondaryInput {
  clientSecret?: string;
  clientCertificate?: string;
  clientSecretExpires?: string;
}

/**
 * The rotation steps. Writes return a Promise (the brief's first draft had them synchronous):
 * the store commits asynchronously (SQLite group commit, PostgreSQL), and a view returned
 * before the commit would claim a change that may still fail.
 * Failures throw: CredentialNotFoundError (404), MailgateError ROTATION_STEP_INVALID (409),
 * CREDENTIAL_READ_ONLY (409), SETTINGS_CONFLICT (409: other writers kept saving while the step was
 * decided again), SETTINGS_INVALID with `problems` (422). `rotationFailure` maps them.
 */
export interface CredentialRotation {
  list(): CredentialRotationView[];
  get(name: string): CredentialRotationView | undefined;
  addSecondary(name: string, input: SecondaryInput, actor: string): Promise<CredentialRotationView>;
  /** A real, uncached token request with that slot alone; the result is recorded (audited). */
  test(name: string, slot: RotationSlot, actor: string): Promise<SlotTestResult>;
  promote(name: string, actor: string, options?: { force?: boolean }): Promise<CredentialRotationView>;
  removeSecondary(name: string, actor: string): Promise<CredentialRotationView>;
  /** The credentials running on their secondary after a failover (cheap: for /readyz and banners). */
  activeFailovers?(): { name: string; at: string; code: string }[];
}

export class CredentialNotFoundError extends Error {
  override readonly name = 'CredentialNotFoundError';
}

/** How the API and the admin page answer a failed step: status, problem type, detail, problems. */
export function rotationFailure(error: unknown): { status: 404 | 409 | 422; type: string; title: string; detail: string; problems?: Problem[] } | undefined {
  if (error instanceof CredentialNotFoundError) return { status: 404, type: 'not-found', title: 'Not found', detail: error.message };
  if (!isMailgateError(error)) return undefined;
  if (error.code === 'ROTATION_STEP_INVALID') return { status: 409, type: 'rotation-step-invalid', title: 'Rotation step not allowed now', detail: error.message };
  if (error.code === 'CREDENTIAL_READ_ONLY') return { status: 409, type: 'credential-read-only', title: 'Credential is read-only', detail: error.message };
  if (error.code === 'SETTINGS_CONFLICT') return { status: 409, type: 'settings-conflict', title: 'Settings changed at the same time', detail: error.message };
  if (error.code === 'SETTINGS_INVALID') return { status: 422, type: 'validation', title: 'Invalid values', detail: error.message, ...(error.problems ? { problems: error.problems } : {}) };
  return undefined;
}

/** The settings row of the rotation metadata (no secrets). */
export const ROTATION_ROW = 'credentials.rotation';

interface SlotMeta {
  /** HMAC of the slot's value: the metadata belongs to this value only. */
  fp: string;
  addedAt?: string;
  lastTest?: SlotTest;
}
type MetaDoc = Record<string, { primary?: SlotMeta; secondary?: SlotMeta }>;

/** A credential as this service reads it: `values` holds its settings (decrypted: never serialise). */
interface Entry {
  name: string;
  source: CredentialRotationView['source'];
  values?: Record<string, unknown>;
}


const inputSchema = z.strictObject({
  clientSecret: z.string().min(1).max(1024).refine((s) => !/[\r\n\0]/.test(s), 'must be one line (the secret\'s Value from Certificates & secrets)')
    .refine((s) => !/^(env|file):/.test(s), 'must be the secret value (stored encrypted), not a reference').optional(),
  clientCertificate: z.string().min(1).max(65_536).refine((s) => s.includes('-----BEGIN'), 'must be PEM text holding the certificate and its private key').optional(),
  clientSecretExpires: z.string().max(40).refine((s) => parseExpiryDate(s) !== undefined, 'must be a date such as 2027-06-01 (YYYY-MM-DD, read as 00:00 UTC) or an ISO 8601 date-time such as 2027-06-01T09:30:00Z').optional(),
}).superRefine((o, ctx) => {
  if ((o.clientSecret === undefined) === (o.clientCertificate === undefined)) ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: 'give exactly one of clientSecret or clientCertificate' });
  if (o.clientSecretExpires !== undefined && o.clientSecret === undefined) ctx.addIssue({ code: 'custom', path: ['clientSecretExpires'], message: 'is for a client secret (a certificate\'s expiry is read from the certificate)' });
});

export interface CredentialRotationServiceOptions {
  settings: SettingsService;
  senders: SendersService;
  store: Pick<ConfigStore, 'saveSettings' | 'getSettings' | 'settingsVersion' | 'appendAudit'>;
  masterKey: Buffer;
  /** One real, uncached token request with these settings (their primary alone); throws the token error. */
  testToken: (settings: EmailSettings) => Promise<unknown>;
  /** Explains a failed test (core/diagnosis): summary and fixes. */
  diagnose: (error: unknown) => { summary: string; fixes: string[] };
  now?: () => number;
}

export class CredentialRotationService implements CredentialRotation {
  readonly #o: CredentialRotationServiceOptions;
  readonly #now: () => number;
  #meta: MetaDoc = {};
  /** Failover per credential (lower-case name), valid while the credential's values are the same. */
  readonly #failovers = new Map<string, { at: number; code: string; fp: string }>();
  readonly #certificates = new Map<string, { thumbprint?: string; expires?: string }>();
  #steps: Promise<unknown> = Promise.resolve();

  private constructor(o: CredentialRotationServiceOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  static async open(o: CredentialRotationServiceOptions): Promise<CredentialRotationService> {
    const s = new CredentialRotationService(o);
    await s.#loadMeta();
    // Another process (the CLI, another instance) may have changed the metadata.
    o.settings.onChange(() => void s.#loadMeta().catch(() => undefined));
    return s;
  }

  /** Load what another process may have changed: the settings, the stored credentials, the metadata. */
  async #sync(): Promise<void> {
    await this.#o.settings.refresh();
    await this.#o.senders.reload();
    await this.#loadMeta();
  }

  async #loadMeta(): Promise<void> {
    const rows = await this.#o.store.getSettings();
    try {
      this.#meta = rows[ROTATION_ROW] ? (JSON.parse(rows[ROTATION_ROW]) as MetaDoc) : {};
    } catch {
      this.#meta = {};
    }
  }

  #fp(slot: SlotValues): string {
    return createHmac('sha256', this.#o.masterKey).update(JSON.stringify(['rotation-slot', slot.secret ?? '', slot.pem ?? '', slot.path ?? ''])).digest('hex').slice(0, 32);
  }

  // ---- reading ----

  /** The credential names with where each comes from. */
  #entries(): Entry[] {
    const senders = this.#o.senders;
    const settingsByName = new Map(senders.credentialSettings().list.map((c) => [c.name.toLowerCase(), c.settings]));
    return senders.credentials().map((c) => {
      if (c.source === 'settings') {
        const sources = this.#o.settings.view().sources;
        const env = [...Object.values(SLOT_KEYS.primary), ...Object.values(SLOT_KEYS.secondary)].some((k) => sources[k] === 'env');
        return { name: c.name, source: env ? 'environment' as const : 'settings' as const, values: this.#o.settings.effectiveRaw() as Record<string, unknown> };
      }
      const s = settingsByName.get(c.name.toLowerCase());
      return { name: c.name, source: c.source, ...(s ? { values: s as unknown as Record<string, unknown> } : {}) };
    });
  }

  #find(name: string) {
    const e = this.#entries().find((x) => x.name.toLowerCase() === name.trim().toLowerCase());
    if (!e) throw new CredentialNotFoundError(`No credential named "${name}"`);
    return e;
  }

  list(): CredentialRotationView[] {
    return this.#entries().map((e) => this.#view(e));
  }

  get(name: string): CredentialRotationView | undefined {
    const e = this.#entries().find((x) => x.name.toLowerCase() === name.trim().toLowerCase());
    return e ? this.#view(e) : undefined;
  }

  #view(e: Entry): CredentialRotationView {
    const primary = e.values ? slotOf(e.values, 'primary') : undefined;
    const secondary = e.values ? slotOf(e.values, 'secondary') : undefined;
    const meta = this.#meta[e.name.toLowerCase()] ?? {};
    const failover = this.#failovers.get(e.name.toLowerCase());
    const live = failover && primary && failover.fp === this.#credentialFp(primary, secondary) ? failover : undefined;
    return {
      name: e.name,
      source: e.source,
      readOnly: e.source === 'file' || e.source === 'environment',
      primary: primary ? this.#slotView(primary, meta.primary) : null,
      secondary: secondary ? this.#slotView(secondary, meta.secondary) : null,
      active: live ? 'secondary' : 'primary',
      ...(live ? { failover: { at: new Date(live.at).toISOString(), code: live.code } } : {}),
    };
  }

  #slotView(v: SlotValues, meta: SlotMeta | undefined): CredentialSlotView {
    const fp = this.#fp(v);
    const m = meta?.fp === fp ? meta : undefined;
    const out: CredentialSlotView = { kind: v.pem || v.path ? 'certificate' : 'secret' };
    if (out.kind === 'certificate') {
      const c = this.#certificate(v, fp);
      if (c.thumbprint) out.thumbprint = c.thumbprint;
      if (c.expires) out.expires = c.expires;
    } else {
      if (v.expires) out.expires = v.expires;
      // Entra shows the first 3 characters of a secret; never more (and nothing of a short one).
      if (v.secret && v.secret.length >= 12) out.hint = v.secret.slice(0, 3);
    }
    if (m?.addedAt) out.addedAt = m.addedAt;
    if (m?.lastTest) out.lastTest = { ...m.lastTest };
    return out;
  }

  #certificate(v: SlotValues, fp: string): { thumbprint?: string; expires?: string } {
    let c = this.#certificates.get(fp);
    if (!c) {
      try {
        const cert = loadClientCertificate({ ...(v.path ? { path: v.path } : {}), ...(v.pem ? { pem: new Secret(v.pem) } : {}) });
        c = { thumbprint: cert.thumbprintSha1, expires: cert.notAfter.toISOString() };
      } catch {
        c = {};
      }
      // A file's certificate may be replaced on disk: only a PEM's facts are kept.
      if (v.pem) this.#certificates.set(fp, c);
    }
    return c;
  }

  #credentialFp(primary: SlotValues, secondary: SlotValues | undefined): string {
    return `${this.#fp(primary)}:${secondary ? this.#fp(secondary) : ''}`;
  }

  #state(name: string, values: Record<string, unknown> | undefined): RotationState {
    const view = this.#view({ name, source: 'stored', ...(values ? { values } : {}) });
    return {
      primary: { present: view.primary !== null, ...(view.primary?.lastTest ? { lastTest: view.primary.lastTest } : {}) },
      ...(view.secondary ? { secondary: view.secondary.lastTest ? { lastTest: view.secondary.lastTest } : {} } : {}),
    };
  }

  // ---- failover (reported by the token provider) ----

  activeFailovers(): { name: string; at: string; code: string }[] {
    if (!this.#failovers.size) return [];
    return this.list().filter((v) => v.active === 'secondary' && v.failover).map((v) => ({ name: v.name, ...v.failover! }));
  }

  /**
   * The token provider of a credential switched to its secondary. `settings`: the settings the
   * provider was built from (the credential is found by its values). Returns the credential's
   * name and whether this is news (first report for these values), or undefined when no
   * credential has these values any more.
   */
  recordFailover(settings: EmailSettings, event: { code: string; at: number }): { name: string; first: boolean; fingerprint: string } | undefined {
    const values = settings as unknown as Record<string, unknown>;
    const primary = slotOf(values, 'primary');
    if (!primary) return undefined;
    const fp = this.#credentialFp(primary, slotOf(values, 'secondary'));
    for (const e of this.#entries()) {
      if (!e.values) continue;
      const p = slotOf(e.values, 'primary');
      if (!p || this.#credentialFp(p, slotOf(e.values, 'secondary')) !== fp) continue;
      if (String(e.values.clientId ?? '').toLowerCase() !== String(settings.clientId ?? '').toLowerCase()) continue;
      const key = e.name.toLowerCase();
      const before = this.#failovers.get(key);
      const first = !before || before.fp !== fp;
      if (first) this.#failovers.set(key, { at: event.at, code: event.code, fp });
      return { name: e.name, first, fingerprint: fp };
    }
    return undefined;
  }

  // ---- the steps ----

  /**
   * Steps run one at a time (each reads the state the previous one wrote), each on the state in
   * the store: another process (`mailgate credentials`, another instance) may have taken a step
   * since this one last loaded it (its settings poll is up to a second late, the CLI's never
   * comes), and a decision on a stale copy would overwrite a tested secondary with an untested
   * one or write back a metadata document without the other process's test results.
   * The reload is not enough on its own (the other process may save between it and the write):
   * `fn` gets the settings version read before the reload, every write is a compare-and-set on
   * it, and a conflict runs the whole step again on the fresh state (`retryOnConflict`), where a
   * step that is no longer allowed is refused with the usual explanation.
   */
  #serial<T>(fn: (expectedVersion: number) => Promise<T>): Promise<T> {
    const run = this.#steps.then(() => retryOnConflict(async () => {
      const version = await this.#o.store.settingsVersion();
      await this.#sync();
      return fn(version);
    }));
    this.#steps = run.catch(() => undefined);
    return run;
  }

  #writable(e: Entry): void {
    if (e.source === 'file') throw new MailgateError({ code: 'CREDENTIAL_READ_ONLY', phase: 'settings', message: `The credential "${e.name}" comes from MAILGATE_CONFIG: edit its secondary: (clientSecret / clientCertificate references) in the file and restart, or reload the service.` });
    if (e.source === 'environment') throw new MailgateError({ code: 'CREDENTIAL_READ_ONLY', phase: 'settings', message: `The credential "${e.name}" is set by environment variables (MAILGATE_CLIENT_SECRET, MAILGATE_CLIENT_CERTIFICATE_PATH and their _SECONDARY variants): rotate it there (set MAILGATE_CLIENT_SECRET_SECONDARY, then swap the values) and restart.` });
  }

  #metaRow(name: string, change: (m: { primary?: SlotMeta; secondary?: SlotMeta }) => { primary?: SlotMeta; secondary?: SlotMeta }): Record<string, string> {
    const doc: MetaDoc = structuredClone(this.#meta);
    const key = name.toLowerCase();
    const next = change(doc[key] ?? {});
    if (!next.primary && !next.secondary) delete doc[key];
    else doc[key] = next;
    return { [ROTATION_ROW]: JSON.stringify(doc) };
  }

  addSecondary(name: string, input: SecondaryInput, actor: string): Promise<CredentialRotationView> {
    return this.#serial(async (version) => {
      const e = this.#find(name);
      this.#writable(e);
      const r = inputSchema.safeParse(input ?? {});
      if (!r.success) {
        const problems = r.error.issues.map((i) => ({ key: String(i.path[0] ?? 'body'), message: `${String(i.path[0] ?? 'body')}: ${i.message}` }));
        throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: problems.map((p) => p.message).join('; '), problems });
      }
      applyRotationStep(this.#state(e.name, e.values), { step: 'add' });
      const v = r.data;
      if (v.clientCertificate !== undefined) {
        try {
          await readClientCertificate({ pem: new Secret(v.clientCertificate) });
        } catch (error) {
          const problems = isMailgateError(error) && error.problems ? error.problems.map((p) => ({ key: 'clientCertificate', message: `clientCertificate: ${p.message}` })) : [{ key: 'clientCertificate', message: 'clientCertificate: cannot be used (a PEM certificate with its private key is needed)' }];
          throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: problems.map((p) => p.message).join('; '), problems });
        }
      }
      const slot: SlotValues = v.clientSecret !== undefined ? { secret: v.clientSecret, ...(v.clientSecretExpires ? { expires: v.clientSecretExpires } : {}) } : { pem: v.clientCertificate! };
      const kind = slot.pem ? 'certificate' : 'secret';
      const at = new Date(this.#now()).toISOString();
      const extraRows = this.#metaRow(e.name, (m) => ({ ...m, secondary: { fp: this.#fp(slot), addedAt: at } }));
      const audit = { action: 'credential.rotation.add', detail: { credential: e.name, slot: 'secondary', kind } };
      if (e.source === 'settings') {
        await this.#updateSettings({ [SLOT_KEYS.secondary.secret]: slot.secret ?? null, [SLOT_KEYS.secondary.pem]: slot.pem ?? null, [SLOT_KEYS.secondary.path]: null, [SLOT_KEYS.secondary.expires]: slot.expires ?? null }, actor, audit, extraRows, version);
      } else {
        await this.#updateStored(e.name, actor, (c, key) => {
          c.secondary = {
            ...(slot.secret ? { clientSecretEncrypted: encryptValue(key, slot.secret, aad(c.name, 'secondary.clientSecret')) } : {}),
            ...(slot.pem ? { clientCertificateEncrypted: encryptValue(key, slot.pem, aad(c.name, 'secondary.clientCertificate')) } : {}),
            ...(slot.expires ? { clientSecretExpires: slot.expires } : {}),
          };
        }, audit, extraRows, version);
      }
      return this.get(e.name)!;
    });
  }

  test(name: string, slot: RotationSlot, actor: string): Promise<SlotTestResult> {
    return this.#serial(async () => {
      const e = this.#find(name);
      if (slot !== 'primary' && slot !== 'secondary') throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: 'slot: must be primary or secondary', problems: [{ key: 'slot', message: 'slot: must be primary or secondary' }] });
      const state = this.#state(e.name, e.values);
      const values = slot === 'primary' ? (e.values ? slotOf(e.values, 'primary') : undefined) : (e.values ? slotOf(e.values, 'secondary') : undefined);
      // Checked before the request: a missing slot is a step error, not a failed test.
      applyRotationStep(state, { step: 'test', slot, result: { at: '', ok: false } });
      const settings = this.#slotSettings(e.name, e.values);
      let result: SlotTestResult;
      if (!settings || !values) {
        result = { ok: false, code: 'SETTINGS_INVALID', summary: `The credential "${e.name}" is incomplete or invalid, so no token can be requested (see its problems)` };
      } else {
        const only = withSlotAlone(settings, values);
        try {
          await this.#o.testToken(only);
          result = { ok: true, summary: `Entra ID issued a token with the ${slot} credential alone` };
        } catch (error) {
          const secrets = [values.secret, values.pem].filter((x): x is string => !!x);
          const d = this.#o.diagnose(error);
          const aadsts = isMailgateError(error) ? error.token?.aadsts?.[0] : undefined;
          result = {
            ok: false,
            code: aadsts !== undefined ? `AADSTS${aadsts}` : isMailgateError(error) ? error.code : 'INTERNAL',
            summary: scrubText(d.summary, secrets),
            fixes: d.fixes.map((f) => scrubText(f, secrets)),
          };
        }
      }
      const at = new Date(this.#now()).toISOString();
      const lastTest: SlotTest = { at, ok: result.ok, ...(result.code ? { code: result.code } : {}), ...(result.summary ? { summary: result.summary.slice(0, 500) } : {}) };
      if (values) {
        // The request took a while: the result is written on the state as it is now (reloaded,
        // compare-and-set, again on a conflict; the token request is not repeated), and only if
        // the slot still holds the values tested (another process may have replaced it).
        const fp = this.#fp(values);
        const audit = { at: this.#now(), actor, action: 'credential.rotation.test', detail: { credential: e.name, slot, ok: result.ok, ...(result.code ? { code: result.code } : {}) } };
        const recorded = await retryOnConflict(async () => {
          const version = await this.#o.store.settingsVersion();
          await this.#sync();
          const now = this.#entries().find((x) => x.name.toLowerCase() === e.name.toLowerCase());
          const current = now?.values ? slotOf(now.values, slot) : undefined;
          if (!current || this.#fp(current) !== fp) {
            await this.#o.store.appendAudit({ ...audit, detail: { ...audit.detail, recorded: false } });
            return false;
          }
          const extraRows = this.#metaRow(e.name, (m) => ({ ...m, [slot]: { ...(m[slot]?.fp === fp ? m[slot] : {}), fp, lastTest } }));
          await this.#o.store.saveSettings(extraRows, audit, { expectedVersion: version });
          return true;
        });
        await this.#o.settings.refresh();
        await this.#loadMeta();
        if (!recorded) result.summary = `${result.summary ?? ''} (not recorded: the ${slot} credential was changed while it was being tested; test it again)`.trim();
      }
      return result;
    });
  }

  /** Settings carrying the credential (the default's Email Settings; a named one's). */
  #slotSettings(name: string, values: Record<string, unknown> | undefined): EmailSettings | undefined {
    if (name.toLowerCase() === DEFAULT_CREDENTIAL && !this.#o.senders.fromFile) return this.#o.settings.settings();
    return values as unknown as EmailSettings | undefined;
  }

  promote(name: string, actor: string, options: { force?: boolean } = {}): Promise<CredentialRotationView> {
    return this.#serial(async (version) => {
      const e = this.#find(name);
      this.#writable(e);
      const state = this.#state(e.name, e.values);
      applyRotationStep(state, { step: 'promote', ...(options.force ? { force: true } : {}) });
      const p = slotOf(e.values!, 'primary')!;
      const s = slotOf(e.values!, 'secondary')!;
      const extraRows = this.#metaRow(e.name, (m) => ({ ...(m.secondary ? { primary: m.secondary } : {}), ...(m.primary ? { secondary: m.primary } : {}) }));
      const audit = { action: 'credential.rotation.promote', detail: { credential: e.name, force: options.force === true, tested: state.secondary?.lastTest?.ok === true } };
      if (e.source === 'settings') {
        const patch: Record<string, string | null> = {};
        for (const [slot, vals] of [['primary', s], ['secondary', p]] as const) {
          const k = SLOT_KEYS[slot];
          patch[k.secret] = vals.secret ?? null;
          patch[k.pem] = vals.pem ?? null;
          patch[k.path] = vals.path ?? null;
          patch[k.expires] = vals.expires ?? null;
        }
        await this.#updateSettings(patch, actor, audit, extraRows, version);
      } else {
        await this.#updateStored(e.name, actor, (c, key) => {
          const primary: StoredSlot = { ...pick(c, ['clientSecret', 'clientCertificate', 'clientSecretEncrypted', 'clientCertificateEncrypted', 'clientSecretExpires']) };
          const secondary: StoredSlot = c.secondary ?? {};
          for (const k of ['clientSecret', 'clientCertificate', 'clientSecretEncrypted', 'clientCertificateEncrypted', 'clientSecretExpires'] as const) delete c[k];
          Object.assign(c, reencrypt(secondary, key, c.name, 'secondary.', ''));
          c.secondary = reencrypt(primary, key, c.name, '', 'secondary.');
        }, audit, extraRows, version);
      }
      return this.get(e.name)!;
    });
  }

  removeSecondary(name: string, actor: string): Promise<CredentialRotationView> {
    return this.#serial(async (version) => {
      const e = this.#find(name);
      this.#writable(e);
      applyRotationStep(this.#state(e.name, e.values), { step: 'remove' });
      // Entra refused the primary and tokens come from the secondary: removing it would leave
      // only the refused credential (the outage a rotation prevents). Promote it first; the
      // refused one is then the secondary and goes (the safe choice: no force for this).
      const inUse = this.#view(e).failover;
      if (inUse) {
        throw new MailgateError({ code: 'ROTATION_STEP_INVALID', phase: 'settings', context: { phase: 'secondary-in-use' },
          message: `The secondary of "${e.name}" is the credential in use: Entra refused the primary (${inUse.code}) at ${inUse.at}, so removing it would stop delivery: make the secondary primary first, then remove the old one.` });
      }
      const extraRows = this.#metaRow(e.name, (m) => ({ ...(m.primary ? { primary: m.primary } : {}) }));
      const audit = { action: 'credential.rotation.remove', detail: { credential: e.name, slot: 'secondary' } };
      if (e.source === 'settings') {
        const k = SLOT_KEYS.secondary;
        await this.#updateSettings({ [k.secret]: null, [k.pem]: null, [k.path]: null, [k.expires]: null }, actor, audit, extraRows, version);
      } else {
        await this.#updateStored(e.name, actor, (c) => {
          delete c.secondary;
        }, audit, extraRows, version);
      }
      return this.get(e.name)!;
    });
  }

  /** `expectedVersion`: the version the step decided on (a conflict throws SettingsConflictError for `#serial` to retry). */
  async #updateSettings(patch: Record<string, string | null>, actor: string, audit: { action: string; detail: Record<string, unknown> }, extraRows: Record<string, string>, expectedVersion: number): Promise<void> {
    const r = await this.#o.settings.update(patch, actor, { rotation: true, audit, extraRows, expectedVersion });
    if (!r.ok) throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: r.problems.map((p) => p.message).join('; '), problems: r.problems });
    await this.#loadMeta();
    await this.#o.senders.reload();
  }

  async #updateStored(name: string, actor: string, mutate: (c: StoredCredential, key: Buffer) => void, audit: { action: string; detail: Record<string, unknown> }, extraRows: Record<string, string>, expectedVersion: number): Promise<void> {
    const r = await this.#o.senders.updateStoredCredential(name, actor, (c, key) => {
      mutate(c, key);
      return { ok: true, audit, extraRows };
    }, { expectedVersion });
    if (!r.ok) {
      if (r.status === 404) throw new CredentialNotFoundError(r.problems.map((p) => p.message).join('; '));
      if (r.status === 409) throw new MailgateError({ code: 'CREDENTIAL_READ_ONLY', phase: 'settings', message: r.problems.map((p) => p.message).join('; ') });
      throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: r.problems.map((p) => p.message).join('; '), problems: r.problems });
    }
    await this.#loadMeta();
  }
}
