/**
 * `mailgate doctor` over the configured senders (issue 16, item 5) against the emulator: with
 * MAILGATE_CONFIG of three senders on two credentials in two tenants (endpoints from the
 * environment's overrides, which apply to every credential), every sender gets its report and the
 * exit code is the worst; `--sender ADDR` checks one; an unknown `--sender` is an argument error
 * naming the configured senders; `--sender` with `--from` is refused.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildTenantState, mergeStates } from '../../src/emulator/index.js';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { runCli, singleJson } from '../helpers/cli.js';
import { tempDir } from '../service/helpers.js';
import { loadMasterKey } from '../../src/service/settings/secret-box.js';
import { SettingsService } from '../../src/service/settings/settings-store.js';
import { SendersService } from '../../src/service/settings/senders-service.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';

const fixture = useEmulatedTenants();
const SHARED = 'support@contoso.onmicrosoft.com';
const NOREPLY = 'noreply@contoso.onmicrosoft.com';
const HELP = 'help@fabrikam.onmicrosoft.com';

function configEnv(dir: string, contoso: ReturnType<typeof buildTenantState>, fabrikam: ReturnType<typeof buildTenantState>): Record<string, string> {
  const file = join(dir, 'mailgate.yaml');
  writeFileSync(file, `credentials:
  - name: contoso
    tenantId: ${contoso.tenantId}
    clientId: ${contoso.clientId}
    clientSecret: env:CONTOSO_SECRET
  - name: fabrikam
    tenantId: ${fabrikam.tenantId}
    clientId: ${fabrikam.clientId}
    clientSecret: env:FABRIKAM_SECRET
senders:
  - address: ${NOREPLY}
    credential: contoso
  - address: ${SHARED}
    signInAs: ${NOREPLY}
    credential: contoso
  - address: ${HELP}
    signInAs: ${fabrikam.authorizedFrom}
    credential: fabrikam
`);
  return {
    NODE_EXTRA_CA_CERTS: fixture.emu.caFile,
    MAILGATE_CONFIG: file,
    CONTOSO_SECRET: contoso.clientSecret!,
    FABRIKAM_SECRET: fabrikam.clientSecret!,
    MAILGATE_AUTHORITY_HOST: fixture.emu.authorityHost,
    MAILGATE_SMTP_HOST: fixture.emu.smtp.host,
    MAILGATE_SMTP_PORT: String(fixture.emu.smtp.port),
  };
}

describe('mailgate doctor with several senders (MAILGATE_CONFIG)', () => {
  test('every sender one report, the worst exit code; --sender picks one; an unknown one lists the senders', async () => {
    const contoso = buildTenantState({ sharedMailboxes: [{ address: SHARED, sendAs: [NOREPLY] }] });
    const fabrikam = buildTenantState({ domain: 'fabrikam.onmicrosoft.com', sharedMailboxes: [{ address: HELP }] });
    fixture.emu.setState(mergeStates(contoso, fabrikam));
    const t = tempDir('mailgate-doctor-senders-');
    try {
      const env = configEnv(t.dir, contoso, fabrikam);
      const all = await runCli(['doctor', '--json', '--to', 'someone@example.com'], env);
      assert.equal(all.code, 1, all.stderr);
      const json = singleJson(all.stdout);
      assert.equal(json.ok, false);
      assert.deepEqual(json.senders.map((r: any) => [r.sender.from, r.sender.signInAs, r.ok]), [[NOREPLY, NOREPLY, true], [SHARED, NOREPLY, true], [HELP, fabrikam.authorizedFrom, false]]);
      const third = json.senders[2];
      assert.equal(third.checks.find((c: any) => c.id === 'token-claims').details.oid, fabrikam.servicePrincipalObjectId, 'the second tenant\'s own app and token');
      assert.ok(third.checks.find((c: any) => c.id === 'send-as').commands.includes(`Add-RecipientPermission -Identity ${HELP} -Trustee ${fabrikam.authorizedFrom} -AccessRights SendAs`));
      assert.ok(!all.stdout.includes(contoso.clientSecret!) && !all.stdout.includes(fabrikam.clientSecret!));

      const one = await runCli(['doctor', '--json', '--sender', SHARED.toUpperCase()], env);
      assert.equal(one.code, 0, one.stdout);
      assert.deepEqual(singleJson(one.stdout).sender, { from: SHARED, signInAs: NOREPLY });

      const text = await runCli(['doctor', '--to', 'someone@example.com'], env);
      assert.equal(text.code, 1);
      assert.equal(text.stdout.match(/^Sender /gm)?.length, 3, text.stdout);
      assert.match(text.stdout, /^1 of 3 senders have a failed check\.$/m);

      const unknown = await runCli(['doctor', '--sender', 'nobody@contoso.onmicrosoft.com'], env);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, new RegExp(`no such sender; the configured senders are ${NOREPLY}, ${SHARED}, ${HELP}`.replace(/\./g, '\\.')));
      const both = await runCli(['doctor', '--sender', NOREPLY, '--from', NOREPLY], env);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /use one or the other/);
    } finally {
      t.remove();
    }
  });
});

describe('mailgate setup-script with several senders (MAILGATE_CONFIG)', () => {
  test('one part per signed-in mailbox, with the Send As step for each From that signs in as it', async () => {
    const contoso = buildTenantState({ sharedMailboxes: [{ address: SHARED, sendAs: [NOREPLY] }] });
    const fabrikam = buildTenantState({ domain: 'fabrikam.onmicrosoft.com', sharedMailboxes: [{ address: HELP }] });
    fixture.emu.setState(mergeStates(contoso, fabrikam));
    const t = tempDir('mailgate-setup-senders-');
    try {
      const r = await runCli(['setup-script'], configEnv(t.dir, contoso, fabrikam));
      assert.equal(r.code, 0, r.stderr);
      const parts = r.stdout.split(/^# ==== Signed-in mailbox /m).slice(1);
      assert.equal(parts.length, 2, r.stdout.slice(0, 2000));
      assert.match(parts[0]!, /^\$Mailbox = 'noreply@contoso\.onmicrosoft\.com'$/m);
      assert.match(parts[0]!, /^\$SendAsFrom = @\('support@contoso\.onmicrosoft\.com'\)$/m);
      assert.ok(parts[0]!.includes(contoso.servicePrincipalObjectId), 'the Object ID from contoso\'s token');
      assert.ok(parts[1]!.includes(`$Mailbox = '${fabrikam.authorizedFrom}'`));
      assert.match(parts[1]!, /^\$SendAsFrom = @\('help@fabrikam\.onmicrosoft\.com'\)$/m);
      assert.ok(parts[1]!.includes(fabrikam.servicePrincipalObjectId), 'the Object ID from fabrikam\'s token');
      assert.ok(!r.stdout.includes(contoso.clientSecret!) && !r.stdout.includes(fabrikam.clientSecret!));
    } finally {
      t.remove();
    }
  });
});

describe('mailgate doctor and setup-script --data-dir with stored senders', () => {
  test('the Email Settings\' sender, a Send As sender on it and a sender of a stored credential (secret decrypted): one report each', async () => {
    const contoso = buildTenantState({ sharedMailboxes: [{ address: SHARED, sendAs: [NOREPLY] }] });
    const fabrikam = buildTenantState({ domain: 'fabrikam.onmicrosoft.com', sharedMailboxes: [{ address: HELP, sendAs: [] }] });
    fixture.emu.setState(mergeStates(contoso, fabrikam));
    const t = tempDir('mailgate-doctor-stored-');
    try {
      const store = openSqliteStore(t.dir);
      try {
        const key = loadMasterKey(undefined, t.dir).key;
        const settings = await SettingsService.open({ store, masterKey: key, env: {} });
        assert.ok((await settings.update({ clientId: contoso.clientId, tenantId: contoso.tenantId, clientSecret: contoso.clientSecret!, authorizedFrom: NOREPLY, smtpHost: fixture.emu.smtp.host, smtpPort: String(fixture.emu.smtp.port), authorityHost: fixture.emu.authorityHost }, 'test')).ok);
        const senders = await SendersService.open({ store, settings, masterKey: key, env: {} });
        assert.deepEqual(await senders.putCredential({ name: 'fabrikam', tenantId: fabrikam.tenantId, clientId: fabrikam.clientId, clientSecret: fabrikam.clientSecret!, authorityHost: fixture.emu.authorityHost, smtpHost: fixture.emu.smtp.host, smtpPort: fixture.emu.smtp.port }, 'test', { create: true }), { ok: true });
        assert.deepEqual(await senders.putSender({ address: SHARED, signInAs: NOREPLY, credential: 'default' }, 'test', { create: true }), { ok: true });
        assert.deepEqual(await senders.putSender({ address: HELP, signInAs: fabrikam.authorizedFrom, credential: 'fabrikam' }, 'test', { create: true }), { ok: true });
      } finally {
        await store.close();
      }
      const env = { MAILGATE_CA_FILE: fixture.emu.caFile };
      const all = await runCli(['doctor', '--data-dir', t.dir, '--json', '--to', 'someone@example.com'], env);
      assert.equal(all.code, 1, all.stderr);
      const json = singleJson(all.stdout);
      assert.deepEqual(json.senders.map((r: any) => [r.sender.from, r.sender.signInAs, r.ok]), [[NOREPLY, NOREPLY, true], [SHARED, NOREPLY, true], [HELP, fabrikam.authorizedFrom, false]]);
      assert.equal(json.senders[2].checks.find((c: any) => c.id === 'token-claims').details.oid, fabrikam.servicePrincipalObjectId);
      assert.ok(!all.stdout.includes(fabrikam.clientSecret!) && !all.stdout.includes(contoso.clientSecret!));
      const one = await runCli(['doctor', '--data-dir', t.dir, '--json', '--sender', HELP], env);
      assert.deepEqual(singleJson(one.stdout).sender, { from: HELP, signInAs: fabrikam.authorizedFrom });
      // The same data dir's senders through `mailgate setup-script --data-dir` (read-only).
      const script = await runCli(['setup-script', '--data-dir', t.dir], { ...env, NODE_EXTRA_CA_CERTS: fixture.emu.caFile });
      assert.equal(script.code, 0, script.stderr);
      const parts = script.stdout.split(/^# ==== Signed-in mailbox /m).slice(1);
      assert.equal(parts.length, 2, script.stdout.slice(0, 2000));
      assert.match(parts[0]!, /^\$Mailbox = 'noreply@contoso\.onmicrosoft\.com'$/m);
      assert.match(parts[0]!, /^\$SendAsFrom = @\('support@contoso\.onmicrosoft\.com'\)$/m);
      assert.ok(parts[0]!.includes(contoso.servicePrincipalObjectId), 'the Object ID from the stored Email Settings\' token');
      assert.ok(parts[1]!.includes(`$Mailbox = '${fabrikam.authorizedFrom}'`));
      assert.match(parts[1]!, /^\$SendAsFrom = @\('help@fabrikam\.onmicrosoft\.com'\)$/m);
      assert.ok(parts[1]!.includes(fabrikam.servicePrincipalObjectId), 'the Object ID from the stored credential\'s token');
      assert.ok(!script.stdout.includes(fabrikam.clientSecret!) && !script.stdout.includes(contoso.clientSecret!));
      const missing = await runCli(['setup-script', '--data-dir', join(t.dir, 'nope')], env);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /no such directory/);
    } finally {
      t.remove();
    }
  });
});
