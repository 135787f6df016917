/**
 * The Email Settings form as data: reading a submitted form into the patch that
 * `SettingsService.update` validates and saves, and working out what each field shows.
 *
 * Why pure: the rules are easy to get subtly wrong and must hold with and without JavaScript —
 * a secret left empty keeps the stored one, "clear" deletes it, a field set by an environment
 * variable is never sent, a field of the hidden section is not sent at all (so it keeps its
 * value), a field left on its default stays "default" (so changing the Cloud still moves the
 * SMTP host), and an emptied field goes back to its default. Unit tests pin them here.
 *
 * Imports: src/core (settings, clouds, errors), the settings service's types, ../form-body.
 */
import { CLOUD_IDS, type CloudId } from '../../core/clouds.js';
import type { Problem } from '../../core/errors.js';
import { FIELD_BY_KEY, SETTINGS_FIELDS, SETTING_KEYS, type SettingField, type SettingKey } from '../../core/settings.js';
import type { SettingsView } from '../../service/settings/settings-store.js';
import { lastString, type FormBody } from '../form-body.js';

export { lastString, type FormBody } from '../form-body.js';

export const clearFieldName = (key: SettingKey) => `${key}Clear`;

export interface SettingsFormInput {
  /** The change for `SettingsService.update` (null clears a key). */
  patch: Record<string, string | null>;
  /** What was submitted for the non-secret fields (shown again when the save fails). */
  submitted: Partial<Record<SettingKey, string>>;
  /** Secrets the administrator typed (they are not shown again; the page says so if the save fails). */
  typedSecrets: SettingKey[];
}

/** The default of a field for a cloud, as text ('' when it has none). */
export function defaultText(f: SettingField, cloud: CloudId): string {
  const d = f.defaultValue;
  if (d === undefined) return '';
  return String(typeof d === 'function' ? d(cloud) : d);
}

function cloudOf(v: unknown): CloudId {
  return (CLOUD_IDS as readonly string[]).includes(String(v)) ? (String(v) as CloudId) : 'global';
}

/** Reads the submitted form against the current settings view. Never throws; validation is `update`'s. */
export function readSettingsForm(body: FormBody, view: SettingsView): SettingsFormInput {
  const patch: Record<string, string | null> = {};
  const submitted: Partial<Record<SettingKey, string>> = {};
  const typedSecrets: SettingKey[] = [];
  const cloud = cloudOf(lastString(body, 'cloud') ?? view.values.cloud);
  for (const f of SETTINGS_FIELDS) {
    const k = f.key;
    if (view.sources[k] === 'env') continue;
    if (f.kind === 'secret') {
      let value = lastString(body, k) ?? '';
      if (k === 'clientCertificatePem') value = value.replace(/\r\n/g, '\n');
      const clear = ['on', 'true', '1'].includes(lastString(body, clearFieldName(k)) ?? '');
      if (value.trim() !== '') {
        patch[k] = value;
        typedSecrets.push(k);
      } else if (clear) {
        patch[k] = null;
      }
      continue;
    }
    const given = lastString(body, k);
    if (given === undefined) continue;
    const value = given.trim();
    submitted[k] = value;
    if (view.sources[k] === 'default' && (value === '' || value === defaultText(f, cloud))) continue;
    patch[k] = value === '' ? null : value;
  }
  return { patch, submitted, typedSecrets };
}

/** Problems of one save, split by field; problems of unknown keys are kept apart. */
export function problemsByKey(problems: readonly Problem[]): { byKey: Partial<Record<SettingKey, string>>; other: Problem[] } {
  const byKey: Partial<Record<SettingKey, string>> = {};
  const other: Problem[] = [];
  for (const p of problems) {
    if ((SETTING_KEYS as readonly string[]).includes(p.key)) {
      const k = p.key as SettingKey;
      byKey[k] = byKey[k] ? `${byKey[k]} ${inlineMessage(p)}` : inlineMessage(p);
    } else {
      other.push(p);
    }
  }
  return { byKey, other };
}

/**
 * The message shown next to a field: the schema's message without the "(key, ENV_VAR)" part,
 * which is noise next to the field itself (the summary and the API keep the full message).
 */
export function inlineMessage(p: Problem): string {
  const f = (SETTING_KEYS as readonly string[]).includes(p.key) ? FIELD_BY_KEY[p.key as SettingKey] : undefined;
  if (!f) return p.message;
  const prefix = `${f.label} (${f.key}, ${f.env}) `;
  return p.message.startsWith(prefix) ? `${f.label} ${p.message.slice(prefix.length)}` : p.message;
}

/** Whether modern authentication is on for what the page shows (submitted value first). */
export function modernAuthOn(view: SettingsView, submitted?: Partial<Record<SettingKey, string>>): boolean {
  const v = submitted?.useModernAuth ?? view.values.useModernAuth;
  if (v === undefined || v === null || v === '') return true;
  if (typeof v === 'boolean') return v;
  return !['false', '0', 'no', 'off'].includes(String(v).trim().toLowerCase());
}

/** Whether anything is configured yet (stored or from the environment). */
export function anythingConfigured(view: SettingsView): boolean {
  return Object.values(view.sources).some((s) => s !== 'default');
}
