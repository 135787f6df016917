/**
 * Decode (not verify) the claims of an access token.
 *
 * Why: Microsoft says to treat access tokens as opaque and not to validate them (docs/m365.md §1.4),
 * but their claims tell an administrator what Exchange will see: `aud`, `tid`, `roles`, and
 * `oid` — the Enterprise Application object id that `New-ServicePrincipal -ObjectId` needs.
 * Used by the doctor and by diagnosis context; never returns the token itself.
 */

export interface TokenClaims {
  aud?: string;
  iss?: string;
  tid?: string;
  oid?: string;
  appid?: string;
  azp?: string;
  appidacr?: string;
  idtyp?: string;
  roles?: string[];
  scp?: string;
  exp?: number;
  iat?: number;
  nbf?: number;
  [claim: string]: unknown;
}

/** The claims of a JWT, or undefined when the token is not a decodable JWT (an opaque token). */
export function decodeTokenClaims(token: string): TokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const json = Buffer.from(parts[1], 'base64url').toString('utf8');
    const claims = JSON.parse(json) as unknown;
    if (!claims || typeof claims !== 'object' || Array.isArray(claims)) return undefined;
    return claims as TokenClaims;
  } catch {
    return undefined;
  }
}
