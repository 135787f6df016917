/**
 * The two slots of a credential (issue 17 item 3), primary and secondary, as pure values: where
 * each lives among the Email Settings keys, reading a slot from settings (typed or raw), and
 * settings with one slot alone: the rotation's Test step (`mailgate credentials test`, the API,
 * the admin page), the expiry monitor's `<name>.secondary`, and the doctor's test of the
 * secondary all build the secondary's settings here, so they test the same thing.
 *
 * Moved from service/settings/credential-slots.ts (which re-exports it and keeps the stored
 * ciphertext's moves) so the doctor, a layer below the service, uses the same code.
 *
 * Imports: ./credential-rotation (types), ./secret, ./settings (types).
 */
import type { RotationSlot } from './credential-rotation.js';
import { Secret } from './secret.js';
import type { EmailSettings, SettingKey } from './settings.js';

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
 * `<name>.secondary` (it expires too, and a failover to an expired one would be no failover),
 * and the doctor tests it with a token request of its own.
 */
export function secondarySettings(settings: EmailSettings): EmailSettings | undefined {
  const v = slotOf(settings as unknown as Record<string, unknown>, 'secondary');
  if (!v) return undefined;
  const out = withSlotAlone(settings, v);
  delete out.clientSecretExpires;
  if (v.expires) out.clientSecretExpires = v.expires;
  return out;
}
