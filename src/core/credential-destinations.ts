/**
 * Where a credential is sent, and the rule that keeps a stored credential from being sent
 * anywhere else: a change of any *destination* (a table below) must come with every credential
 * that will be sent there, entered again in the same request.
 *
 * Why: the API's admin keys and the admin page can change settings but never read a secret. If
 * they could move the SMTP host or the authority host alone, a stolen admin key or session
 * would point it at a server of its own and collect what the stored credential yields: the
 * client secret, a signed client assertion, an access token that sends as the mailbox, or the
 * mailbox password. Requiring the credentials with the change means whoever moves them must
 * already hold them.
 *
 * Decisions (the safe choice where the issue is silent):
 * - Every credential of the mode in effect *after* the change counts, used or not (a stored
 *   secret next to a certificate, which wins, is still required or must be cleared): otherwise
 *   a second request that clears the certificate would send the stored secret to the new host.
 * - A credential cleared in the same request (`null`) needs nothing.
 * - A certificate *path* cannot be proven by typing it again: the path is shown by the API and
 *   the page to every administrator, and the file's key never passes through them. With a
 *   certificate file in use, a destination changes only if the same request clears the path and
 *   supplies a credential the caller holds (certificate PEM or client secret), or the
 *   destination is changed in the environment, where the file is managed. And because the file
 *   stays on disk after its path is cleared, a request that *sets* a path (new or changed) is
 *   refused while an endpoint (authority host, SMTP host, port, scope) is one the API chose,
 *   i.e. neither the cloud's default nor set by the environment: otherwise "move the host with
 *   a throw-away secret, then set the path back" would send the file's key to the new host.
 * - A credential from an environment variable cannot be entered in a request (it is not
 *   stored; a request cannot change it), so a destination change is refused while it is in
 *   use, naming the variables to set instead: whoever sets the credential sets where it goes.
 * - Destinations are compared with their defaults applied (so changing the cloud moves the
 *   defaulted hosts), and the cloud itself is a destination too.
 *
 * Imports: ./clouds, ./errors (types), ./settings.
 */
import { CLOUDS, CLOUD_IDS, type CloudId } from './clouds.js';
import type { Problem } from './errors.js';
import { FIELD_BY_KEY, type RawSettings, type SettingKey } from './settings.js';

function cloudOf(raw: RawSettings): CloudId {
  const c = String(raw.cloud ?? '').trim();
  return (CLOUD_IDS as readonly string[]).includes(c) ? (c as CloudId) : 'global';
}

/** The value as compared: trimmed, lower case, the default when unset. */
function text(v: unknown, fallback: string | number): string {
  if (v === undefined || v === null || String(v).trim() === '') return String(fallback).toLowerCase();
  return String(v).trim().toLowerCase();
}

function modernOf(raw: RawSettings): boolean {
  return !['false', '0', 'no', 'off'].includes(text(raw.useModernAuth, 'true'));
}

/**
 * Every setting that decides where a credential goes: one row each. `value` gives the effective destination, defaults applied.
 */
export const DESTINATIONS: readonly { key: SettingKey; endpoint: boolean; value: (raw: RawSettings) => string }[] = [
  { key: 'useModernAuth', endpoint: false, value: (r) => String(modernOf(r)) }, // which credential goes where
  { key: 'cloud', endpoint: false, value: (r) => cloudOf(r) }, // picks Microsoft's endpoints
  { key: 'authorityHost', endpoint: true, value: (r) => text(r.authorityHost, CLOUDS[cloudOf(r)].authorityHost).replace(/\/+$/, '') }, // client secret, client assertion
  { key: 'scope', endpoint: true, value: (r) => text(r.scope, CLOUDS[cloudOf(r)].smtpScope) }, // the resource the token is for
  { key: 'smtpHost', endpoint: true, value: (r) => text(r.smtpHost, CLOUDS[cloudOf(r)].smtpHost) }, // access token, SMTP password
  { key: 'smtpPort', endpoint: true, value: (r) => text(r.smtpPort, 587) },
  // The Graph scope, like the SMTP scope: the resource the Graph token is for (the safe choice).
  { key: 'graphScope', endpoint: true, value: (r) => text(r.graphScope, CLOUDS[cloudOf(r)].graphScope) },
  { key: 'graphEndpoint', endpoint: true, value: (r) => text(r.graphEndpoint, CLOUDS[cloudOf(r)].graphHost).replace(/\/+$/, '') }, // access token for Graph
];

/**
 * Every credential, with the mode that sends it and whether typing it again proves the caller
 * holds it (a path does not: see the header).
 */
export const CREDENTIALS: readonly { key: SettingKey; mode: 'modern' | 'basic'; proof: 'retype' | 'none'; secondary?: boolean }[] = [
  { key: 'clientSecret', mode: 'modern', proof: 'retype' },
  { key: 'clientCertificatePem', mode: 'modern', proof: 'retype' },
  { key: 'clientCertificatePath', mode: 'modern', proof: 'none' },
  // The secondary credential (rotation, issue 17) is a credential too: it would follow the
  // primary to the new destination (failover), so a move must drop it in the same request
  // (null) or before; it is added again through the rotation steps, never redirected.
  { key: 'clientSecretSecondary', mode: 'modern', proof: 'retype', secondary: true },
  { key: 'clientCertificatePemSecondary', mode: 'modern', proof: 'retype', secondary: true },
  { key: 'clientCertificatePathSecondary', mode: 'modern', proof: 'none', secondary: true },
  { key: 'smtpPassword', mode: 'basic', proof: 'retype' },
];

const present = (v: unknown) => v !== undefined && v !== null && String(v).trim() !== '';

export interface RedirectCheck {
  /** The effective raw settings before the change (stored, then environment overrides). */
  before: RawSettings;
  /** The same after the change. */
  after: RawSettings;
  /** The request as given (a credential "entered again" is a non-empty text in it). */
  patch: Record<string, unknown>;
  /** Keys whose value comes from the environment. */
  envKeys: readonly SettingKey[];
}

/** The destinations a change moves, in table order. */
export function movedDestinations(before: RawSettings, after: RawSettings): SettingKey[] {
  return DESTINATIONS.filter((d) => d.value(before) !== d.value(after)).map((d) => d.key);
}

/**
 * One problem per credential that must be entered again (or cleared) because the change moves
 * a destination; none when no destination moves. Each names the credential's label, key and
 * variable and the moved settings.
 */
export function redirectProblems(c: RedirectCheck): Problem[] {
  const moved = movedDestinations(c.before, c.after);
  if (!moved.length) return [];
  const where = moved.map((k) => FIELD_BY_KEY[k].label).join(', ');
  const whereEnv = moved.map((k) => FIELD_BY_KEY[k].env).join(', ');
  const mode = modernOf(c.after) ? 'modern' : 'basic';
  const out: Problem[] = [];
  for (const cred of CREDENTIALS) {
    if (cred.mode !== mode || !present(c.after[cred.key])) continue;
    const f = FIELD_BY_KEY[cred.key];
    const prefix = `${f.label} (${f.key}, ${f.env})`;
    let message: string | undefined;
    if (cred.secondary && !c.envKeys.includes(cred.key)) {
      message = `${prefix} is the secondary credential, which would follow the primary to the new ${where}: remove it in the same request (null) or first (\`mailgate credentials remove NAME\`, DELETE /api/v1/credentials/default/secondary), then add it again.`;
    } else if (c.envKeys.includes(cred.key)) {
      message = `${prefix} comes from the environment, so it cannot be entered again here: a change of ${where} must be made in the environment as well (${whereEnv}), where the credential is managed.`;
    } else if (cred.proof === 'none') {
      message = `${prefix} names a file on the server, and typing a path again proves nothing (every administrator can read it): to change ${where} here, clear the path and paste the certificate into Client certificate (PEM) or enter a Client Secret in the same request, or set ${whereEnv} in the environment.`;
    } else if (!present(c.patch[cred.key]) || typeof c.patch[cred.key] !== 'string') {
      message = `${prefix} must be entered again in this request: type it again to change ${where} (a change of where credentials are sent must come with the credentials), or clear it.`;
    }
    if (message) out.push({ key: f.key, env: f.env, label: f.label, message });
  }
  return out;
}

/**
 * A certificate path set (or changed) by a request while an endpoint is one a request chose
 * (see the header): one problem naming those endpoints, or none.
 */
export function certificatePathProblems(c: RedirectCheck): Problem[] {
  const path = c.after.clientCertificatePath;
  if (!present(path) || c.envKeys.includes('clientCertificatePath') || !modernOf(c.after)) return [];
  if (present(c.before.clientCertificatePath) && String(c.before.clientCertificatePath).trim() === String(path).trim()) return [];
  const chosen = DESTINATIONS.filter((d) => d.endpoint && !c.envKeys.includes(d.key) && d.value(c.after) !== d.value({ ...c.after, [d.key]: undefined }));
  if (!chosen.length) return [];
  const f = FIELD_BY_KEY.clientCertificatePath;
  const where = chosen.map((d) => `${FIELD_BY_KEY[d.key].label} (${d.value(c.after)})`).join(', ');
  const whereEnv = chosen.map((d) => FIELD_BY_KEY[d.key].env).join(', ');
  return [{
    key: f.key, env: f.env, label: f.label,
    message: `${f.label} (${f.key}, ${f.env}) names a file on the server, which a request cannot prove it holds, so it is used only with the cloud's own endpoints or endpoints set in the environment; here ${where} ${chosen.length > 1 ? 'are' : 'is'} set otherwise. Put ${chosen.length > 1 ? 'them' : 'it'} back to the default, set ${whereEnv} in the environment, or paste the certificate into Client certificate (PEM) instead.`,
  }];
}

/** Every problem of both rules (a moved destination; a path set next to a chosen endpoint). */
export function credentialDestinationProblems(c: RedirectCheck): Problem[] {
  const out = redirectProblems(c);
  if (!out.some((p) => p.key === 'clientCertificatePath')) out.push(...certificatePathProblems(c));
  return out;
}
