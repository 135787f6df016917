// The emulated Entra ID token endpoint, driven with a plain HTTPS client: success shapes,
// token claims, and every AADSTS error with its JSON shape and HTTP status.
import assert from 'node:assert/strict';
import { createPublicKey, verify, constants } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { buildTenantState, createClientCertificate, mergeStates, startEmulator, type ClientCertificate, type Emulator } from '../../src/emulator/index.js';
import { clientAssertion, httpsRequest, jwtHeader, jwtPayload, postTokenForm } from '../helpers/emulator-client.js';

const EXO = 'https://outlook.office365.com/.default';

describe('token endpoint', () => {
  let emulator: Emulator;
  let cert: ClientCertificate;
  let otherCert: ClientCertificate;
  let oldCert: ClientCertificate;
  const good = buildTenantState({ domain: 'contoso.onmicrosoft.com', consentedRoles: ['SMTP.SendAsApp', 'Mail.Send'] });
  const noConsent = buildTenantState({ domain: 'noconsent.onmicrosoft.com', consentedRoles: [] });
  const disabled = buildTenantState({ domain: 'disabled.onmicrosoft.com', appEnabled: false, displayName: 'Old app' });
  const expired = buildTenantState({ domain: 'expired.onmicrosoft.com', secretExpires: '2020-01-01T00:00:00Z' });
  let withCert: ReturnType<typeof buildTenantState>;
  let expiredCert: ReturnType<typeof buildTenantState>;

  before(async () => {
    cert = await createClientCertificate();
    otherCert = await createClientCertificate({ commonName: 'not uploaded' });
    oldCert = await createClientCertificate({ commonName: 'old' });
    withCert = buildTenantState({ domain: 'cert.onmicrosoft.com', clientSecret: null, certificates: [cert] });
    expiredCert = buildTenantState({ domain: 'oldcert.onmicrosoft.com', clientSecret: null, certificates: [{ ...oldCert, expires: '2021-01-01T00:00:00Z' }] });
    emulator = await startEmulator(mergeStates(good, noConsent, disabled, expired, withCert, expiredCert));
  });
  after(() => emulator.stop());

  const secretForm = (t = good, extra: Record<string, string> = {}) => ({
    grant_type: 'client_credentials', client_id: t.clientId, client_secret: t.clientSecret!, scope: EXO, ...extra,
  });

  /** Asserts Entra's error shape and returns the body. */
  function assertEntraError(res: { status: number; json(): any }, status: number, error: string, code: number) {
    assert.equal(res.status, status);
    const body = res.json();
    assert.equal(body.error, error);
    assert.deepEqual(body.error_codes, [code]);
    assert.match(body.error_description, new RegExp(`^AADSTS${code}: .+\\r\\nTrace ID: [0-9a-f-]{36}\\r\\nCorrelation ID: [0-9a-f-]{36}\\r\\nTimestamp: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`));
    assert.match(body.timestamp, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    assert.match(body.trace_id, /^[0-9a-f-]{36}$/);
    assert.match(body.correlation_id, /^[0-9a-f-]{36}$/);
    assert.equal(body.error_uri, `https://login.microsoftonline.com/error?code=${code}`);
    return body;
  }

  test('a secret in the form gets a Bearer token with expires_in and ext_expires_in', async () => {
    const res = await postTokenForm(emulator, good.tenantId, secretForm());
    assert.equal(res.status, 200);
    const body = res.json();
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 3599);
    assert.equal(body.ext_expires_in, 3599);
    assert.equal(typeof body.access_token, 'string');
    assert.match(String(res.headers['cache-control']), /no-store/);
  });

  test('the access token is an RS256 JWT shaped like an Exchange app-only token, at least 1.5 KB', async () => {
    const res = await postTokenForm(emulator, good.tenantId, secretForm());
    const token: string = res.json().access_token;
    assert.ok(token.length >= 1536, `token is ${token.length} bytes`);
    const header = jwtHeader(token);
    assert.equal(header.alg, 'RS256');
    assert.equal(header.typ, 'JWT');
    assert.ok(header.kid);
    const claims = jwtPayload(token);
    assert.equal(claims.aud, 'https://outlook.office365.com');
    assert.equal(claims.iss, `https://sts.windows.net/${good.tenantId}/`);
    assert.equal(claims.tid, good.tenantId);
    assert.equal(claims.oid, good.servicePrincipalObjectId);
    assert.equal(claims.sub, good.servicePrincipalObjectId);
    assert.equal(claims.appid, good.clientId);
    assert.equal(claims.appidacr, '1');
    assert.equal(claims.idtyp, 'app');
    assert.deepEqual(claims.roles, ['SMTP.SendAsApp']); // Graph's Mail.Send is not an Exchange role
    assert.equal(claims.ver, '1.0');
    assert.ok(claims.app_displayname);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(claims.iat <= now && claims.nbf <= now && claims.exp > now + 3500);
  });

  test('the JWKS at /{tenant}/discovery/v2.0/keys verifies the token signature', async () => {
    const token: string = (await postTokenForm(emulator, good.tenantId, secretForm())).json().access_token;
    const jwks = (await httpsRequest(`${emulator.authorityHost}/${good.tenantId}/discovery/v2.0/keys`, { ca: emulator.caPem })).json();
    const jwk = jwks.keys.find((k: any) => k.kid === jwtHeader(token).kid);
    assert.ok(jwk, 'kid is published');
    const [h, p, s] = token.split('.');
    const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: jwk, format: 'jwk' }), padding: constants.RSA_PKCS1_PADDING }, Buffer.from(s!, 'base64url'));
    assert.equal(ok, true);
  });

  test('HTTP Basic client authentication works (RFC 6749 §2.3.1)', async () => {
    const basic = Buffer.from(`${encodeURIComponent(good.clientId)}:${encodeURIComponent(good.clientSecret!)}`).toString('base64');
    const res = await postTokenForm(emulator, good.tenantId, { grant_type: 'client_credentials', scope: EXO }, { Authorization: `Basic ${basic}` });
    assert.equal(res.status, 200);
  });

  test('the tenant can be named by one of its domains', async () => {
    const res = await postTokenForm(emulator, 'contoso.onmicrosoft.com', secretForm());
    assert.equal(res.status, 200);
    assert.equal(jwtPayload(res.json().access_token).tid, good.tenantId);
  });

  test('scope https://ps.outlook.com/.default gives aud https://ps.outlook.com', async () => {
    const res = await postTokenForm(emulator, good.tenantId, secretForm(good, { scope: 'https://ps.outlook.com/.default' }));
    assert.equal(jwtPayload(res.json().access_token).aud, 'https://ps.outlook.com');
  });

  test('scope https://graph.microsoft.com/.default gives a Graph token with Graph roles only', async () => {
    const res = await postTokenForm(emulator, good.tenantId, secretForm(good, { scope: 'https://graph.microsoft.com/.default' }));
    const claims = jwtPayload(res.json().access_token);
    assert.equal(claims.aud, 'https://graph.microsoft.com');
    assert.deepEqual(claims.roles, ['Mail.Send']);
  });

  test('without admin consent the token is issued with no roles claim at all', async () => {
    const res = await postTokenForm(emulator, noConsent.tenantId, secretForm(noConsent));
    assert.equal(res.status, 200);
    assert.equal('roles' in jwtPayload(res.json().access_token), false);
  });

  test('client-request-id is echoed as the correlation id', async () => {
    const id = '11111111-2222-3333-4444-555555555555';
    const res = await postTokenForm(emulator, good.tenantId, secretForm(good, { client_secret: 'wrong' }), { 'client-request-id': id });
    assert.equal(res.json().correlation_id, id);
    assert.match(res.json().error_description, new RegExp(`Correlation ID: ${id}`));
  });

  test('unknown tenant: 400 AADSTS90002', async () => {
    const res = await postTokenForm(emulator, '00000000-0000-0000-0000-000000000001', secretForm());
    const body = assertEntraError(res, 400, 'invalid_request', 90002);
    assert.match(body.error_description, /^AADSTS90002: Tenant '00000000-0000-0000-0000-000000000001' not found\./);
  });

  test('malformed tenant: 400 AADSTS900023', async () => {
    const res = await postTokenForm(emulator, 'undefined', secretForm());
    const body = assertEntraError(res, 400, 'invalid_request', 900023);
    assert.match(body.error_description, /^AADSTS900023: Specified tenant identifier 'undefined' is neither a valid DNS name, nor a valid external domain\./);
  });

  test('/common and /consumers: AADSTS9001023', async () => {
    for (const tenant of ['common', 'consumers']) {
      assertEntraError(await postTokenForm(emulator, tenant, secretForm()), 400, 'invalid_request', 9001023);
    }
  });

  test('unknown client id: 400 unauthorized_client AADSTS700016', async () => {
    const res = await postTokenForm(emulator, good.tenantId, secretForm(good, { client_id: '99999999-9999-9999-9999-999999999999' }));
    const body = assertEntraError(res, 400, 'unauthorized_client', 700016);
    assert.match(body.error_description, /Application with identifier '99999999-9999-9999-9999-999999999999' was not found in the directory/);
  });

  test('wrong secret: 401 invalid_client AADSTS7000215 with Microsoft\'s text', async () => {
    const res = await postTokenForm(emulator, good.tenantId, secretForm(good, { client_secret: 'not-the-secret' }));
    const body = assertEntraError(res, 401, 'invalid_client', 7000215);
    assert.ok(body.error_description.startsWith(`AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${good.clientId}'.\r\n`));
  });

  test("the secret's ID sent as its value: AADSTS7000215, and the log says so", async () => {
    const res = await postTokenForm(emulator, good.tenantId, secretForm(good, { client_secret: good.secretId }));
    assertEntraError(res, 401, 'invalid_client', 7000215);
    const entry = emulator.log().filter((e) => e.kind === 'token').at(-1)!;
    assert.equal(entry.kind === 'token' && entry.reason, "the secret's ID was sent instead of its value");
  });

  test('expired secret: 401 AADSTS7000222', async () => {
    const res = await postTokenForm(emulator, expired.tenantId, secretForm(expired));
    const body = assertEntraError(res, 401, 'invalid_client', 7000222);
    assert.match(body.error_description, /client secret keys for app '.+' are expired/);
  });

  test('no credential at all: 401 AADSTS7000218', async () => {
    const { client_secret: _omit, ...form } = secretForm();
    assertEntraError(await postTokenForm(emulator, good.tenantId, form), 401, 'invalid_client', 7000218);
  });

  test('disabled app: 400 AADSTS7000112', async () => {
    const res = await postTokenForm(emulator, disabled.tenantId, secretForm(disabled));
    const body = assertEntraError(res, 400, 'unauthorized_client', 7000112);
    assert.match(body.error_description, /^AADSTS7000112: Application '.+'\(Old app\) is disabled\./);
  });

  test('scope without /.default: 400 invalid_scope AADSTS1002012', async () => {
    const res = await postTokenForm(emulator, good.tenantId, secretForm(good, { scope: 'https://outlook.office.com/SMTP.Send' }));
    const body = assertEntraError(res, 400, 'invalid_scope', 1002012);
    assert.match(body.error_description, /Client credential flows must have a scope value with \/.default suffixed to the resource identifier/);
  });

  test('unknown resource: 400 invalid_resource AADSTS500011', async () => {
    const res = await postTokenForm(emulator, good.tenantId, secretForm(good, { scope: 'https://outlook.office356.com/.default' }));
    const body = assertEntraError(res, 400, 'invalid_resource', 500011);
    assert.match(body.error_description, /The resource principal named https:\/\/outlook.office356.com was not found/);
  });

  test('scopes of two resources: 400 AADSTS700022', async () => {
    const res = await postTokenForm(emulator, good.tenantId, secretForm(good, { scope: `${EXO} https://graph.microsoft.com/.default` }));
    assertEntraError(res, 400, 'invalid_scope', 700022);
  });

  test('missing parameters: 400 AADSTS900144 naming the parameter', async () => {
    const { scope: _s, ...noScope } = secretForm();
    const body = assertEntraError(await postTokenForm(emulator, good.tenantId, noScope), 400, 'invalid_request', 900144);
    assert.match(body.error_description, /^AADSTS900144: The request body must contain the following parameter: 'scope'\./);
    const { grant_type: _g, ...noGrant } = secretForm();
    assert.match(assertEntraError(await postTokenForm(emulator, good.tenantId, noGrant), 400, 'invalid_request', 900144).error_description, /'grant_type'/);
  });

  test('a JSON body (wrong content type) is read as an empty form: AADSTS900144 grant_type', async () => {
    const res = await httpsRequest(emulator.tokenEndpoint(good.tenantId), {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(secretForm()), ca: emulator.caPem,
    });
    assert.match(assertEntraError(res, 400, 'invalid_request', 900144).error_description, /'grant_type'/);
  });

  test('garbage bodies and odd requests never break the endpoint', async () => {
    const bodies = ['%%%', '&&&=', 'a'.repeat(100_000), '\u0000\u0001', 'grant_type=client_credentials&client_id=%E0%A4%A'];
    for (const body of bodies) {
      const res = await httpsRequest(emulator.tokenEndpoint(good.tenantId), { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body, ca: emulator.caPem });
      assert.equal(res.status, 400);
      assert.ok(res.json().error);
    }
    const get = await httpsRequest(emulator.tokenEndpoint(good.tenantId), { ca: emulator.caPem });
    assert.equal(get.status, 404);
    assert.equal((await postTokenForm(emulator, good.tenantId, secretForm())).status, 200);
  });

  test('unsupported grant type: AADSTS70003', async () => {
    const res = await postTokenForm(emulator, good.tenantId, secretForm(good, { grant_type: 'password' }));
    assertEntraError(res, 400, 'unsupported_grant_type', 70003);
  });

  describe('certificate credentials (client_assertion)', () => {
    const aud = () => emulator.tokenEndpoint(withCert.tenantId);
    const assertionForm = (assertion: string, t = withCert) => ({
      grant_type: 'client_credentials', client_id: t.clientId, scope: EXO,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion,
    });

    test('PS256 with x5t#S256 gets a token with appidacr "2"', async () => {
      const assertion = clientAssertion({ ...cert, clientId: withCert.clientId, audience: aud() });
      const res = await postTokenForm(emulator, withCert.tenantId, assertionForm(assertion));
      assert.equal(res.status, 200, res.body);
      assert.equal(jwtPayload(res.json().access_token).appidacr, '2');
    });

    test('RS256 with the SHA-1 x5t (older libraries) is accepted too', async () => {
      const assertion = clientAssertion({ ...cert, clientId: withCert.clientId, audience: aud(), alg: 'RS256' });
      assert.equal((await postTokenForm(emulator, withCert.tenantId, assertionForm(assertion))).status, 200);
    });

    test('the token endpoint URL by domain is also a valid audience', async () => {
      const assertion = clientAssertion({ ...cert, clientId: withCert.clientId, audience: emulator.tokenEndpoint('cert.onmicrosoft.com') });
      assert.equal((await postTokenForm(emulator, withCert.tenantId, assertionForm(assertion))).status, 200);
    });

    test('a certificate that was never uploaded: 401 AADSTS700027', async () => {
      const assertion = clientAssertion({ ...otherCert, clientId: withCert.clientId, audience: aud() });
      const body = assertEntraError(await postTokenForm(emulator, withCert.tenantId, assertionForm(assertion)), 401, 'invalid_client', 700027);
      assert.match(body.error_description, /is not registered on application/);
    });

    test('signed by another key than the uploaded certificate\'s: AADSTS700027 "failed signature validation"', async () => {
      const assertion = clientAssertion({ certPem: cert.certPem, privateKeyPem: otherCert.privateKeyPem, clientId: withCert.clientId, audience: aud() });
      const body = assertEntraError(await postTokenForm(emulator, withCert.tenantId, assertionForm(assertion)), 401, 'invalid_client', 700027);
      assert.match(body.error_description, /^AADSTS700027: Client assertion failed signature validation\./);
    });

    test('wrong audience or iss/sub: AADSTS700027', async () => {
      for (const a of [
        clientAssertion({ ...cert, clientId: withCert.clientId, audience: 'https://login.microsoftonline.com/x/oauth2/v2.0/token' }),
        clientAssertion({ ...cert, clientId: withCert.clientId, audience: aud(), iss: good.clientId }),
      ]) {
        assertEntraError(await postTokenForm(emulator, withCert.tenantId, assertionForm(a)), 401, 'invalid_client', 700027);
      }
    });

    test('an expired assertion: 401 AADSTS700024', async () => {
      const past = Math.floor(Date.now() / 1000) - 3600;
      const assertion = clientAssertion({ ...cert, clientId: withCert.clientId, audience: aud(), nbf: past - 600, exp: past });
      const body = assertEntraError(await postTokenForm(emulator, withCert.tenantId, assertionForm(assertion)), 401, 'invalid_client', 700024);
      assert.match(body.error_description, /^AADSTS700024: Client assertion is not within its valid time range\. Current time: /);
    });

    test('an expired uploaded certificate: AADSTS700027', async () => {
      const assertion = clientAssertion({ ...oldCert, clientId: expiredCert.clientId, audience: emulator.tokenEndpoint(expiredCert.tenantId) });
      const body = assertEntraError(await postTokenForm(emulator, expiredCert.tenantId, assertionForm(assertion, expiredCert)), 401, 'invalid_client', 700027);
      assert.match(body.error_description, /expired/);
    });

    test('a garbage assertion: AADSTS700027, never a crash', async () => {
      for (const a of ['x', 'a.b.c', '...', 'eyJhbGciOiJQUzI1NiJ9.e30.AAAA']) {
        assertEntraError(await postTokenForm(emulator, withCert.tenantId, assertionForm(a)), 401, 'invalid_client', 700027);
      }
    });
  });

  test('neither the secret nor the assertion is ever stored in the log', async () => {
    const text = JSON.stringify(emulator.log());
    assert.equal(text.includes(good.clientSecret!), false);
    assert.equal(text.includes('client_assertion='), false);
  });

  test('stats count token requests per app', () => {
    const stats = emulator.stats();
    assert.ok(stats.tokenRequests > 10);
    assert.ok(stats.tokenRequestsByApp[good.clientId]! > 5);
  });
});
