/**
 * Issues and verifies the emulator's app-only access tokens, shaped like the v1.0 tokens Entra
 * issues for Exchange Online and Microsoft Graph (`iss` https://sts.windows.net/{tid}/, `appid`,
 * `appidacr`, `idtyp` "app", `oid` = service principal object id, `roles` only when consented),
 * padded with the claims real tokens carry so they are Microsoft-sized (about 2 KB).
 *
 * Why it exists: the token endpoint (issuing) and the SMTP server (verifying) must agree on one
 * signing key and one claim layout; the resource catalogue (which scopes exist, which roles
 * belong to which resource) lives here too.
 *
 * Imports: ./jwt.ts, ./ids.ts, ./state.ts (types), node:crypto.
 */
import { generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { newGuid } from './ids.js';
import { decodeJwt, numericClaim, signJwt, stringClaim, verifyJwtSignature, type JsonObject } from './jwt.js';
import type { AppState, TenantState } from './state.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** Office 365 Exchange Online's application id (also accepted as a token audience by SMTP). */
export const EXCHANGE_APP_ID = '00000002-0000-0ff1-ce00-000000000000';
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

export interface Resource {
  name: string;
  appId: string;
  /** Identifier URIs accepted in `<uri>/.default`; the token's `aud` is the one requested. */
  identifierUris: string[];
  kind: 'exchange' | 'graph';
}

/** The resources the emulated tenant knows (any other scope gets AADSTS500011). */
export const RESOURCES: readonly Resource[] = [
  { name: 'Office 365 Exchange Online', appId: EXCHANGE_APP_ID, identifierUris: ['https://outlook.office365.com', 'https://ps.outlook.com'], kind: 'exchange' },
  // One emulator plays every cloud, so it knows Graph by each cloud's root (docs/m365.md §1.1).
  { name: 'Microsoft Graph', appId: GRAPH_APP_ID, identifierUris: ['https://graph.microsoft.com', 'https://graph.microsoft.us', 'https://dod-graph.microsoft.us', 'https://microsoftgraph.chinacloudapi.cn'], kind: 'graph' },
];

/**
 * The audiences the emulated Graph accepts: each Graph identifier URI (`aud` is the one the
 * scope named) and Graph's application id, which Entra puts in v1 tokens requested by app id.
 */
export const GRAPH_AUDIENCES: readonly string[] = [...RESOURCES.find((r) => r.kind === 'graph')!.identifierUris, GRAPH_APP_ID];

/** The audiences Exchange Online's SMTP front end accepts. */
export const EXCHANGE_AUDIENCES: readonly string[] = ['https://outlook.office365.com', 'https://ps.outlook.com', EXCHANGE_APP_ID];

/**
 * Application roles that belong to Office 365 Exchange Online; every other consented role is
 * treated as a Microsoft Graph permission. So an app that only has Graph `Mail.Send` gets an
 * Exchange token without `roles` (and SMTP refuses it), as in Microsoft 365.
 */
export const EXCHANGE_ROLES: ReadonlySet<string> = new Set([
  'SMTP.SendAsApp', 'IMAP.AccessAsApp', 'POP.AccessAsApp', 'full_access_as_app', 'Exchange.ManageAsApp',
]);

/** Finds the resource named by an identifier (URI without `/.default`, or the resource's app id). */
export function findResource(identifier: string): { resource: Resource; audience: string } | undefined {
  const key = identifier.replace(/\/+$/, '').toLowerCase();
  for (const resource of RESOURCES) {
    if (resource.appId === key) return { resource, audience: resource.appId };
    const uri = resource.identifierUris.find((u) => u.toLowerCase() === key);
    if (uri) return { resource, audience: uri };
  }
  return undefined;
}

/** The key that signs every token of one emulator run; published at `/{tenant}/discovery/v2.0/keys`. */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as a JWK (for the JWKS document). */
  jwk: JsonObject;
}

export async function createSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(20).toString('base64url').slice(0, 27);
  const jwk = { kty: 'RSA', use: 'sig', kid, x5t: kid, ...publicKey.export({ format: 'jwk' }), issuer: 'https://sts.windows.net/{tenantid}/' };
  return { kid, privateKey, publicKey, jwk };
}

export interface IssueTokenInput {
  tenant: TenantState;
  app: AppState;
  resource: Resource;
  audience: string;
  /** How the client authenticated: `1` secret, `2` certificate. */
  appidacr: '1' | '2';
  lifetimeSeconds: number;
  nowSeconds: number;
}

const random = (bytes: number): string => randomBytes(bytes).toString('base64url');

/** Builds and signs an access token; returns the token and its claims. */
export function issueAccessToken(input: IssueTokenInput, key: SigningKey): { token: string; claims: JsonObject } {
  const { tenant, app, nowSeconds } = input;
  const iss = `https://sts.windows.net/${tenant.id}/`;
  const roles = app.consentedRoles.filter((role) => (input.resource.kind === 'exchange') === EXCHANGE_ROLES.has(role));
  // Entra back-dates iat/nbf by five minutes: an observed Exchange token had exp - iat = 3900 s.
  const claims: JsonObject = {
    aud: input.audience,
    iss,
    iat: nowSeconds - 300,
    nbf: nowSeconds - 300,
    exp: nowSeconds + input.lifetimeSeconds,
    aio: `k2BgYGi${random(150)}`,
    app_displayname: app.displayName ?? app.appId,
    appid: app.appId,
    appidacr: input.appidacr,
    idp: iss,
    idtyp: 'app',
    oid: app.servicePrincipalObjectId,
    rh: `1.A${random(60)}.`,
    ...(roles.length ? { roles } : {}),
    sid: newGuid(),
    sub: app.servicePrincipalObjectId,
    tid: tenant.id,
    uti: random(16),
    ver: '1.0',
    wids: ['0997a1d0-0d1d-4acb-b408-d5ca73121e90'],
    xms_ftd: random(48),
    xms_idrel: '7 20',
    xms_rd: `0.42Lj${random(90)}`,
    xms_tcdt: 1600000000,
  };
  const header = { typ: 'JWT', nonce: random(32), alg: 'RS256', x5t: key.kid, kid: key.kid };
  return { token: signJwt(header, claims, key.privateKey), claims };
}

/** The claims SMTP checks, read from a token that passed `verifyAccessToken`. */
export interface AccessTokenClaims {
  aud: string;
  tid: string;
  oid: string;
  appid: string;
  roles: string[];
  exp: number;
}

export type VerifyTokenResult = { ok: true; claims: AccessTokenClaims } | { ok: false; reason: string };

/** Checks shape, signing key, signature, issuer and time of a bearer token (not the audience: SMTP does that). */
export function verifyAccessToken(token: string, key: SigningKey, nowSeconds: number): VerifyTokenResult {
  const jwt = decodeJwt(token);
  if (!jwt) return { ok: false, reason: 'the bearer token is not a JWT' };
  if (jwt.header['kid'] !== key.kid) return { ok: false, reason: `the token was not signed by this emulator's key (kid ${String(jwt.header['kid'])})` };
  if (jwt.header['alg'] !== 'RS256' || !verifyJwtSignature(jwt, key.publicKey)) return { ok: false, reason: 'the token signature is invalid' };
  const p = jwt.payload;
  const exp = numericClaim(p, 'exp');
  const nbf = numericClaim(p, 'nbf');
  const tid = stringClaim(p, 'tid');
  const oid = stringClaim(p, 'oid');
  const appid = stringClaim(p, 'appid');
  const aud = stringClaim(p, 'aud');
  if (exp === undefined || !tid || !oid || !appid || !aud) return { ok: false, reason: 'the token lacks exp, tid, oid, appid or aud' };
  if (stringClaim(p, 'iss') !== `https://sts.windows.net/${tid}/`) return { ok: false, reason: `the token issuer ${String(p['iss'])} does not match its tenant` };
  if (exp <= nowSeconds) return { ok: false, reason: `the token expired at ${new Date(exp * 1000).toISOString()}` };
  if (nbf !== undefined && nbf > nowSeconds) return { ok: false, reason: `the token is not valid before ${new Date(nbf * 1000).toISOString()}` };
  const roles = Array.isArray(p['roles']) ? p['roles'].filter((r): r is string => typeof r === 'string') : [];
  return { ok: true, claims: { aud, tid, oid, appid, roles, exp } };
}
