/**
 * Microsoft Graph's `GET /v1.0/applications(appId='{appId}')` (and `/v1.0/applications/{object
 * id}`): the app registration with its `passwordCredentials` (secrets: displayName, endDateTime,
 * hint = the first three characters of the value, keyId, startDateTime; never the value, whose
 * `secretText` Graph returns as null) and `keyCredentials` (certificates: customKeyIdentifier =
 * the SHA-1 thumbprint, endDateTime, keyId, type, usage; `key` null).
 *
 * Why it exists: Mailgate reads the real expiry of its own credentials when the app may read
 * itself (issue 17): the Graph application permission `Application.Read.All`, or
 * `Application.ReadWrite.OwnedBy` (modelled as: the app may read its own registration). Without
 * either, Graph answers 403 `Authorization_RequestDenied`; an app that does not exist, 404
 * `Request_ResourceNotFound` (texts as Graph's directory answers).
 *
 * Imports: hono, node:crypto, ./graph-request.ts (the request kit), ./graph-access.ts,
 * ./access-token.ts, ./state.ts, ./pki.ts, ./http-runtime.ts (types).
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { verifyAccessToken } from './access-token.js';
import { bearerToken, decideGraphToken } from './graph-access.js';
import type { GraphRequestKit } from './graph-request.js';
import type { HttpRuntime } from './http-runtime.js';
import type { AppState, TenantState } from './state.js';

const READ_ROLES = ['Application.Read.All', 'Application.ReadWrite.All', 'Application.ReadWrite.OwnedBy'] as const;
const YEAR_MS = 365 * 86_400_000;

/** A GUID-shaped id derived from text (stable keyIds for certificates without one). */
function derivedGuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The application as Graph returns it (v1.0, the properties Mailgate reads plus the usual ones). */
export function applicationJson(graphRoot: string, app: AppState) {
  return {
    '@odata.context': `${graphRoot}/v1.0/$metadata#applications/$entity`,
    id: app.applicationObjectId,
    appId: app.appId,
    displayName: app.displayName ?? app.appId,
    signInAudience: 'AzureADMyOrg',
    passwordCredentials: app.secrets.map((s) => ({
      customKeyIdentifier: null,
      displayName: s.displayName ?? null,
      endDateTime: iso(Date.parse(s.expires)),
      hint: s.value.slice(0, 3),
      keyId: s.id,
      secretText: null,
      startDateTime: iso(s.created ? Date.parse(s.created) : Date.parse(s.expires) - YEAR_MS),
    })),
    keyCredentials: app.certificates.map((c) => {
      let sha1 = '';
      let start = Date.parse(c.expires) - YEAR_MS;
      let subject = 'CN=certificate';
      try {
        const x = new X509Certificate(c.pem);
        sha1 = x.fingerprint.replace(/:/g, '').toUpperCase();
        start = Date.parse(x.validFrom);
        subject = `CN=${/CN=([^\n,]+)/.exec(x.subject)?.[1] ?? 'certificate'}`;
      } catch { /* the state schema checked the PEM */ }
      return {
        customKeyIdentifier: sha1,
        displayName: c.displayName ?? subject,
        endDateTime: iso(Date.parse(c.expires)),
        key: null,
        keyId: c.keyId ?? derivedGuid(c.thumbprintSha256),
        startDateTime: iso(start),
        type: 'AsymmetricX509Cert',
        usage: 'Verify',
      };
    }),
  };
}

function findApplication(tenant: TenantState, segment: string): AppState | undefined {
  const byAppId = /^applications\(appId='([^']{1,100})'\)$/i.exec(segment);
  const key = (byAppId?.[1] ?? segment).toLowerCase();
  return byAppId
    ? tenant.apps.find((a) => a.appId.toLowerCase() === key)
    : tenant.apps.find((a) => a.applicationObjectId.toLowerCase() === key);
}

export function graphApplicationRoutes(rt: HttpRuntime, kit: GraphRequestKit): Hono {
  const app = new Hono();
  const answer = (c: Context, segment: string) => {
    const ctx = kit.begin(c, 'other');
    const token = bearerToken(c.req.header('authorization'));
    const verified = token ? verifyAccessToken(token, rt.signingKey, Math.floor(Date.now() / 1000)) : undefined;
    const auth = decideGraphToken(rt.getState(), token, verified);
    if (!auth.ok) return kit.refused(ctx, auth);
    const target = findApplication(auth.tenant, segment);
    const roles = auth.claims.roles;
    const mayReadAll = roles.includes('Application.Read.All') || roles.includes('Application.ReadWrite.All');
    const ownOnly = roles.includes('Application.ReadWrite.OwnedBy');
    const own = target !== undefined && target.appId.toLowerCase() === auth.claims.appid.toLowerCase();
    if (!mayReadAll && !(ownOnly && own)) {
      return kit.fail(ctx, { status: 403, code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' },
        `the token's roles (${roles.join(', ') || 'none'}) include none of ${READ_ROLES.join(', ')}${ownOnly ? ' for another app' : ''}`);
    }
    if (!target) {
      const id = /appId='([^']*)'/i.exec(segment)?.[1] ?? segment;
      return kit.fail(ctx, { status: 404, code: 'Request_ResourceNotFound', message: '' }, `no application ${id} in tenant ${auth.tenant.id}`,
        `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
    }
    Object.assign(ctx.entry, { status: 200 });
    rt.say(`graph applications: 200 for app ${target.appId} (${target.secrets.length} secret(s), ${target.certificates.length} certificate(s))`);
    const root = new URL(c.req.url).origin;
    return c.json(applicationJson(root, target), 200, { 'request-id': ctx.requestId, 'client-request-id': ctx.clientRequestId, 'Cache-Control': 'no-cache' });
  };
  app.get('/v1.0/:segment', async (c, next) => {
    const segment = decodeURIComponent(c.req.param('segment'));
    if (!/^applications\(appId='[^']{1,100}'\)$/i.test(segment)) return next();
    return answer(c, segment);
  });
  app.get('/v1.0/applications/:id', (c) => answer(c, c.req.param('id')));
  return app;
}
