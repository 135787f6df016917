/**
 * Entra ID's HTTP surface as Microsoft's libraries use it: `POST /{tenant}/oauth2/v2.0/token`
 * (client credentials, form-encoded; secret in the form or HTTP Basic, or a certificate
 * assertion), `GET /{tenant}/v2.0/.well-known/openid-configuration` (issuer
 * `{authorityHost}/{tenantGuid}/v2.0`; unknown tenant → 400 AADSTS90002), `GET
 * /common/discovery/instance` (instance discovery) and `GET /{tenant}/discovery/v2.0/keys` (JWKS).
 *
 * Why it exists: MSAL and the product's own token code must run unchanged against the
 * emulator; this file is only HTTP plumbing around token-request.ts's decision, plus the
 * token-endpoint faults (503/429 with Retry-After, slow answers).
 *
 * Imports: hono, ./http-runtime.ts, ./token-request.ts, ./token-errors.ts, ./state.ts, ./ids.ts.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { Hono } from 'hono';
import type { TokenLogEntry } from './activity-log.js';
import type { HttpRuntime } from './http-runtime.js';
import { newGuid } from './ids.js';
import { entraError, type AadstsCode } from './token-errors.js';
import { decideTokenRequest, resolveTenant, type TokenRequest } from './token-request.js';
import type { TenantState } from './state.js';

const NO_STORE = { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1). */
function parseBasicAuth(header: string | undefined): TokenRequest['basic'] {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  try {
    return { clientId: decodeURIComponent(decoded.slice(0, colon)), clientSecret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

const MULTI_TENANT = new Set(['common', 'organizations', 'consumers']);

/** The OpenID Provider metadata for a tenant, as `login.microsoftonline.com` serves it (v2.0). */
function openIdConfiguration(host: string, tenantId: string) {
  const base = `${host}/${tenantId}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${host}/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name', 'cloud_graph_host_name', 'msgraph_host', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: 'NA',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
}

/** The token endpoint URLs a client assertion may name as `aud` (by tenant GUID and by each domain). */
export function tokenEndpointUrls(host: string, tenant: TenantState): string[] {
  return [tenant.id, ...tenant.domains].map((t) => `${host}/${t}/oauth2/v2.0/token`);
}

function hostPort(authorityHost: string): string {
  return new URL(authorityHost).host;
}

export function tokenEndpointRoutes(rt: HttpRuntime): Hono {
  const app = new Hono();

  app.post('/:tenant/oauth2/v2.0/token', async (c) => {
    const now = () => new Date();
    const tenantSegment = c.req.param('tenant');
    const correlationId = c.req.header('client-request-id') ?? c.req.query('client-request-id') ?? newGuid();
    const contentType = c.req.header('content-type') ?? '';
    const bodyText = await c.req.text().catch(() => '');
    const form = /^application\/x-www-form-urlencoded\b/i.test(contentType) ? new URLSearchParams(bodyText) : undefined;
    const basic = parseBasicAuth(c.req.header('authorization'));
    const clientId = form?.get('client_id') ?? basic?.clientId;
    rt.stats.tokenRequests++;
    const key = clientId ?? '(none)';
    rt.stats.tokenRequestsByApp[key] = (rt.stats.tokenRequestsByApp[key] ?? 0) + 1;
    const entry: TokenLogEntry = {
      kind: 'token', at: now().toISOString(), tenant: tenantSegment, clientId,
      grantType: form?.get('grant_type') ?? undefined, scope: form?.get('scope') ?? undefined, status: 0,
    };
    rt.log.add(entry);

    const delay = rt.faults.takeTokenDelay();
    if (delay > 0) {
      entry.reason = `fault tokenDelay: answered after ${delay} ms`;
      await sleep(delay);
    }
    const fault = rt.faults.takeTokenError();
    if (fault) {
      const code: AadstsCode = fault.status === 429 ? 90055 : 90033;
      const { status, body } = entraError(code, {}, { now: now(), correlationId, status: fault.status });
      Object.assign(entry, { status, error: body.error, aadsts: code, reason: `fault tokenError: ${fault.status}` });
      rt.say(`token: ${status} (scripted fault)`);
      const headers: Record<string, string> = { ...NO_STORE, 'client-request-id': correlationId, 'x-ms-request-id': body.trace_id };
      if (fault.retryAfterSeconds > 0) headers['Retry-After'] = String(fault.retryAfterSeconds);
      return c.json(body, status as ContentfulStatusCode, headers);
    }

    const decision = decideTokenRequest({ tenantSegment, form, basic }, {
      state: rt.getState(), now: now(), signingKey: rt.signingKey, lifetimeSeconds: rt.tokenLifetimeSeconds,
      tokenEndpointUrls: (tenant) => tokenEndpointUrls(rt.authorityHost, tenant),
    });
    entry.tenantId = decision.tenantId;
    entry.credential = decision.credential;
    if (decision.ok) {
      rt.stats.tokensIssued++;
      entry.status = 200;
      rt.onTokenIssued?.(decision.body.access_token);
      rt.say(`token: 200 for app ${decision.appId} (${decision.credential}, scope ${decision.scope})`);
      return c.json(decision.body, 200, { ...NO_STORE, 'client-request-id': correlationId, 'x-ms-request-id': newGuid() });
    }
    const { status, body } = entraError(decision.code, decision.params, { now: now(), correlationId });
    Object.assign(entry, { status, error: body.error, aadsts: decision.code, reason: decision.reason });
    rt.say(`token: ${status} AADSTS${decision.code} for app ${clientId ?? '(none)'}: ${decision.reason}`);
    return c.json(body, status as ContentfulStatusCode, { ...NO_STORE, 'client-request-id': correlationId, 'x-ms-request-id': body.trace_id });
  });

  const metadata = (c: Context) => {
    const segment = c.req.param('tenant') ?? '';
    if (MULTI_TENANT.has(segment.toLowerCase())) return c.json(openIdConfiguration(rt.authorityHost, '{tenantid}'));
    const resolved = resolveTenant(rt.getState(), segment);
    if ('ok' in resolved) {
      // The metadata document reports tenant problems as `invalid_tenant` (the token endpoint says `invalid_request`).
      const { status, body } = entraError(resolved.code, resolved.params, { now: new Date(), error: 'invalid_tenant' });
      return c.json(body, status as ContentfulStatusCode);
    }
    return c.json(openIdConfiguration(rt.authorityHost, resolved.tenant.id));
  };
  app.get('/:tenant/v2.0/.well-known/openid-configuration', metadata);

  app.get('/common/discovery/instance', (c) => {
    const authorizationEndpoint = c.req.query('authorization_endpoint') ?? '';
    const tenant = /^https?:\/\/[^/]+\/([^/?#]+)/.exec(authorizationEndpoint)?.[1] ?? 'common';
    const hp = hostPort(rt.authorityHost);
    const aliases = [...new Set([hp, hp.replace(/^127\.0\.0\.1(?=:|$)/, 'localhost')])];
    return c.json({
      tenant_discovery_endpoint: `${rt.authorityHost}/${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: hp, preferred_cache: hp, aliases }],
    });
  });

  app.get('/:tenant/discovery/v2.0/keys', (c) => c.json({ keys: [rt.signingKey.jwk] }));

  return app;
}
