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
