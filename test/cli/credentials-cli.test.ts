/**
 * `mailgate credentials list|add|test|promote|remove` as users run it (child processes), on the
 * data dir of a running service: the secret from stdin (never argv), the test a real token
 * request at the emulator, the swap, and the running service seeing each change through its
 * settings poll; no secret in any output.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildTenantState, startEmulator } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log/logger.js';
import { startService } from '../../src/app/service.js';
import { LineCapture, tempDir, waitFor } from '../service/helpers.js';
import { MASTER_KEY } from '../service/e2e-helpers.js';

const MAIN = 'dist/src/cli/main.js';
const NEW_SECRET = 'Cl18Q~cli-secondary-secret-0123456789abcdefg';

function cli(args: string[], env: Record<string, string>, input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, MAILGATE_LOG_LEVEL: 'warn', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (status) => resolve({ status, stdout, stderr }));
    p.stdin.end(input ?? '');
  });
}

describe('mailgate credentials', () => {
  it('add (stdin) → test → promote → remove on a running service\'s data dir', async () => {
    const built = buildTenantState({});
    built.state.tenants[0]!.apps[0]!.secrets.push({ id: randomUUID(), value: NEW_SECRET, expires: new Date(Date.now() + 86_400_000).toISOString() } as never);
    const emulator = await startEmulator(built.state);
    const t = tempDir('mailgate-cred-cli-');
    const caFile = join(t.dir, 'emulator-ca.pem');
    writeFileSync(caFile, emulator.caPem);
    const env = { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_CA_FILE: caFile };
    const svc = await startService({ env: { ...env, MAILGATE_HTTP_PORT: '0', MAILGATE_WORKER: 'off' }, ca: emulator.caPem, logger: createLogger({ destination: new LineCapture(), level: 'warn' }) });
    try {
      const saved = await svc.settings.update({ smtpHost: emulator.smtp.host, smtpPort: emulator.smtp.port, authorityHost: emulator.authorityHost, tenantId: built.tenantId, clientId: built.clientId, clientSecret: built.clientSecret, authorizedFrom: built.authorizedFrom }, 'test');
      assert.ok(saved.ok);
      const rotation = svc.deps.credentialRotation!;

      const argv = await cli(['credentials', 'add', 'default', '--secret', NEW_SECRET], env);
      assert.notEqual(argv.status, 0, 'no secret as an argument value');
      const none = await cli(['credentials', 'add', 'default'], env);
      assert.equal(none.status, 1);
      assert.match(none.stderr, /exactly one of --secret-stdin, --secret-file FILE or --certificate FILE/);

      const added = await cli(['credentials', 'add', 'default', '--secret-stdin', '--expires', '2028-03-01'], env, `${NEW_SECRET}\n`);
      assert.equal(added.status, 0, added.stderr);
      assert.match(added.stdout, /secondary: secret Cl1…, expires 2028-03-01/);
      assert.match(added.stdout, /Next: mailgate credentials test default/);
      // The running service sees it through its settings poll (every 2 s by default).
      await waitFor(() => rotation.get('default')?.secondary?.kind === 'secret' || undefined, 10_000, 'the service sees the secondary');

      // `mailgate doctor --data-dir` reads the stored secondary and tests it (a token with it alone).
      const doctor = await cli(['doctor', '--data-dir', t.dir, '--json'], env);
      assert.equal(doctor.status, 0, doctor.stderr + doctor.stdout);
      const report = JSON.parse(doctor.stdout) as { checks: { id: string; status: string; details?: Record<string, any> }[] };
      const token = report.checks.find((c) => c.id === 'token')!;
      assert.equal(token.status, 'pass');
      assert.equal(token.details!.secondary.ok, true);
      assert.equal(report.checks.find((c) => c.id === 'settings')!.details!.secondary.expiresAt, '2028-03-01T00:00:00.000Z');
      assert.ok(!doctor.stdout.includes(NEW_SECRET) && !doctor.stderr.includes(NEW_SECRET), 'no secret in the doctor output');

      const early = await cli(['credentials', 'promote', 'default'], env);
      assert.equal(early.status, 1);
      assert.match(early.stderr, /not tested: test the secondary/);

      const tested = await cli(['credentials', 'test', 'default', '--json'], env);
      assert.equal(tested.status, 0, tested.stderr + tested.stdout);
      assert.deepEqual([JSON.parse(tested.stdout).slot, JSON.parse(tested.stdout).ok], ['secondary', true]);

      const promoted = await cli(['credentials', 'promote', 'default', '--json'], env);
      assert.equal(promoted.status, 0, promoted.stderr);
      assert.equal(JSON.parse(promoted.stdout).primary.hint, 'Cl1');
      await waitFor(() => svc.settings.settings()?.clientSecret?.reveal() === NEW_SECRET || undefined, 10_000, 'the service uses the new primary');

      const removed = await cli(['credentials', 'remove', 'default'], env);
      assert.equal(removed.status, 0, removed.stderr);
      const list = await cli(['credentials', 'list', '--json'], env);
      assert.equal(list.status, 0, list.stderr);
      const views = JSON.parse(list.stdout) as { name: string; secondary: unknown }[];
      assert.deepEqual(views.map((v) => [v.name, v.secondary]), [['default', null]]);
      const failed = await cli(['credentials', 'test', 'default', '--slot', 'secondary'], env);
      assert.equal(failed.status, 1);
      assert.match(failed.stderr, /no secondary to test/);

      const audit = await svc.store.listAudit(50);
      assert.ok(audit.some((a) => a.action === 'credential.rotation.promote' && a.actor === 'cli'));
      for (const out of [added, tested, promoted, removed, list, argv, early]) {
        assert.ok(!out.stdout.includes(NEW_SECRET) && !out.stderr.includes(NEW_SECRET), 'no secret in the output');
      }
    } finally {
      await svc.stop();
      await emulator.stop();
      t.remove();
    }
  });
});

describe('mailgate config import with a secondary', () => {
  it('the first credential\'s secondary becomes the Email Settings\' secondary; export leaves its value out', async () => {
    const built = buildTenantState({});
    const t = tempDir('mailgate-cred-import-');
    try {
      const file = join(t.dir, 'mailgate.yaml');
      writeFileSync(file, `credentials:
  - name: contoso
    tenantId: ${built.tenantId}
    clientId: ${built.clientId}
    clientSecret: env:CONTOSO_SECRET
    secondary:
      clientSecret: env:CONTOSO_NEXT
      clientSecretExpires: 2028-04-01
senders:
  - address: ${built.authorizedFrom}
    credential: contoso
`);
      const env = { MAILGATE_DATA_DIR: join(t.dir, 'data'), MAILGATE_MASTER_KEY: MASTER_KEY, CONTOSO_SECRET: 'contoso-primary-value-0123456789', CONTOSO_NEXT: 'contoso-next-value-0123456789ab' };
      const imp = await cli(['config', 'import', file], env);
      assert.equal(imp.status, 0, imp.stderr);
      const list = await cli(['credentials', 'list', '--json'], env);
      assert.equal(list.status, 0, list.stderr);
      const def = (JSON.parse(list.stdout) as { name: string; source: string; secondary: { kind: string; expires?: string } | null }[]).find((v) => v.name === 'default')!;
      assert.deepEqual([def.source, def.secondary?.kind, def.secondary?.expires], ['settings', 'secret', '2028-04-01']);
      const exp = await cli(['config', 'export', '--json'], env);
      assert.equal(exp.status, 0, exp.stderr);
      assert.match(exp.stderr, /secondary client secret is stored encrypted and is not exported/);
      for (const out of [imp, list, exp]) assert.ok(!(out.stdout + out.stderr).includes('contoso-next-value'), 'no secret in the output');
    } finally {
      t.remove();
    }
  });
});
