// The admin API's scenarios (GET scenarios, GET/PUT/DELETE scenario), its Exchange view
// (GET exchange), and a trailing slash accepted on every admin path (state, faults, ...).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildTenantState, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { fetchToken, httpsRequest, postTokenForm } from '../helpers/emulator-client.js';

describe('admin API: scenarios, Exchange view, trailing slashes', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator();
  });
  after(() => emulator.stop());

  const admin = (path: string, init: { method?: string; body?: string } = {}) =>
    httpsRequest(`${emulator.admin}${path}`, { ...init, headers: init.body ? { 'Content-Type': 'application/json' } : undefined, ca: emulator.caPem });

  test('a trailing slash works on state, faults, scenarios and the root listing', async () => {
    assert.equal((await admin('/state/')).json().tenants[0].id, emulator.demo!.tenantId);
    const faults = await admin('/faults/', { method: 'POST', body: JSON.stringify({ smtpNoGreeting: { count: 1 } }) });
    assert.equal(faults.status, 200, faults.body);
    assert.deepEqual((await admin('/faults/')).json(), { smtpNoGreeting: { count: 1 } });
    assert.equal((await admin('/faults/', { method: 'DELETE' })).status, 204);
    assert.deepEqual(emulator.faults(), {});
    assert.equal((await admin('/scenarios/')).status, 200);
    assert.ok((await admin('/')).json().endpoints.includes('PUT scenario/{name}'));
    const same = await admin('/state/', { method: 'PUT', body: JSON.stringify(emulator.getState()) });
    assert.equal(same.status, 200);
  });

  test('PUT scenario/NAME breaks the tenant; the token endpoint then refuses the demo secret; DELETE scenario restores it', async () => {
    const d = emulator.demo!;
    const form = { grant_type: 'client_credentials', client_id: d.clientId, client_secret: d.clientSecret, scope: 'https://outlook.office365.com/.default' };
    const res = await admin('/scenario/expired-secret/', { method: 'PUT' });
    assert.equal(res.status, 200, res.body);
    const body = res.json();
    assert.equal(body.name, 'expired-secret');
    assert.equal(body.check, 'token');
    assert.equal(body.clientSettings.clientSecret, d.clientSecret, 'the client keeps its (now expired) secret');
    assert.equal((await admin('/scenario')).json().name, 'expired-secret');
    const refused = await postTokenForm(emulator, d.tenantId, form);
    assert.equal(refused.status, 401);
    assert.match(refused.body, /AADSTS7000222/);
    const restored = await admin('/scenario', { method: 'DELETE' });
    assert.equal(restored.json().name, 'healthy');
    assert.ok(await fetchToken(emulator, d.tenantId, d.clientId, d.clientSecret));
  });

  test('a client-side scenario leaves the tenant alone and gives the settings to use', async () => {
    const before = emulator.getState();
    const res = await admin('/scenario/secret-id-pasted', { method: 'PUT' });
    assert.equal(res.json().client, true);
    assert.equal(res.json().clientSettings.clientSecret, before.tenants[0]!.apps[0]!.secrets[0]!.id);
    assert.deepEqual(emulator.getState(), before);
    await admin('/scenario/healthy', { method: 'PUT' });
  });

  test('an unknown scenario is a 404 listing the known ones; the state is unchanged', async () => {
    const before = emulator.getState();
    const res = await admin('/scenario/nope', { method: 'PUT' });
    assert.equal(res.status, 404);
    assert.equal(res.json().error, 'unknown_scenario');
    assert.ok(res.json().scenarios.includes('no-full-access'));
    assert.deepEqual(emulator.getState(), before);
  });

  test('PUT state becomes the new baseline and ends the scenario', async () => {
    const original = emulator.getState();
    emulator.setScenario('disabled-app');
    const other = buildTenantState({ domain: 'fabrikam.onmicrosoft.com' });
    assert.equal((await admin('/state', { method: 'PUT', body: JSON.stringify(other.state) })).status, 200);
    assert.equal(emulator.scenario().info.name, 'healthy');
    emulator.setScenario('no-full-access');
    assert.deepEqual(emulator.getState().tenants[0]!.mailboxes[0]!.fullAccess, []);
    assert.equal(emulator.getState().tenants[0]!.id, other.tenantId, 'the scenario applied to the new baseline');
    emulator.setState(original);
  });

  test('a scenario on a state without an app or mailbox is a 409 naming why; healthy still works', async () => {
    const original = emulator.getState();
    emulator.setState({ tenants: [{ id: '0d9c1c55-7a55-4e63-9c6b-8f7b7c1b2a10', domains: ['empty.onmicrosoft.com'] }] });
    const res = await admin('/scenario/no-consent', { method: 'PUT' });
    assert.equal(res.status, 409);
    assert.match(res.json().problems[0], /no tenant with an app and a mailbox/);
    assert.equal((await admin('/scenario/healthy', { method: 'PUT' })).status, 200);
    emulator.setState(original);
  });

  test('GET exchange shows what Exchange Online PowerShell would: service principals, the mailbox and its FullAccess', async () => {
    const d = emulator.demo!;
    emulator.setScenario('healthy');
    const ok = (await admin(`/exchange?appId=${d.clientId}&mailbox=${encodeURIComponent(d.authorizedFrom)}`)).json();
    assert.deepEqual(ok.servicePrincipals, [{ appId: d.clientId, objectId: d.servicePrincipalObjectId }]);
    assert.deepEqual(ok.mailbox.fullAccess, [d.servicePrincipalObjectId]);
    emulator.setScenario('app-registration-object-id');
    const wrong = (await admin(`/exchange/?appId=${d.clientId}&mailbox=${encodeURIComponent(d.authorizedFrom)}`)).json();
    assert.deepEqual(wrong.servicePrincipals, [{ appId: d.clientId, objectId: d.applicationObjectId }]);
    emulator.setScenario('mailbox-not-in-tenant');
    assert.equal((await admin(`/exchange?appId=${d.clientId}&mailbox=${encodeURIComponent(d.authorizedFrom)}`)).json().mailbox, null);
    emulator.setScenario('healthy');
  });

  test('startEmulator({ scenario }) starts broken; an unknown name fails the start', async () => {
    const broken = await startEmulator(undefined, { scenario: 'no-consent' });
    try {
      assert.deepEqual(broken.getState().tenants[0]!.apps[0]!.consentedRoles, []);
      assert.equal(broken.scenario().info.name, 'no-consent');
    } finally {
      await broken.stop();
    }
    await assert.rejects(startEmulator(undefined, { scenario: 'nope' }), /unknown scenario/);
  });
});
