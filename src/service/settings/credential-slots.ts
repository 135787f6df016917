/**
 * The two slots of a credential (issue 17 item 3), primary and secondary, as values: where each
 * lives among the Email Settings keys, reading a slot from settings (typed or raw), settings with
 * one slot alone (the rotation's Test, the expiry of the secondary), and moving a stored slot's
 * ciphertext between the slots (it is bound to its field). Split from the rotation service so
 * the service keeps the steps and this the data.
 *
 * Imports: src/core (settings, secret, rotation types), ./secret-box, ./senders-service (the
 * stored slot's type and the encryption's additional data).
 */
import type { RotationSlot } from '../../core/credential-rotation.js';
import { Secret } from '../../core/secret.js';
import type { EmailSettings, SettingKey } from '../../core/settings.js';
import { decryptValue, encryptValue } from './secret-box.js';
import { aad, type StoredSlot } from './senders-service.js';

/** One slot's values (in memory only). */
export interface SlotValues {
  secret?: string;
  pem?: string;
  path?: string;
  expires?: string;
}

export const SLOT_KEYS = {
  primary: { secret: 'clientSecret', pem: 'clientCertificatePem', path: 'clientCertificatePath', expires: 'clientSecretExpires' },
  secondary: { secret: 'clientSecretSecondary', pem: 'clientCertificatePemSecondary', path: 'clientCertificatePathSecondary', expires: 'clientSecretExpiresSecondary' },
} as const satisfies Record<RotationSlot, Record<keyof SlotValues, SettingKey>>;

const text = (v: unknown): string | undefined => {
  const s = v instanceof Secret ? v.reveal() : typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
  return s !== undefined && s.trim() !== '' ? s : undefined;
};

export function slotOf(values: Record<string, unknown>, slot: RotationSlot): SlotValues | undefined {
  const k = SLOT_KEYS[slot];
  const out: SlotValues = {};
  const secret = text(values[k.secret]);
  const pem = text(values[k.pem]);
  const path = text(values[k.path]);
  const expires = text(values[k.expires]);
  if (secret !== undefined) out.secret = secret;
  if (pem !== undefined) out.pem = pem;
  if (path !== undefined) out.path = path.trim();
  if (expires !== undefined) out.expires = expires.trim();
  return out.secret || out.pem || out.path ? out : undefined;
}

/** The settings with one slot as their only credential (the secondary's keys removed). */
export function withSlotAlone(settings: EmailSettings, v: SlotValues): EmailSettings {
  const out: EmailSettings = { ...settings };
  delete out.clientSecret;
  delete out.clientCertificatePem;
  delete out.clientCertificatePath;
  delete out.clientSecretSecondary;
  delete out.clientCertificatePemSecondary;
  delete out.clientCertificatePathSecondary;
  delete out.clientSecretExpiresSecondary;
  if (v.secret) out.clientSecret = new Secret(v.secret);
  if (v.pem) out.clientCertificatePem = new Secret(v.pem);
  if (v.path) out.clientCertificatePath = v.path;
  return out;
}

/**
 * The settings with the secondary as their only credential (its own "expires" as the secret's),
 * or undefined without a secondary: the expiry monitor watches the secondary as
 * `<name>.secondary` (it expires too, and a failover to an expired one would be no failover).
 */
export function secondarySettings(settings: EmailSettings): EmailSettings | undefined {
  const v = slotOf(settings as unknown as Record<string, unknown>, 'secondary');
  if (!v) return undefined;
  const out = withSlotAlone(settings, v);
  delete out.clientSecretExpires;
  if (v.expires) out.clientSecretExpires = v.expires;
  return out;
}

/** A stored slot moved between primary and secondary: ciphertext is bound to its field, so it is encrypted again. */
export function reencrypt(s: StoredSlot, key: Buffer, name: string, fromPrefix: string, toPrefix: string): StoredSlot {
  const out: StoredSlot = { ...pick(s, ['clientSecret', 'clientCertificate', 'clientSecretExpires']) };
  if (s.clientSecretEncrypted) out.clientSecretEncrypted = encryptValue(key, decryptValue(key, s.clientSecretEncrypted, aad(name, `${fromPrefix}clientSecret`)), aad(name, `${toPrefix}clientSecret`));
  if (s.clientCertificateEncrypted) out.clientCertificateEncrypted = encryptValue(key, decryptValue(key, s.clientCertificateEncrypted, aad(name, `${fromPrefix}clientCertificate`)), aad(name, `${toPrefix}clientCertificate`));
  return out;
}

export function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
