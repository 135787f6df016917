/**
 * Verifies a certificate client assertion (`client_assertion`, RFC 7523) the way Entra does:
 * the signing certificate is found by the header's `x5t#S256` (SHA-256) or `x5t` (SHA-1)
 * thumbprint among the app's uploaded certificates, the signature is checked (PS256 or RS256),
 * then `aud` (this token endpoint), `iss` = `sub` = client id, and `nbf`/`exp`.
 *
 * Why it exists: certificate credentials are Microsoft's recommended credential and fail in
 * their own ways (certificate not uploaded, expired, wrong key, clock skew); each must map to
 * the right AADSTS code, with the real reason kept for the admin log.
 *
 * Imports: ./jwt.ts, ./state.ts, ./pki.ts, node:crypto.
 */
import { X509Certificate } from 'node:crypto';
import { decodeJwt, numericClaim, stringClaim, verifyJwtSignature } from './jwt.js';
import { certificateThumbprints } from './pki.js';
import type { AppState } from './state.js';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Clock skew Entra tolerates on `nbf`/`exp` (emulator choice: 5 minutes). */
const CLOCK_SKEW_SECONDS = 300;

export type AssertionResult =
  | { ok: true }
  | { ok: false; code: 700027 | 700024; params: Record<string, string>; reason: string };

function keyNotFound(app: AppState, thumbprint: string, why: 'not registered' | 'expired'): AssertionResult {
  const detail = why === 'expired'
    ? `The certificate with identifier used to sign the client assertion is expired on application. [Reason - The key used is expired., Thumbprint of key used by client: '${thumbprint}', Configured keys: [Key0:Start=..., End=...], Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.appId}'.]`
    : `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.appId}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/${app.applicationObjectId}'.]`;
  return { ok: false, code: 700027, params: { detail }, reason: why === 'expired' ? `certificate ${thumbprint} has expired` : `no certificate with thumbprint ${thumbprint} is uploaded to the app` };
}

const failed = (reason: string): AssertionResult => ({ ok: false, code: 700027, params: {}, reason });

/**
 * @param expectedAudiences the token endpoint URLs the assertion may name as `aud`
 */
export function verifyClientAssertion(assertion: string, clientId: string, app: AppState, expectedAudiences: string[], now: Date): AssertionResult {
  const jwt = decodeJwt(assertion);
  if (!jwt) return failed('client_assertion is not a JWT');
  const alg = jwt.header['alg'];
  if (alg !== 'PS256' && alg !== 'RS256') return failed(`client_assertion uses alg ${String(alg)} (only PS256 and RS256 are accepted)`);

  const x5tS256 = stringClaim(jwt.header, 'x5t#S256');
  const x5t = stringClaim(jwt.header, 'x5t');
  if (!x5tS256 && !x5t) return failed('client_assertion header has neither x5t#S256 nor x5t');
  const presented = x5tS256
    ? { kind: 'sha256' as const, hex: Buffer.from(x5tS256, 'base64url').toString('hex').toLowerCase() }
    : { kind: 'sha1' as const, hex: Buffer.from(x5t!, 'base64url').toString('hex').toUpperCase() };
  const certificate = app.certificates.find((c) => {
    try {
      const t = certificateThumbprints(c.pem);
      return presented.kind === 'sha256' ? t.sha256 === presented.hex : t.sha1 === presented.hex;
    } catch {
      return false;
    }
  });
  if (!certificate) return keyNotFound(app, presented.hex.toUpperCase(), 'not registered');
  if (Date.parse(certificate.expires) <= now.getTime()) return keyNotFound(app, presented.hex.toUpperCase(), 'expired');
  if (!verifyJwtSignature(jwt, new X509Certificate(certificate.pem).publicKey)) {
    return failed(`client_assertion signature does not verify with certificate ${certificate.thumbprintSha256} (${String(alg)})`);
  }

  const p = jwt.payload;
  const aud = stringClaim(p, 'aud');
  if (!aud || !expectedAudiences.some((a) => a.toLowerCase() === aud.toLowerCase())) {
    return failed(`client_assertion aud ${String(aud)} is not this token endpoint (${expectedAudiences[0]})`);
  }
  if (stringClaim(p, 'iss')?.toLowerCase() !== clientId.toLowerCase() || stringClaim(p, 'sub')?.toLowerCase() !== clientId.toLowerCase()) {
    return failed(`client_assertion iss/sub (${String(p['iss'])}/${String(p['sub'])}) must both be the client id ${clientId}`);
  }
  const exp = numericClaim(p, 'exp');
  const nbf = numericClaim(p, 'nbf') ?? numericClaim(p, 'iat');
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (exp === undefined || exp + CLOCK_SKEW_SECONDS < nowSeconds || (nbf !== undefined && nbf - CLOCK_SKEW_SECONDS > nowSeconds)) {
    const fmt = (s: number | undefined) => (s === undefined ? '(none)' : new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    return {
      ok: false, code: 700024,
      params: { now: fmt(nowSeconds), nbf: fmt(nbf), exp: fmt(exp) },
      reason: `client_assertion is outside its validity (nbf ${fmt(nbf)}, exp ${fmt(exp)}, now ${fmt(nowSeconds)})`,
    };
  }
  return { ok: true };
}
