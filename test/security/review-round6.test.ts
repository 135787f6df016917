/**
 * Review of round 6 (credential rotation, admin sessions in the store, group commit): security
 * reproductions, each failing on the code as merged (caf4eb9).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAdminApp } from '../../src/admin/index.js';
import { createLogger } from '../../src/log/logger.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { setAdminPassword } from '../../src/service/access/admin-password.js';
import { AdminClient, MASTER_KEY } from '../admin/helpers.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databasePassword } from '../../src/service/outbox/open-store.js';
import { runCli } from '../helpers/cli.js';
import { CredentialRotationService } from '../../src/service/settings/credential-rotation-service.js';
import { SendersService } from '../../src/service/settings/senders-service.js';
import { SettingsService } from '../../src/service/settings/settings-store.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { FakeMailer, LineCapture, tempDir } from '../service/helpers.js';

async function serve(dir: string, env: Record<string, string> = {}): Promise<RunningService> {
  const mailer = new FakeMailer();
  return startService({
    env: { MAILGATE_DATA_DIR: dir, MAILGATE_MASTER_KEY: MASTER_KEY, ...env },
    listen: false,
    worker: false,
    logger: createLogger({ destination: new LineCapture(), level: 'debug' }),
    createMailer: () => Object.assign(mailer, { stats: { peakConnections: 0, connectionsOpened: 0, openConnections: 0 } }),
    admin: (deps) => createAdminApp(deps, { clientAddress: () => '192.0.2.10' }),
  });
}

function client(svc: () => RunningService): AdminClient {
  return new AdminClient((path, init) => Promise.resolve(svc().app.request(path, init)));
}

describe('review round 6: admin sessions end when the admin password changes', () => {
  it('mailgate admin set-password signs every admin session out (the store keeps sessions now)', async () => {
    const t = tempDir('mailgate-review6-');
    const svc = await serve(t.dir);
    try {
      const first = svc.adminPassword.generated!;
      assert.ok(first);
      const browser = client(() => svc);
      assert.equal((await browser.login(first)).status, 303);
      assert.equal((await browser.get('/admin/settings')).status, 200, 'signed in');
      // The administrator suspects the password leaked and sets a new one (the CLI writes the store).
      await setAdminPassword(svc.store, 'a brand new admin password', { now: Date.now(), actor: 'cli' });
      const after = await browser.get('/admin/settings');
      assert.equal(after.status, 303, 'the old session must not survive the password change');
      assert.match(after.location ?? '', /\/admin\/login/);
      // Signing in with the new password works.
      assert.equal((await browser.login('a brand new admin password')).status, 303);
      assert.equal((await browser.get('/admin/settings')).status, 200);
    } finally {
      await svc.stop();
      t.remove();
    }
  });

  it('a new MAILGATE_ADMIN_PASSWORD signs sessions out at the next start; the same one keeps them', async () => {
    const t = tempDir('mailgate-review6-');
    let svc = await serve(t.dir, { MAILGATE_ADMIN_PASSWORD: 'the first admin password' });
    try {
      const browser = client(() => svc);
      assert.equal((await browser.login('the first admin password')).status, 303);
      assert.equal((await browser.get('/admin/settings')).status, 200);
      await svc.stop();
      svc = await serve(t.dir, { MAILGATE_ADMIN_PASSWORD: 'the first admin password' });
      assert.equal((await browser.get('/admin/settings')).status, 200, 'a restart with the same password keeps the session');
      await svc.stop();
      svc = await serve(t.dir, { MAILGATE_ADMIN_PASSWORD: 'the second admin password' });
      const page = await browser.get('/admin/settings');
      assert.equal(page.status, 303, 'a session of the old password must end');
      assert.match(page.location ?? '', /\/admin\/login/);
    } finally {
      await svc.stop();
      t.remove();
    }
  });
});

describe('review round 6: the database password given as ?password= in MAILGATE_DATABASE_URL', () => {
  const url = 'postgres://mailgate@db.internal:5432/mailgate?sslmode=require&password=Qs-db-pw-in-query-7781';

  it('mailgate backup (PostgreSQL) never prints it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailgate-review6-backup-'));
    try {
      const r = await runCli(['backup', join(dir, 'backup.db')], { MAILGATE_DATABASE_URL: url, MAILGATE_DATA_DIR: dir });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /db\.internal/, 'the database is still named');
      assert.ok(!(r.stdout + r.stderr).includes('Qs-db-pw-in-query-7781'), r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is the password the logs and errors scrub (node-postgres uses it as the password)', () => {
    assert.equal(databasePassword(url), 'Qs-db-pw-in-query-7781');
    assert.equal(databasePassword('postgres://u:in-userinfo@h/db'), 'in-userinfo');
    assert.equal(databasePassword('postgres://u@h/db'), undefined);
  });
});

describe('review round 6: a secondary added by another process is not redirected by a stale settings update', () => {
  it('a destination move checked against a copy without the new secondary is refused', async () => {
    const KEY = Buffer.alloc(32, 3);
    const PRIMARY = 'Pr1Q~primary-secret-value-0123456789abcdef';
    const SECONDARY = 'Se1Q~secondary-secret-value-0123456789abc';
    const t = tempDir('mailgate-review6-redirect-');
    const store = openSqliteStore(t.dir);
    try {
      const base = await SettingsService.open({ store, masterKey: KEY, env: {} });
      assert.equal((await base.update({ useModernAuth: 'true', clientId: '11111111-2222-3333-4444-555555555555', tenantId: '66666666-7777-8888-9999-000000000000', authorizedFrom: 'sender@contoso.com', clientSecret: PRIMARY }, 'test')).ok, true);
      // Instance A: the administrator adds the new secret as the secondary.
      const aSettings = await SettingsService.open({ store, masterKey: KEY, env: {} });
      const aSenders = await SendersService.open({ store, settings: aSettings, masterKey: KEY, env: {} });
      // Instance B loaded the settings before that and has not polled yet.
      const bSettings = await SettingsService.open({ store, masterKey: KEY, env: {} });
      const a = await CredentialRotationService.open({ settings: aSettings, senders: aSenders, store, masterKey: KEY, testToken: async () => undefined, diagnose: () => ({ summary: '', fixes: [] }) });
      await a.addSecondary('default', { clientSecret: SECONDARY }, 'admin');
      // Through B, someone who knows only the primary (or a throw-away one) moves the authority host.
      const moved = await bSettings.update({ authorityHost: 'https://login.attacker.example', clientSecret: PRIMARY }, 'api-key:stolen');
      assert.equal(moved.ok, false, 'the secondary must be re-entered or dropped with the move');
      assert.ok(!moved.ok && moved.problems.some((p) => p.key === 'clientSecretSecondary'), JSON.stringify(moved));
      const after = await SettingsService.open({ store, masterKey: KEY, env: {} });
      const raw = after.effectiveRaw();
      assert.ok(!(raw.authorityHost === 'https://login.attacker.example' && raw.clientSecretSecondary), 'the secondary must never be sent to the new authority');
    } finally {
      await store.close();
      t.remove();
    }
  });
});
