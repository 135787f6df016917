/**
 * findServicePrincipalObjectId: the Enterprise Application object id of the configured app, read
 * from the `oid` claim of a freshly issued access token — the value `New-ServicePrincipal
 * -ObjectId` needs (docs/m365.md §2.3).
 *
 * Why it exists: `mailgate setup-script` (and the admin page) fill the object id into the
 * set-up commands when a token can be obtained, and must say why not when it cannot. The token
 * never leaves this function.
 *
 * Imports: ./checks/token-check, src/auth/jwt-claims, src/core/settings.
 */
import { decodeTokenClaims } from '../auth/jwt-claims.js';
import type { EmailSettings } from '../core/settings.js';
import { observeToken } from './checks/token-check.js';
import { isGuid } from '../core/settings.js';


export type ObjectIdResult = { ok: true; objectId: string } | { ok: false; reason: string };

/** Requests one token and returns its oid, or why there is none (an AADSTS code, an error code). */
export async function findServicePrincipalObjectId(settings: EmailSettings, o: { ca?: string | Buffer; timeoutMs?: number } = {}): Promise<ObjectIdResult> {
  if (!settings.useModernAuth) return { ok: false, reason: 'modern authentication is off' };
  const t = await observeToken(settings, { ca: o.ca, timeoutMs: o.timeoutMs ?? 10_000 });
  if (!t.ok) {
    const aadsts = t.error.token?.aadsts?.[0];
    return { ok: false, reason: aadsts ? `the token request failed with AADSTS${aadsts}` : `the token request failed: ${t.error.code}` };
  }
  const claims = decodeTokenClaims(t.token.reveal());
  const oid = typeof claims?.oid === 'string' ? claims.oid : undefined;
  const appid = typeof claims?.appid === 'string' ? claims.appid : typeof claims?.azp === 'string' ? claims.azp : undefined;
  if (!oid || !isGuid(oid)) return { ok: false, reason: 'the token carries no object id (oid)' };
  if (appid && settings.clientId && appid.toLowerCase() !== settings.clientId.toLowerCase()) {
    return { ok: false, reason: 'the token belongs to another application' };
  }
  return { ok: true, objectId: oid };
}
