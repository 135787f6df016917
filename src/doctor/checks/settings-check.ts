/**
 * Check `settings`: every setting is valid (all problems listed at once), plus the warnings an
 * administrator should see before anything goes on the network (a client secret that looks
 * like a Secret ID, Basic authentication, a scope for the wrong resource, a certificate that
 * expires soon). With a secondary credential (rotation, issue 17), its kind, thumbprint and
 * expiry are reported beside the primary's (`details.secondary`), with the same expiry warnings;
 * a secondary that cannot be used is a warning, never a failure: delivery works on the primary.
 *
 * Why it exists: a wrong setting makes every later check meaningless, so it fails first and the
 * runner skips the rest. The decision (`decideSettings`) is pure; the only I/O, reading the
 * client certificate file, is in `observeCertificate`.
 *
 * Imports: src/core (settings, clouds, errors), src/auth/client-certificate (certificate loading).
 */
import { readClientCertificate } from '../../auth/client-certificate.js';
import { CLOUDS } from '../../core/clouds.js';
import { isMailgateError, type Problem } from '../../core/errors.js';
import { FIELD_BY_KEY, publicSettings, type EmailSettings, type SettingsResult } from '../../core/settings.js';
import { expiryStatus, expiryStatuses, parseExpiryDate, renewalSteps, type CredentialExpiryStatus } from '../../core/credential-expiry.js';
import { secondarySettings } from '../../core/credential-slots.js';
import { joinFix, replaceSecondarySteps } from '../fix-commands.js';
import type { CheckResult } from '../types.js';

/** What reading the client certificate found (undefined when none is configured). */
export type CertificateObservation =
  | { ok: true; notAfter: Date; thumbprintSha256: string; thumbprintSha1?: string }
  | { ok: false; problems: Problem[] };

/** Reads and checks the configured client certificate (file or PEM setting; a file is read bounded, off the event loop). */
export async function observeCertificate(settings: EmailSettings): Promise<CertificateObservation | undefined> {
  if (!settings.useModernAuth || (!settings.clientCertificatePath && !settings.clientCertificatePem)) return undefined;
  try {
    const c = await readClientCertificate({ path: settings.clientCertificatePath, pem: settings.clientCertificatePem });
    return { ok: true, notAfter: c.notAfter, thumbprintSha256: c.thumbprintSha256, thumbprintSha1: c.thumbprintSha1 };
  } catch (e) {
    const problems = isMailgateError(e) && e.problems?.length ? e.problems : [{ key: 'clientCertificatePath', message: 'Client certificate: cannot be read' }];
    return { ok: false, problems };
  }
}

function warning(key: keyof typeof FIELD_BY_KEY, text: string): Problem {
  const f = FIELD_BY_KEY[key];
  return { key: f.key, env: f.env, label: f.label, message: `${f.label} (${f.key}, ${f.env}) ${text}` };
}

const GRAPH_RESOURCES = new Set(
  [...Object.values(CLOUDS).map((c) => c.graphHost), '00000003-0000-0000-c000-000000000000'].map((s) => s.toLowerCase()),
);

/** The resource a `<resource>/.default` scope names, without a trailing slash, lower case. */
export function scopeResource(scope: string): string {
  return scope.replace(/\/\.default$/i, '').replace(/\/+$/, '').toLowerCase();
}

/**
 * What the settings check knows beyond the settings: the secondary certificate (read like the
 * primary's), and the credential's name (the expiry texts and rotation commands name it; the
 * Email Settings' is `default`).
 */
export interface SettingsExtras {
  secondaryCertificate?: CertificateObservation;
  credential?: string;
}

/** Warnings the doctor adds to parseSettings' own (pure). */
export function extraSettingsWarnings(settings: EmailSettings, certificate: CertificateObservation | undefined, now: number, extras: SettingsExtras = {}): Problem[] {
  const out: Problem[] = [];
  if (settings.useModernAuth) {
    const resource = scopeResource(settings.scope);
    const expected = scopeResource(CLOUDS[settings.cloud].smtpScope);
    if (GRAPH_RESOURCES.has(resource)) {
      out.push(warning('scope', `is a Microsoft Graph scope (${settings.scope}); SMTP needs an Exchange Online token: ${CLOUDS[settings.cloud].smtpScope}.`));
    } else if (resource !== expected) {
      out.push(warning('scope', `is ${settings.scope}, not the ${CLOUDS[settings.cloud].label} cloud's SMTP scope ${CLOUDS[settings.cloud].smtpScope}.`));
    }
  }
  for (const status of credentialStatuses(settings, certificate, now, extras.credential)) {
    if (!status.threshold) continue;
    const key = status.input.kind === 'client-secret' ? 'clientSecretExpires' : settings.clientCertificatePem && !settings.clientCertificatePath ? 'clientCertificatePem' : 'clientCertificatePath';
    const f = FIELD_BY_KEY[key];
    out.push({ key: f.key, env: f.env, label: f.label, message: `${status.message} ${renewalSteps(status.input).steps.join(' ')}` });
  }
  // The secondary (rotation): the same thresholds; renewing it is replacing it.
  const secondary = settings.useModernAuth ? secondarySettings(settings) : undefined;
  if (secondary) {
    const certKey = secondary.clientCertificatePem && !secondary.clientCertificatePath ? 'clientCertificatePemSecondary' : 'clientCertificatePathSecondary';
    const sc = extras.secondaryCertificate;
    if (sc && !sc.ok) {
      const f = FIELD_BY_KEY[certKey];
      out.push({ key: f.key, env: f.env, label: f.label, message: `${f.label} cannot be used: ${sc.problems.map((p) => p.message).join('; ')}. Delivery works on the primary, but there is no failover until the secondary is fixed. ${replaceSecondarySteps(extras.credential).join(' ')}` });
    }
    for (const status of secondaryStatuses(settings, sc, now, extras.credential)) {
      if (!status.threshold) continue;
      const f = FIELD_BY_KEY[status.input.kind === 'client-secret' ? 'clientSecretExpiresSecondary' : certKey];
      out.push({ key: f.key, env: f.env, label: f.label, message: `${status.message} A failover to it would fail: ${renewalSteps(status.input).steps[0]} ${replaceSecondarySteps(extras.credential).join(' ')}` });
    }
  }
  return out;
}

/** The secondary's expiry (as `<credential>.secondary`, the expiry monitor's name), or [] without a secondary. */
export function secondaryStatuses(settings: EmailSettings, certificate: CertificateObservation | undefined, now: number, credential = 'default'): CredentialExpiryStatus[] {
  const alone = settings.useModernAuth ? secondarySettings(settings) : undefined;
  return alone ? credentialStatuses(alone, certificate, now, `${credential}.secondary`) : [];
}

/**
 * The expiry of the credential in use (core/credential-expiry.ts: the same table as the
 * service's banner and alerts): a certificate's `notAfter`, or the "Client Secret expires" date.
 */
export function credentialStatuses(settings: EmailSettings, certificate: CertificateObservation | undefined, now: number, credential = 'default'): CredentialExpiryStatus[] {
  if (!settings.useModernAuth) return [];
  const base = { credential, clientId: settings.clientId, tenantId: settings.tenantId, cloud: settings.cloud };
  if (certificate?.ok) {
    return [expiryStatus({ ...base, kind: 'client-certificate', expiresAt: certificate.notAfter.getTime(), source: 'certificate', thumbprintSha1: certificate.thumbprintSha1 }, now)];
  }
  if (certificate || !settings.clientSecret) return [];
  const expiresAt = settings.clientSecretExpires ? parseExpiryDate(settings.clientSecretExpires) : undefined;
  return [expiryStatus({ ...base, kind: 'client-secret', ...(expiresAt !== undefined ? { expiresAt, source: 'setting' as const } : {}) }, now)];
}

/** Facts shown in `details`: the settings in use (no secret values, only whether each is set). */
export function settingsDetails(settings: EmailSettings, certificate: CertificateObservation | undefined, now = Date.now(), extras: SettingsExtras = {}): Record<string, unknown> {
  const d: Record<string, unknown> = {
    authentication: settings.useModernAuth ? 'modern (OAuth2 client credentials, SMTP XOAUTH2)' : 'basic (username and password)',
    ...publicSettings(settings),
  };
  if (settings.useModernAuth) d.credential = settings.clientCertificatePath || settings.clientCertificatePem ? 'certificate' : 'client secret';
  if (certificate?.ok) {
    d.certificateThumbprintSha256 = certificate.thumbprintSha256;
    if (certificate.thumbprintSha1) d.certificateThumbprint = certificate.thumbprintSha1;
    d.certificateNotAfter = certificate.notAfter.toISOString();
  }
  const status = credentialStatuses(settings, certificate, now, extras.credential)[0];
  // The doctor asks for the secret's expiry when it is missing (a note, not a warning: it is optional).
  if (status) d.credentialExpiry = status.message;
  const secondary = settings.useModernAuth ? secondarySettings(settings) : undefined;
  if (secondary) {
    const sc = extras.secondaryCertificate;
    const s: Record<string, unknown> = { credential: secondary.clientCertificatePath || secondary.clientCertificatePem ? 'certificate' : 'client secret' };
    if (sc?.ok) {
      if (sc.thumbprintSha1) s.certificateThumbprint = sc.thumbprintSha1;
      s.certificateThumbprintSha256 = sc.thumbprintSha256;
      s.certificateNotAfter = sc.notAfter.toISOString();
    }
    const ss = secondaryStatuses(settings, sc, now, extras.credential)[0];
    if (ss?.input.expiresAt !== undefined) s.expiresAt = new Date(ss.input.expiresAt).toISOString();
    if (ss) s.credentialExpiry = ss.message;
    d.secondary = s;
  }
  if (!CLOUDS[settings.cloud].confirmed) {
    d.note = `The ${CLOUDS[settings.cloud].label} SMTP host and scope are Mailgate's defaults from Microsoft's endpoint lists and community use, not confirmed by Microsoft documentation; compare them with your tenant.`;
  }
  return d;
}

const problemJson = (p: Problem) => ({ key: p.key, ...(p.env ? { env: p.env } : {}), message: p.message });

/**
 * The decision. `parsed` is parseSettings' result; `certificate` what observeCertificate found.
 * Fails when any setting is invalid (listing every problem), warns when there are warnings.
 */
export function decideSettings(parsed: SettingsResult, certificate: CertificateObservation | undefined, now: number, extras: SettingsExtras = {}): CheckResult {
  const problems = parsed.ok ? [] : [...parsed.problems];
  if (certificate && !certificate.ok) problems.push(...certificate.problems);
  const warnings = [...parsed.warnings, ...(parsed.ok ? extraSettingsWarnings(parsed.settings, certificate, now, extras) : [])];

  if (problems.length) {
    return {
      id: 'settings',
      status: 'fail',
      summary: `${problems.length} setting${problems.length === 1 ? ' is' : 's are'} missing or invalid: ${problems.map((p) => p.label ?? p.key).join(', ')}.`,
      fix: joinFix([...problems.map((p) => p.message), 'Fix these settings (the environment variable is named in each line), then run `mailgate doctor` again.']),
      details: { problems: problems.map(problemJson), ...(warnings.length ? { warnings: warnings.map(problemJson) } : {}) },
    };
  }
  const settings = (parsed as { settings: EmailSettings }).settings;
  const details = settingsDetails(settings, certificate, now, extras);
  // The most urgent first (an expired secondary before a primary expiring in 30 days).
  const statuses = [
    ...credentialStatuses(settings, certificate, now, extras.credential),
    ...secondaryStatuses(settings, extras.secondaryCertificate, now, extras.credential),
  ];
  const expiring = expiryStatuses(statuses.filter((s) => s.threshold).map((s) => s.input), now);
  // A secret without a known expiry: the doctor asks for the date in the summary, where the
  // text report shows it (optional, so not a warning; the details alone are --verbose only).
  const asks = statuses.filter((s) => s.severity === 'unknown' && s.input.kind === 'client-secret').map((s) => ` ${s.message}`).join('');
  if (warnings.length) {
    return {
      id: 'settings',
      status: 'warn',
      summary: `Settings are valid, with ${warnings.length} warning${warnings.length === 1 ? '' : 's'}: ${warnings.map((w) => w.label ?? w.key).join(', ')}.${asks}`,
      fix: joinFix(warnings.map((w) => w.message)),
      ...(expiring.length ? { commands: renewalSteps(expiring[0]!.input).commands } : {}),
      details: { ...details, warnings: warnings.map(problemJson) },
    };
  }
  return {
    id: 'settings',
    status: 'pass',
    summary: `Settings are valid (${settings.useModernAuth ? 'OAuth2' : 'Basic authentication'}, ${CLOUDS[settings.cloud].label} cloud, ${settings.smtpHost}:${settings.smtpPort}, mailbox ${settings.authorizedFrom}).${asks}`,
    details,
  };
}
