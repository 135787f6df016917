/**
 * Check `token`: Microsoft Entra ID issues an access token for the configured app, credential,
 * tenant and scope.
 *
 * Why it exists: the token request is where a set-up goes wrong first (a Secret ID pasted as the
 * secret, an expired secret, a wrong tenant or client ID, a certificate never uploaded), and
 * Entra says exactly which with an AADSTS code. The doctor sends exactly one request — no cache,
 * no retries — so the answer is what Entra says now, and explains it with the AADSTS table.
 * `observeToken` is the request; `decideToken` is pure. The token itself is kept in a Secret
 * and only ever leaves this module to be decoded (token-claims) and sent in AUTH (smtp-auth).
 *
 * Imports: src/auth (token request, certificate), src/core (errors, secret, diagnosis).
 */
import { requestEntraToken } from '../../auth/entra-token-source.js';
import { readClientCertificate } from '../../auth/client-certificate.js';
import { MailgateError } from '../../core/errors.js';
import { asMailgateError } from '../../core/internal-error.js';
import { Secret } from '../../core/secret.js';
import { tokenEndpoint } from '../../core/clouds.js';
import type { EmailSettings } from '../../core/settings.js';
import { diagnose } from '../../core/diagnosis/index.js';
import type { DiagnosisContext } from '../../core/diagnosis/types.js';
import type { CheckResult } from '../types.js';
import { checkFromDiagnosis } from './diagnosis-result.js';
import { isGuid } from '../../core/settings.js';

export type TokenObservation =
  | { ok: true; token: Secret; expiresAt: number; ms: number }
  | { ok: false; error: MailgateError; ms: number };

/** One client-credentials token request. Never throws. */
export async function observeToken(settings: EmailSettings, o: { ca?: string | Buffer; timeoutMs: number }): Promise<TokenObservation> {
  const started = Date.now();
  try {
    if (!settings.clientId || !settings.tenantId) {
      throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: 'Modern authentication needs the client ID and the tenant ID' });
    }
    const certificate =
      settings.clientCertificatePath || settings.clientCertificatePem
        ? await readClientCertificate({ path: settings.clientCertificatePath, pem: settings.clientCertificatePem })
        : undefined;
    const t = await requestEntraToken({
      authorityHost: settings.authorityHost,
      tenantId: settings.tenantId,
      clientId: settings.clientId,
      scope: settings.scope,
      clientSecret: certificate ? undefined : settings.clientSecret,
      certificate,
      ca: o.ca,
      timeoutMs: o.timeoutMs,
    });
    return { ok: true, token: new Secret(t.token), expiresAt: t.expiresAt, ms: Date.now() - started };
  } catch (e) {
    const error = asMailgateError(e, 'The token request', 'token');
    return { ok: false, error, ms: Date.now() - started };
  }
}


/** Whether the configured client secret has the shape of a Secret ID (a GUID). */
export function secretLooksLikeId(settings: EmailSettings): boolean {
  const s = settings.clientSecret?.reveal().trim();
  return !!s && isGuid(s) && !settings.clientCertificatePath && !settings.clientCertificatePem;
}

export function decideToken(o: TokenObservation, settings: EmailSettings, ctx: DiagnosisContext): CheckResult {
  const credential = settings.clientCertificatePath || settings.clientCertificatePem ? 'certificate' : 'client secret';
  const endpoint = settings.tenantId ? tokenEndpoint(settings.authorityHost, settings.tenantId) : settings.authorityHost;
  const base = { tokenEndpoint: endpoint, scope: settings.scope, credential, ms: o.ms };
  if (o.ok) {
    return {
      id: 'token',
      status: 'pass',
      summary: `Microsoft Entra ID issued a token for ${settings.scope} with the ${credential} (valid until ${new Date(o.expiresAt).toISOString()}).`,
      details: { ...base, expiresAt: new Date(o.expiresAt).toISOString() },
    };
  }
  const d = diagnose(o.error, ctx);
  const aadsts = o.error.token?.aadsts ?? [];
  const secretId = secretLooksLikeId(settings) && (aadsts.includes(7000215) || aadsts.includes(70002));
  return checkFromDiagnosis('token', d, o.error, {
    summary: secretId
      ? `Microsoft Entra ID refused the client secret (AADSTS${aadsts.includes(7000215) ? 7000215 : 70002}): Client Secret is a GUID, which is the secret's ID, not its Value.`
      : undefined,
    fixBefore: secretId
      ? ["Client Secret (MAILGATE_CLIENT_SECRET) holds the Secret ID. Entra ID shows the Value only once, right after the secret is created: create a new secret and copy its Value column."]
      : undefined,
    details: base,
  });
}
