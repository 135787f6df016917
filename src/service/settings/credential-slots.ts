/**
 * The two slots of a credential (issue 17 item 3), primary and secondary, as values: where each
 * lives among the Email Settings keys, reading a slot from settings (typed or raw), settings with
 * one slot alone (the rotation's Test, the expiry of the secondary), and moving a stored slot's
 * ciphertext between the slots (it is bound to its field). Split from the rotation service so
 * the service keeps the steps and this the data. The pure part (SLOT_KEYS, slotOf, withSlotAlone,
 * secondarySettings) is core/credential-slots.ts, re-exported here.
 *
 * Imports: src/core (credential-slots), ./secret-box, ./senders-service (the
 * stored slot's type and the encryption's additional data).
 */
import { decryptValue, encryptValue } from './secret-box.js';
import { aad, type StoredSlot } from './senders-service.js';

// The slots as pure values live in core (the doctor tests the secondary with the same code).
export { SLOT_KEYS, secondarySettings, slotOf, withSlotAlone, type SlotValues } from '../../core/credential-slots.js';

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
