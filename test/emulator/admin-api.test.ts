// The admin API under /_emulator: state (validated), log (redacted), stats, and the in-process helpers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildTenantState, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { fetchToken, httpsRequest, postTokenForm, RawSmtpClient, waitFor, xoauth2 } from '../helpers/emulator-client.js';

describe('admin API', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator();
  });
  after(() => emulator.stop());

  const admin = (path: string, init: { method?: string; body?: string } = {}) =>
    httpsRequest(`${emulator.admin}${path}`, { ...init, headers: init.body ? { 'Content-Type': 'application/json' } : undefined, ca: emulator.caPem });

  test('GET state returns the demo tenant', async () => {
    const res = await admin('/state');
    assert.equal(res.status, 200);
    assert.equal(res.json().tenants[0].id, emulator.demo!.tenantId);
  });

  test('PUT state replaces the tenant at run time (the old tenant is gone, the new one works)', async () => {
    const original = emulator.getState();
    const other = buildTenantState({ domain: 'fabrikam.onmicrosoft.com' });
    const res = await admin('/state', { method: 'PUT', body: JSON.stringify(other.state) });
    assert.equal(res.status, 200);
    assert.equal((await postTokenForm(emulator, emulator.demo!.tenantId, { grant_type: 'client_credentials', client_id: emulator.demo!.clientId, client_secret: emulator.demo!.clientSecret, scope: 'https://outlook.office365.com/.default' })).status, 400);
    assert.ok(await fetchToken(emulator, 'fabrikam.onmicrosoft.com', other.clientId, other.clientSecret!));
    emulator.setState(original);
  });

  test('a bad state is a 400 listing every problem, and the state is left unchanged', async () => {
    const bad = { tenants: [{ id: 'not-a-guid', domains: ['contoso'], apps: [{ appId: 'x' }], mailboxes: [{ address: 'noreply@elsewhere.com', typo: true }] }] };
    const res = await admin('/state', { method: 'PUT', body: JSON.stringify(bad) });
    assert.equal(res.status, 400);
    const body = res.json();
    assert.equal(body.error, 'invalid_state');
    const problems: string[] = body.problems;
    assert.ok(problems.some((p) => p.startsWith('tenants.0.id: ')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('tenants.0.domains.0: ')));
    assert.ok(problems.some((p) => p.startsWith('tenants.0.apps.0.appId: ')));
    assert.ok(problems.some((p) => p.startsWith('tenants.0.apps.0.applicationObjectId: ')));
    assert.ok(problems.some((p) => p.includes('typo')));
    assert.equal(emulator.getState().tenants[0]!.id, emulator.demo!.tenantId);
  });

  test('a body that is not JSON is a 400, not a crash', async () => {
    for (const body of ['{', 'null', '[]', '"x"']) {
      const res = await admin('/state', { method: 'PUT', body });
      assert.equal(res.status, 400, body);
    }
    assert.throws(() => emulator.setState({ tenants: [{ id: 'x' }] } as never), /Invalid emulator state/);
  });

  test('GET log: token requests and SMTP sessions, redacted', async () => {
    emulator.clearLog();
    const token = await fetchToken(emulator, emulator.demo!.tenantId, emulator.demo!.clientId, emulator.demo!.clientSecret);
    const c = await RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem);
    await c.send(`AUTH XOAUTH2 ${xoauth2(emulator.demo!.authorizedFrom, token)}`);
    await c.send('QUIT');
    await c.closedPromise;
    await waitFor(() => emulator.log().some((e) => e.kind === 'smtp' && e.endedAt !== undefined), 3000, 'the session to end');
    const res = await admin('/log');
    const entries = res.json();
    const tokenEntry = entries.find((e: any) => e.kind === 'token');
    assert.equal(tokenEntry.status, 200);
    assert.equal(tokenEntry.credential, 'secret');
    assert.equal(tokenEntry.clientId, emulator.demo!.clientId);
    const smtp = entries.find((e: any) => e.kind === 'smtp');
    assert.equal(smtp.tls, true);
    assert.equal(smtp.authenticatedAs, emulator.demo!.authorizedFrom);
    assert.ok(smtp.endedAt);
    assert.deepEqual(smtp.commands.map((x: any) => x.command), ['(connect)', 'EHLO client.example', 'STARTTLS', 'EHLO client.example', 'AUTH XOAUTH2 <redacted>', 'QUIT']);
    assert.equal(smtp.commands[4].reply, '235 2.7.0 Authentication successful');
    assert.equal(res.body.includes(token), false);
    assert.equal(res.body.includes(emulator.demo!.clientSecret), false);
    assert.equal(res.body.includes(xoauth2(emulator.demo!.authorizedFrom, token).slice(0, 40)), false);
  });

  test('GET stats and DELETE stats', async () => {
    const res = await admin('/stats');
    const stats = res.json();
    for (const key of ['tokenRequests', 'tokenRequestsByApp', 'smtpConnections', 'peakAuthenticatedConnections', 'authSuccesses', 'authFailures']) {
      assert.ok(key in stats, key);
    }
    assert.ok(stats.tokenRequests > 0);
    assert.equal((await admin('/stats', { method: 'DELETE' })).status, 204);
    assert.equal(emulator.stats().tokenRequests, 0);
    assert.equal(emulator.stats().smtpConnections, 0);
  });

  test('unknown paths are JSON 404s', async () => {
    const res = await admin('/nope');
    assert.equal(res.status, 404);
    assert.equal(res.json().error, 'not_found');
    // Graph lives on this listener now: an unauthenticated sendMail gets Graph's 401, an unknown Graph path Graph's 400.
    assert.equal((await httpsRequest(`${emulator.authorityHost}/v1.0/users/x/sendMail`, { method: 'POST', ca: emulator.caPem })).status, 401);
    assert.equal((await httpsRequest(`${emulator.authorityHost}/v1.0/nope`, { ca: emulator.caPem })).json().error.code, 'BadRequest');
  });

  test('the ready line has the documented shape', () => {
    const ready = JSON.parse(emulator.readyLine());
    assert.deepEqual(Object.keys(ready), ['smtp', 'authorityHost', 'graph', 'caFile', 'admin', 'demo']);
    assert.deepEqual(ready.smtp, { host: '127.0.0.1', port: emulator.smtp.port });
    assert.match(ready.authorityHost, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(ready.admin, `${ready.authorityHost}/_emulator`);
    assert.deepEqual(Object.keys(ready.demo).sort(), ['applicationObjectId', 'authorizedFrom', 'clientId', 'clientSecret', 'servicePrincipalObjectId', 'sharedMailbox', 'tenantId']);
  });
});
