// The emulator's credential expiry (issue 17): every secret and certificate expires; an app
// holds two secrets; the admin API expires one on demand, with Entra's exact errors from then
// on; Graph's applications(appId='...') lists both kinds (never a secret's value) to an app
// holding Application.Read.All (or OwnedBy, for itself), and refuses one without.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildTenantState, createClientCertificate, startEmulator, type ClientCertificate, type Emulator } from '../../src/emulator/index.js';
import { clientAssertion, fetchToken, httpsRequest, postTokenForm } from '../helpers/emulator-client.js';

const EXO = 'https://outlook.office365.com/.default';
const GRAPH = 'https://graph.microsoft.com/.default';
const SECOND = { id: '0b5a0e10-8c9e-4f7e-9a55-6f1c2b3d4e5f', value: 'Xy7~second.secret.value_0123456789', expires: '2031-01-01T00:00:00Z', displayName: 'Mailgate 2031' };

describe('emulator: credential expiry', () => {
  let emulator: Emulator;
  let cert: ClientCertificate;
  let built: ReturnType<typeof buildTenantState>;

  before(async () => {
    cert = await createClientCertificate({ commonName: 'mailgate-expiry' });
    built = buildTenantState({ consentedRoles: ['SMTP.SendAsApp', 'Mail.Send', 'Application.Read.All'], certificates: [cert], secretExpires: '2030-06-01T00:00:00Z' });
    built.state.tenants[0]!.apps[0]!.secrets.push(SECOND);
    emulator = await startEmulator(built.state);
  });
  after(() => emulator.stop());

  const admin = (path: string, body?: unknown) => httpsRequest(`${emulator.authorityHost}/_emulator/${path}`, {
    method: body === undefined ? 'GET' : 'POST', headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body), ca: emulator.caPem,
  });
  const secretToken = (secret: string) => postTokenForm(emulator, built.tenantId, { grant_type: 'client_credentials', client_id: built.clientId, client_secret: secret, scope: EXO });
  const certToken = () => postTokenForm(emulator, built.tenantId, {
    grant_type: 'client_credentials', client_id: built.clientId, scope: EXO,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: clientAssertion({ certPem: cert.certPem, privateKeyPem: cert.privateKeyPem, clientId: built.clientId, audience: `${emulator.authorityHost}/${built.tenantId}/oauth2/v2.0/token` }),
  });

  test('Graph lists both secrets (hint, keyId, endDateTime; never the value) and the certificate (SHA-1 thumbprint)', async () => {
    const token = await fetchToken(emulator, built.tenantId, built.clientId, built.clientSecret!, GRAPH);
    const res = await httpsRequest(`${emulator.graph}/v1.0/applications(appId='${built.clientId}')?$select=passwordCredentials,keyCredentials`, { headers: { authorization: `Bearer ${token}` }, ca: emulator.caPem });
    assert.equal(res.status, 200, res.body);
    const app = res.json();
    assert.equal(app.appId, built.clientId);
    assert.deepEqual(app.passwordCredentials.map((p: any) => [p.keyId, p.hint, p.endDateTime, p.secretText]), [
      [built.secretId, built.clientSecret!.slice(0, 3), '2030-06-01T00:00:00Z', null],
      [SECOND.id, 'Xy7', '2031-01-01T00:00:00Z', null],
    ]);
    assert.equal(app.passwordCredentials[1].displayName, 'Mailgate 2031');
    assert.equal(app.keyCredentials.length, 1);
    assert.equal(app.keyCredentials[0].customKeyIdentifier, cert.thumbprintSha1);
    assert.equal(app.keyCredentials[0].endDateTime, cert.expires.replace(/\.\d{3}Z$/, 'Z'));
    assert.equal(app.keyCredentials[0].type, 'AsymmetricX509Cert');
    assert.equal(app.keyCredentials[0].key, null);
    assert.ok(!res.body.includes(built.clientSecret!) && !res.body.includes(SECOND.value), 'no secret value in the answer');
  });

  test('without Application.Read.All (or OwnedBy), Graph answers 403 Authorization_RequestDenied', async () => {
    const plain = buildTenantState({ domain: 'plain.onmicrosoft.com', consentedRoles: ['Mail.Send'] });
    const own = buildTenantState({ domain: 'owned.onmicrosoft.com', consentedRoles: ['Mail.Send', 'Application.ReadWrite.OwnedBy'] });
    const saved = emulator.getState();
    emulator.setState({ tenants: [...saved.tenants, ...plain.state.tenants, ...own.state.tenants] });
    try {
      const token = await fetchToken(emulator, plain.tenantId, plain.clientId, plain.clientSecret!, GRAPH);
      const res = await httpsRequest(`${emulator.graph}/v1.0/applications(appId='${plain.clientId}')`, { headers: { authorization: `Bearer ${token}` }, ca: emulator.caPem });
      assert.equal(res.status, 403);
      assert.equal(res.json().error.code, 'Authorization_RequestDenied');
      assert.equal(res.json().error.message, 'Insufficient privileges to complete the operation.');
      const ownToken = await fetchToken(emulator, own.tenantId, own.clientId, own.clientSecret!, GRAPH);
      const mine = await httpsRequest(`${emulator.graph}/v1.0/applications(appId='${own.clientId}')`, { headers: { authorization: `Bearer ${ownToken}` }, ca: emulator.caPem });
      assert.equal(mine.status, 200, 'OwnedBy reads the app itself');
    } finally {
      emulator.setState(saved);
    }
  });

  test('the admin API expires one of two secrets: AADSTS7000222 for it, the other still works', async () => {
    assert.equal((await secretToken(built.clientSecret!)).status, 200);
    const r = await admin('credentials/expire', { appId: built.clientId, secretId: built.secretId });
    assert.equal(r.status, 200, r.body);
    assert.ok(Date.parse(r.json().secrets[0].expires) <= Date.now());
    assert.ok(!r.body.includes(built.clientSecret!), 'the admin view shows hints, never values');
    const refused = await secretToken(built.clientSecret!);
    assert.equal(refused.status, 401);
    assert.equal(refused.json().error, 'invalid_client');
    assert.deepEqual(refused.json().error_codes, [7000222]);
    assert.match(refused.json().error_description, new RegExp(`^AADSTS7000222: The provided client secret keys for app '${built.clientId}' are expired\\.`));
    assert.equal((await secretToken(SECOND.value)).status, 200, 'the second secret is unaffected');
  });

  test('an expired certificate gets AADSTS700027 (the key used is expired)', async () => {
    assert.equal((await certToken()).status, 200);
    const r = await admin('credentials/expire', { appId: built.clientId, thumbprint: cert.thumbprintSha1 });
    assert.equal(r.status, 200, r.body);
    const refused = await certToken();
    assert.equal(refused.status, 401);
    assert.deepEqual(refused.json().error_codes, [700027]);
    assert.match(refused.json().error_description, /The key used is expired/);
  });

  test('the admin API refuses an unknown app or credential and a malformed request', async () => {
    assert.equal((await admin('credentials/expire', { appId: '00000000-0000-0000-0000-000000000000' })).status, 404);
    assert.equal((await admin('credentials/expire', { appId: built.clientId, secretId: '00000000-0000-0000-0000-000000000000' })).status, 404);
    assert.equal((await admin('credentials/expire', { appId: built.clientId, bogus: 1 })).status, 400);
  });
});
