// The OpenID metadata, instance discovery and JWKS endpoints, and Microsoft's own library
// (@azure/msal-node) acquiring tokens from the emulator with a secret and with a certificate.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfidentialClientApplication, ServerError } from '@azure/msal-node';
import { buildTenantState, createClientCertificate, startEmulator, type BuiltTenant, type ClientCertificate, type Emulator } from '../../src/emulator/index.js';
import { httpsRequest, jwtPayload, msalNetworkClient } from '../helpers/emulator-client.js';

describe('metadata endpoints and MSAL', () => {
  let emulator: Emulator;
  let tenant: BuiltTenant;
  let cert: ClientCertificate;

  before(async () => {
    cert = await createClientCertificate();
    tenant = buildTenantState({ certificates: [cert] });
    emulator = await startEmulator(tenant.state);
  });
  after(() => emulator.stop());

  const get = (path: string) => httpsRequest(`${emulator.authorityHost}${path}`, { ca: emulator.caPem });

  test('openid-configuration carries the four fields MSAL requires, issuer {authorityHost}/{tenantGuid}/v2.0', async () => {
    for (const segment of [tenant.tenantId, tenant.domain]) {
      const res = await get(`/${segment}/v2.0/.well-known/openid-configuration`);
      assert.equal(res.status, 200);
      const doc = res.json();
      assert.equal(doc.issuer, `${emulator.authorityHost}/${tenant.tenantId}/v2.0`);
      assert.equal(doc.token_endpoint, `${emulator.authorityHost}/${tenant.tenantId}/oauth2/v2.0/token`);
      assert.equal(doc.authorization_endpoint, `${emulator.authorityHost}/${tenant.tenantId}/oauth2/v2.0/authorize`);
      assert.equal(doc.jwks_uri, `${emulator.authorityHost}/${tenant.tenantId}/discovery/v2.0/keys`);
    }
  });

  test('openid-configuration of an unknown tenant: 400 AADSTS90002 (malformed: 900023)', async () => {
    const unknown = await get('/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration');
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.json().error_codes, [90002]);
    assert.equal(unknown.json().error, 'invalid_tenant');
    assert.match(unknown.json().error_description, /^AADSTS90002: Tenant 'fabrikam.onmicrosoft.com' not found\./);
    const malformed = await get('/not_a_tenant/v2.0/.well-known/openid-configuration');
    assert.equal(malformed.status, 400);
    assert.deepEqual(malformed.json().error_codes, [900023]);
  });

  test('instance discovery names the emulator host as the preferred network', async () => {
    const host = new URL(emulator.authorityHost).host;
    const auth = encodeURIComponent(`${emulator.authorityHost}/${tenant.tenantId}/oauth2/v2.0/authorize`);
    const res = await get(`/common/discovery/instance?api-version=1.1&authorization_endpoint=${auth}`);
    assert.equal(res.status, 200);
    const doc = res.json();
    assert.equal(doc.tenant_discovery_endpoint, `${emulator.authorityHost}/${tenant.tenantId}/v2.0/.well-known/openid-configuration`);
    assert.equal(doc.metadata[0].preferred_network, host);
    assert.ok(doc.metadata[0].aliases.includes(host));
  });

  test('JWKS lists the RS256 signing key', async () => {
    const res = await get(`/${tenant.tenantId}/discovery/v2.0/keys`);
    const key = res.json().keys[0];
    assert.equal(key.kty, 'RSA');
    assert.ok(key.kid && key.n && key.e);
  });

  const msal = (auth: Record<string, unknown>) => new ConfidentialClientApplication({
    auth: {
      clientId: tenant.clientId,
      authority: `${emulator.authorityHost}/${tenant.tenantId}`,
      knownAuthorities: [new URL(emulator.authorityHost).host],
      ...auth,
    },
    system: { networkClient: msalNetworkClient(emulator.caPem) },
  });

  test('MSAL with a client secret and static authority metadata gets an Exchange token (no discovery request)', async () => {
    emulator.clearLog();
    const app = msal({ clientSecret: tenant.clientSecret, authorityMetadata: emulator.msalAuthorityMetadata(tenant.tenantId) });
    const result = await app.acquireTokenByClientCredential({ scopes: ['https://outlook.office365.com/.default'] });
    assert.ok(result?.accessToken);
    assert.equal(jwtPayload(result.accessToken).aud, 'https://outlook.office365.com');
    assert.equal(emulator.log().filter((e) => e.kind === 'token').length, 1);
  });

  test('MSAL with knownAuthorities only reads the openid-configuration and accepts its issuer', async () => {
    const app = msal({ clientSecret: tenant.clientSecret });
    const result = await app.acquireTokenByClientCredential({ scopes: ['https://outlook.office365.com/.default'] });
    assert.ok(result?.accessToken);
  });

  test('MSAL with a certificate (PS256 + x5t#S256) gets a token with appidacr 2', async () => {
    const app = msal({
      clientCertificate: { thumbprintSha256: cert.thumbprintSha256, privateKey: cert.privateKeyPem },
      authorityMetadata: emulator.msalAuthorityMetadata(tenant.tenantId),
    });
    const result = await app.acquireTokenByClientCredential({ scopes: ['https://outlook.office365.com/.default'] });
    assert.equal(jwtPayload(result!.accessToken).appidacr, '2');
  });

  test('MSAL surfaces a wrong secret as ServerError invalid_client / 7000215 / 401', async () => {
    const app = msal({ clientSecret: 'wrong', authorityMetadata: emulator.msalAuthorityMetadata(tenant.tenantId) });
    await assert.rejects(app.acquireTokenByClientCredential({ scopes: ['https://outlook.office365.com/.default'] }), (err: unknown) => {
      assert.ok(err instanceof ServerError);
      assert.equal(err.errorCode, 'invalid_client');
      assert.equal(String(err.errorNo), '7000215');
      assert.equal(err.status, 401);
      return true;
    });
  });
});
