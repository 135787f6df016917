/**
 * The credential-redirection matrix shared by the service, admin-page and security tests:
 * every credential kind (stored or from the environment) × every destination field, with the
 * patch that stores the credential, the patch an attacker sends, and what a legitimate
 * administrator types to enter the credential again.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DESTINATIONS } from '../../src/core/credential-destinations.js';
import { FIELD_BY_KEY, type SettingKey } from '../../src/core/settings.js';
import { createClientCertificate } from '../../src/emulator/index.js';

export interface Material {
  clientId: string;
  tenantId: string;
  authorizedFrom: string;
  secret: string;
  pem: string;
  certPath: string;
  username: string;
  password: string;
}

/** A real certificate (PEM and file) and the other credentials. */
export async function makeMaterial(
  base: { clientId: string; tenantId: string; authorizedFrom: string; secret?: string; password?: string },
  certificate?: { certPem: string; privateKeyPem: string },
): Promise<Material> {
  const cert = certificate ?? (await createClientCertificate());
  const pem = `${cert.certPem}\n${cert.privateKeyPem}`;
  const certPath = join(mkdtempSync(join(tmpdir(), 'mailgate-matrix-')), 'client.pem');
  writeFileSync(certPath, pem);
  return {
    clientId: base.clientId,
    tenantId: base.tenantId,
    authorizedFrom: base.authorizedFrom,
    secret: base.secret ?? 'Zq8~matrix-client-secret-value_0123456789',
    pem,
    certPath,
    username: base.authorizedFrom,
    password: base.password ?? 'Matrix-Basic-Password!0123',
  };
}

export interface CredentialKind {
  name: string;
  key: SettingKey;
  mode: 'modern' | 'basic';
  source: 'stored' | 'env';
  /** Whether entering it again in a request proves the caller holds it (a path does not; env values cannot be entered). */
  retype: boolean;
}

export const KINDS: readonly CredentialKind[] = [
  { name: 'client secret', key: 'clientSecret', mode: 'modern', source: 'stored', retype: true },
  { name: 'certificate PEM', key: 'clientCertificatePem', mode: 'modern', source: 'stored', retype: true },
  { name: 'certificate path', key: 'clientCertificatePath', mode: 'modern', source: 'stored', retype: false },
  { name: 'basic password', key: 'smtpPassword', mode: 'basic', source: 'stored', retype: true },
  { name: 'client secret from env', key: 'clientSecret', mode: 'modern', source: 'env', retype: false },
  { name: 'certificate PEM from env', key: 'clientCertificatePem', mode: 'modern', source: 'env', retype: false },
  { name: 'certificate path from env', key: 'clientCertificatePath', mode: 'modern', source: 'env', retype: false },
  { name: 'basic password from env', key: 'smtpPassword', mode: 'basic', source: 'env', retype: false },
];

function credentialValue(kind: CredentialKind, m: Material): string {
  switch (kind.key) {
    case 'clientSecret': return m.secret;
    case 'clientCertificatePem': return m.pem;
    case 'clientCertificatePath': return m.certPath;
    default: return m.password;
  }
}

/**
 * Environment variables for a kind from the environment (empty for a stored kind). A basic
 * password from the environment comes with the mode from the environment (a request may not
 * switch to the mode of a credential it cannot enter), so its mode attack meets the env lock.
 */
export function envFor(kind: CredentialKind, m: Material): Record<string, string> {
  if (kind.source !== 'env') return {};
  const env: Record<string, string> = { [FIELD_BY_KEY[kind.key].env]: credentialValue(kind, m) };
  if (kind.mode === 'basic') env.MAILGATE_USE_MODERN_AUTH = 'false';
  return env;
}

/** Whether the field is pinned by the kind's environment (a request changing it meets the env lock). */
export function envLocked(kind: CredentialKind, field: SettingKey): boolean {
  return kind.source === 'env' && kind.mode === 'basic' && field === 'useModernAuth';
}

/** The credential typed into a request (what a legitimate administrator re-enters). */
export function typed(kind: CredentialKind, m: Material): Record<string, string> {
  return { [kind.key]: credentialValue(kind, m) };
}

/**
 * The patch that configures the kind in its own mode, with everything else the mode needs.
 * A basic-mode setup also keeps a modern client secret, and a modern one keeps a basic username
 * (so a later mode switch is only about the credential).
 */
export function setupPatch(kind: CredentialKind, m: Material, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const common = { clientId: m.clientId, tenantId: m.tenantId, authorizedFrom: m.authorizedFrom, smtpUsername: m.username };
  const own = kind.source === 'stored' ? typed(kind, m) : {};
  if (kind.mode === 'basic') return { ...common, useModernAuth: false, clientSecret: m.secret, ...own, ...extra };
  return { ...common, useModernAuth: true, ...own, ...extra };
}

/**
 * The legitimate change that puts the service in the *other* mode (with that mode's credential
 * typed), so that switching back is the mode attack.
 */
export function otherModePatch(kind: CredentialKind, m: Material): Record<string, unknown> {
  return kind.mode === 'modern' ? { useModernAuth: false, smtpPassword: m.password } : { useModernAuth: true, clientSecret: m.secret };
}

export interface Attacker {
  /** A host name different from the one in use. */
  host: string;
  port: number;
}

/** The attacker's change of one destination field (the mode: back into the kind's mode). */
export function attackPatch(field: SettingKey, kind: CredentialKind, a: Attacker): Record<string, unknown> {
  switch (field) {
    // Back into the kind's mode (after otherModePatch); where the environment pins the mode, away from it.
    case 'useModernAuth': return { useModernAuth: envLocked(kind, field) ? kind.mode !== 'modern' : kind.mode === 'modern' };
    case 'cloud': return { cloud: 'gcc-high' };
    case 'authorityHost': return { authorityHost: `https://${a.host}:${a.port}` };
    case 'scope': return { scope: `https://${a.host}/.default` };
    case 'smtpHost': return { smtpHost: a.host };
    case 'smtpPort': return { smtpPort: a.port };
    case 'graphScope': return { graphScope: `https://${a.host}/.default` };
    case 'graphEndpoint': return { graphEndpoint: `https://${a.host}:${a.port}` };
    default: throw new Error(`no attack for ${field}: add one (the destination table grew)`);
  }
}

/** Every destination field, in the core table's order (a new row there must get an attack above). */
export const DESTINATION_FIELDS: readonly SettingKey[] = DESTINATIONS.map((d) => d.key);
