/**
 * Decides a client-credentials token request as Entra ID would: resolves the tenant, checks
 * the form fields, the scope, the application, its credential (secret or certificate
 * assertion) and the resource, and either issues an access token or names the AADSTS error.
 *
 * Why it exists: the order and wording of these checks are the contract clients see; keeping
 * them in one function with no HTTP in it makes each rule testable and readable. The
 * emulator's order (documented where Microsoft is silent): tenant → grant_type → client_id →
 * `resource` parameter → scope syntax → application → enabled → credential → resource.
 *
 * Imports: ./state.ts, ./access-token.ts, ./client-assertion.ts, ./token-errors.ts (types).
 */
import { findResource, issueAccessToken, type SigningKey } from './access-token.js';
import { JWT_BEARER_ASSERTION_TYPE, verifyClientAssertion } from './client-assertion.js';
import { findApp, findTenant, isGuid, type EmulatorState, type TenantState } from './state.js';
import type { AadstsCode } from './token-errors.js';

export interface TokenRequest {
  /** The `{tenant}` path segment as sent. */
  tenantSegment: string;
  /** The form fields, or `undefined` when the body was not `application/x-www-form-urlencoded`. */
  form: URLSearchParams | undefined;
  /** Client id and secret from an `Authorization: Basic` header (RFC 6749 §2.3.1), if any. */
  basic?: { clientId: string; clientSecret: string };
}

export interface TokenContext {
  state: EmulatorState;
  now: Date;
  signingKey: SigningKey;
  lifetimeSeconds: number;
  /** The token endpoint URLs for a tenant (by GUID and by each domain): valid assertion audiences. */
  tokenEndpointUrls(tenant: TenantState): string[];
}

export interface TokenSuccess {
  ok: true;
  tenantId: string;
  appId: string;
  credential: 'secret' | 'certificate';
  scope: string;
  body: { token_type: 'Bearer'; expires_in: number; ext_expires_in: number; access_token: string };
}

export interface TokenFailure {
  ok: false;
  code: AadstsCode;
  params: Record<string, string>;
  /** The precise cause, for the admin log (Entra's text is sometimes deliberately vague). */
  reason: string;
  tenantId?: string;
  appId?: string;
  credential?: 'secret' | 'certificate' | 'none';
}

export type TokenDecision = TokenSuccess | TokenFailure;

const fail = (code: AadstsCode, params: Record<string, string>, reason: string, extra: Partial<TokenFailure> = {}): TokenFailure =>
  ({ ok: false, code, params, reason, ...extra });

/** The special tenants that do not name a directory. */
const MULTI_TENANT_SEGMENTS = new Set(['common', 'consumers', 'organizations']);
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** Resolves `{tenant}` like Entra: a GUID or a DNS name, else AADSTS900023; unknown → AADSTS90002. */
export function resolveTenant(state: EmulatorState, segment: string): { tenant: TenantState } | TokenFailure {
  if (!isGuid(segment) && !DNS_NAME.test(segment)) {
    return fail(900023, { tenant: segment }, `tenant segment '${segment}' is neither a GUID nor a DNS name`);
  }
  const tenant = findTenant(state, segment);
  if (!tenant) return fail(90002, { tenant: segment }, `no tenant with id or domain '${segment}' in the emulator state`);
  return { tenant };
}

const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access']);

/** Validates the scope list: one resource, every scope `<resource>/.default`. */
function resolveScope(scope: string, tenant: TenantState): { resource: ReturnType<typeof findResource> & object } | TokenFailure {
  const scopes = scope.split(/\s+/).filter((s) => s && !OIDC_SCOPES.has(s.toLowerCase()));
  if (!scopes.length) return fail(900144, { name: 'scope' }, 'scope contains no resource scope');
  const notDefault = scopes.find((s) => !s.toLowerCase().endsWith('/.default'));
  if (notDefault) return fail(1002012, { scope }, `scope '${notDefault}' does not end with /.default`);
  const identifiers = [...new Set(scopes.map((s) => s.slice(0, -'/.default'.length).toLowerCase()))];
  if (identifiers.length > 1) return fail(700022, { scope }, `scope names ${identifiers.length} resources`);
  const found = findResource(identifiers[0]!);
  if (!found) return fail(500011, { resource: identifiers[0]!, tenantName: tenant.id }, `no resource with identifier '${identifiers[0]}' in the tenant`);
  return { resource: found };
}

export function decideTokenRequest(request: TokenRequest, ctx: TokenContext): TokenDecision {
  if (MULTI_TENANT_SEGMENTS.has(request.tenantSegment.toLowerCase())) {
    return fail(9001023, {}, `client_credentials sent to /${request.tenantSegment}`);
  }
  const resolved = resolveTenant(ctx.state, request.tenantSegment);
  if ('ok' in resolved) return resolved;
  const { tenant } = resolved;
  const form = request.form ?? new URLSearchParams();
  const tenantId = tenant.id;

  const grantType = form.get('grant_type');
  if (!grantType) return fail(900144, { name: 'grant_type' }, request.form ? 'grant_type missing' : 'the body is not application/x-www-form-urlencoded', { tenantId });
  if (grantType !== 'client_credentials') return fail(70003, { grantType }, `grant_type '${grantType}' is not client_credentials`, { tenantId });
  const clientId = form.get('client_id') ?? request.basic?.clientId;
  if (!clientId) return fail(900144, { name: 'client_id' }, 'client_id missing', { tenantId });
  if (form.has('resource')) return fail(901002, {}, 'the v1 `resource` parameter was sent to the v2 endpoint', { tenantId });
  const scope = form.get('scope');
  if (!scope) return fail(900144, { name: 'scope' }, 'scope missing', { tenantId });
  const scopeResult = resolveScope(scope, tenant);
  if ('ok' in scopeResult) return { ...scopeResult, tenantId };

  const app = findApp(tenant, clientId);
  if (!app) return fail(700016, { appId: clientId, tenantName: tenant.domains[0]! }, `no app with appId ${clientId} in tenant ${tenantId}`, { tenantId, appId: clientId });
  const extra = { tenantId, appId: app.appId };
  if (!app.enabled) return fail(7000112, { appId: app.appId, displayName: app.displayName ?? app.appId }, 'the app is disabled', extra);

  const secret = form.get('client_secret') ?? request.basic?.clientSecret;
  const assertion = form.get('client_assertion');
  let credential: 'secret' | 'certificate';
  if (secret !== undefined && secret !== null) {
    credential = 'secret';
    const match = app.secrets.find((s) => s.value === secret);
    if (!match) {
      const isSecretId = app.secrets.some((s) => s.id.toLowerCase() === secret.toLowerCase());
      return fail(7000215, { appId: app.appId }, isSecretId ? "the secret's ID was sent instead of its value" : 'the secret does not match any of the app\'s secrets', { ...extra, credential });
    }
    if (Date.parse(match.expires) <= ctx.now.getTime()) {
      return fail(7000222, { appId: app.appId }, `the secret ${match.id} expired at ${match.expires}`, { ...extra, credential });
    }
  } else if (assertion) {
    credential = 'certificate';
    const type = form.get('client_assertion_type');
    if (!type) return fail(900144, { name: 'client_assertion_type' }, 'client_assertion_type missing', { ...extra, credential });
    if (type !== JWT_BEARER_ASSERTION_TYPE) return fail(700027, {}, `client_assertion_type '${type}' is not ${JWT_BEARER_ASSERTION_TYPE}`, { ...extra, credential });
    const verdict = verifyClientAssertion(assertion, clientId, app, ctx.tokenEndpointUrls(tenant), ctx.now);
    if (!verdict.ok) return fail(verdict.code, verdict.params, verdict.reason, { ...extra, credential });
  } else {
    return fail(7000218, {}, 'neither client_secret nor client_assertion was sent', { ...extra, credential: 'none' });
  }

  const { resource, audience } = scopeResult.resource;
  const { token } = issueAccessToken({
    tenant, app, resource, audience,
    appidacr: credential === 'secret' ? '1' : '2',
    lifetimeSeconds: ctx.lifetimeSeconds,
    nowSeconds: Math.floor(ctx.now.getTime() / 1000),
  }, ctx.signingKey);
  return {
    ok: true, tenantId, appId: app.appId, credential, scope,
    body: { token_type: 'Bearer', expires_in: ctx.lifetimeSeconds, ext_expires_in: ctx.lifetimeSeconds, access_token: token },
  };
}
