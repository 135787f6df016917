// The Graph scenarios (PUT {admin}/scenario/graph-...) on the demo tenant, over real HTTPS and
// SMTP: each makes Graph's sendMail fail with its documented error and leaves SMTP AUTH working;
// `healthy` (the demo) sends by Graph and by SMTP with the same app.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listScenarios, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { fetchToken, httpsRequest, RawSmtpClient, xoauth2 } from '../helpers/emulator-client.js';
import { assertGraphError } from './graph-helpers.js';

const GRAPH = 'https://graph.microsoft.com/.default';

describe('Graph scenarios', () => {
  let emu: Emulator;

  before(async () => {
    emu = await startEmulator();
  });
  after(() => emu.stop());

  async function graphSend(): Promise<Awaited<ReturnType<typeof httpsRequest>>> {
    const d = emu.demo!;
    const token = await fetchToken(emu, d.tenantId, d.clientId, d.clientSecret, GRAPH);
    return httpsRequest(`${emu.graph}/v1.0/users/${d.authorizedFrom}/sendMail`, {
      method: 'POST', ca: emu.caPem, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' },
      body: Buffer.from(`From: ${d.authorizedFrom}\r\nTo: a@example.com\r\nSubject: s\r\n\r\nb\r\n`).toString('base64'),
    });
  }

  async function smtpAuthReply(): Promise<string> {
    const d = emu.demo!;
    const token = await fetchToken(emu, d.tenantId, d.clientId, d.clientSecret);
    const client = await RawSmtpClient.connectSecure(emu.smtp.port, emu.caPem);
    try {
      return await client.send(`AUTH XOAUTH2 ${xoauth2(d.authorizedFrom, token)}`);
    } finally {
      client.close();
    }
  }

  test('the Graph scenarios are listed with transport graph and their doctor check', () => {
    const graph = listScenarios().filter((s) => s.transport === 'graph');
    assert.deepEqual(graph.map((s) => [s.name, s.check]), [
      ['graph-no-mail-send', 'graph-token'],
      ['graph-mailbox-not-licensed', 'graph-send'],
      ['graph-rbac-scope-excludes-mailbox', 'graph-send'],
      ['graph-access-policy-excludes-mailbox', 'graph-send'],
    ]);
    assert.ok(listScenarios().filter((s) => s.transport === 'smtp').length >= 16);
  });

  test('healthy: the demo app sends by Graph (Mail.Send consented) and by SMTP', async () => {
    emu.setScenario('healthy');
    assert.equal((await graphSend()).status, 202);
    assert.match(await smtpAuthReply(), /^235 /);
  });

  const EXPECTED: Record<string, [number, string, string]> = {
    'graph-no-mail-send': [403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.'],
    'graph-mailbox-not-licensed': [404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.'],
    'graph-rbac-scope-excludes-mailbox': [403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.'],
    'graph-access-policy-excludes-mailbox': [403, 'ErrorAccessDenied', 'Access to OData is disabled: Blocked by tenant configured AppOnly AccessPolicy settings.'],
  };

  for (const [name, [status, code, message]] of Object.entries(EXPECTED)) {
    test(`${name}: sendMail gets ${status} ${code}; SMTP AUTH still succeeds`, async () => {
      const applied = emu.setScenario(name);
      assert.equal(applied.info.transport, 'graph');
      assertGraphError(await graphSend(), status, code, message);
      assert.match(await smtpAuthReply(), /^235 /);
      emu.setScenario('healthy');
    });
  }

  test('SMTP AUTH turned off (tenant or mailbox) leaves Graph working: what Automatic routing moves on', async () => {
    for (const name of ['smtp-auth-disabled-mailbox', 'smtp-auth-disabled-tenant']) {
      emu.setScenario(name);
      assert.match(await smtpAuthReply(), /^535 5\.7\.139 /);
      assert.equal((await graphSend()).status, 202, name);
    }
    emu.setScenario('healthy');
  });

  test('graph-no-mail-send: the Graph token carries no Mail.Send role', async () => {
    emu.setScenario('graph-no-mail-send');
    const d = emu.demo!;
    const token = await fetchToken(emu, d.tenantId, d.clientId, d.clientSecret, GRAPH);
    assert.equal('roles' in JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()), false);
    emu.setScenario('healthy');
  });
});
