// Security replays for Send As senders (issue 16, items 5-6): a From address is untrusted text that
// ends up in a PowerShell script and in the emulator's state. A quote cannot end the string literal
// it is written into, a line break is refused before anything is printed, and the emulator's
// directory API bounds its bodies and refuses control characters in a trustee.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { buildSetupScript } from '../../src/doctor/index.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { httpsRequest } from '../helpers/emulator-client.js';
import { runCli } from '../helpers/cli.js';

const settings = { authorizedFrom: 'noreply@contoso.com', cloud: 'global' as const, clientId: '6731de76-14a6-49ae-97bc-6eba6914391e', tenantId: '8f3c2a1b-4d5e-4f60-9a7b-1c2d3e4f5a6b' };

test('a From with a quote stays inside its single-quoted literal in the setup script', () => {
  const evil = "x';Remove-Mailbox -Identity ceo@contoso.com;'@contoso.com";
  const script = buildSetupScript(settings, { sendAs: [evil] });
  const code = script.split('\n').filter((l) => !l.trimStart().startsWith('#'));
  assert.ok(code.includes(`$SendAsFrom = @('x'';Remove-Mailbox -Identity ceo@contoso.com;''@contoso.com')`), 'quoted, quotes doubled');
  assert.ok(!code.some((l) => /^\s*Remove-Mailbox/.test(l)));
});

test('a From with a line break is refused (library: throws; CLI: exit 2, no script printed)', async () => {
  assert.throws(() => buildSetupScript(settings, { sendAs: ['a@contoso.com\nRemove-Mailbox x'] }), /control character or line break/);
  assert.throws(() => buildSetupScript(settings, { sendAs: ['a@contoso.com\u2028Remove-Mailbox x'] }), /control character or line break/);
  const r = await runCli(['setup-script', '--no-token', '--from', 'a@contoso.com\nRemove-Mailbox x'], {
    MAILGATE_CLIENT_ID: settings.clientId, MAILGATE_TENANT_ID: settings.tenantId, MAILGATE_CLIENT_SECRET: 'x'.repeat(40), MAILGATE_AUTHORIZED_FROM: settings.authorizedFrom,
  });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
});

let emu: Emulator;
before(async () => {
  emu = await startEmulator(undefined, { limits: false });
});
after(() => emu.stop());

test("the emulator's directory API: a body over 64 KiB is refused, a trustee with a line break too, and the state is unchanged", async () => {
  const before = JSON.stringify(emu.getState());
  const big = await httpsRequest(`${emu.admin}/directory/mailboxes`, { method: 'POST', ca: emu.caPem, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ address: 'a@contoso.onmicrosoft.com', sendAs: ['x'.repeat(70_000)] }) });
  assert.equal(big.status, 413);
  const crlf = await httpsRequest(`${emu.admin}/directory/mailboxes/${emu.demo!.sharedMailbox}/send-as`, { method: 'POST', ca: emu.caPem, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ trustee: 'a@contoso.onmicrosoft.com\r\nRCPT TO:<x@y>' }) });
  assert.equal(crlf.status, 400);
  assert.equal(JSON.stringify(emu.getState()), before);
});
