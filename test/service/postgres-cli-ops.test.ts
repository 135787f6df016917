/**
 * The operator commands that read a data dir, with PostgreSQL (issue 18): `mailgate doctor
 * --data-dir` reads the stored Email Settings from MAILGATE_DATABASE_URL's database (secrets
 * decrypted with MAILGATE_MASTER_KEY; the database is never migrated), and `mailgate backup`
 * refuses, printing the pg_dump command without the database password.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { runCli, singleJson } from '../helpers/cli.js';
import { countPostgresTests, pgSkip, pgUrl } from '../helpers/postgres.js';
import { freshDatabase } from '../helpers/serve-process.js';
import { openPgStore } from '../../src/service/outbox/postgres/pg-store.js';
import { SettingsService } from '../../src/service/settings/settings-store.js';

const MASTER_KEY = Buffer.alloc(32, 17).toString('base64');
const fixture = useEmulatedTenants();

if (!pgSkip) countPostgresTests();

describe('operator commands with PostgreSQL', () => {
  it('backup refuses with MAILGATE_DATABASE_URL and prints the pg_dump command, never the password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailgate-pg-backup-'));
    try {
      const file = join(dir, 'backup.db');
      const r = await runCli(['backup', file], { MAILGATE_DATABASE_URL: 'postgres://mailgate:s3cret-db-pw@db.internal:5432/mailgate', MAILGATE_DATA_DIR: dir });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /pg_dump --format=custom --file='[^']*backup\.db' "\$MAILGATE_DATABASE_URL"/);
      assert.match(r.stderr, /postgres:\/\/mailgate@db\.internal:5432\/mailgate/);
      assert.ok(!(r.stdout + r.stderr).includes('s3cret-db-pw'), 'the password is never printed');
      assert.ok(!existsSync(file), 'nothing written');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('doctor --data-dir reads the Email Settings stored in PostgreSQL (MAILGATE_MASTER_KEY; no data dir needed) and never migrates', { skip: pgSkip }, async () => {
    const t = fixture.tenant();
    const database = await freshDatabase(pgUrl!, 'doctor');
    const dir = mkdtempSync(join(tmpdir(), 'mailgate-pg-doctor-'));
    try {
      // What an administrator's save leaves in the shared database.
      const store = await openPgStore({ url: database.url });
      try {
        const svc = await SettingsService.open({ store, masterKey: Buffer.from(MASTER_KEY, 'base64'), env: {} });
        const saved = await svc.update(fixture.rawFor(t), 'test');
        assert.ok(saved.ok, JSON.stringify(saved));
      } finally {
        await store.close();
      }
      const env = { MAILGATE_CA_FILE: fixture.emu.caFile, MAILGATE_DATABASE_URL: database.url, MAILGATE_MASTER_KEY: MASTER_KEY };
      const ok = await runCli(['doctor', '--data-dir', join(dir, 'not-there'), '--json'], env);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      const report = singleJson(ok.stdout) as { ok: boolean; checks: { id: string; status: string }[] };
      assert.equal(report.ok, true);
      assert.equal(report.checks.find((c) => c.id === 'token')?.status, 'pass', 'the stored secret was decrypted and used');
      assert.ok(!ok.stdout.includes(t.clientSecret!));

      // A database behind this Mailgate's schema is an argument error; the doctor does not migrate it.
      const c = new pg.Client({ connectionString: database.url });
      await c.connect();
      try {
        const latest = (await c.query<{ v: number }>('SELECT max(version) AS v FROM schema_migrations')).rows[0]!.v;
        await c.query('DELETE FROM schema_migrations WHERE version = $1', [latest]);
        const old = await runCli(['doctor', '--data-dir', dir, '--json'], env);
        assert.equal(old.code, 2, old.stdout + old.stderr);
        assert.match(old.stdout + old.stderr, /mailgate migrate/);
        assert.equal((await c.query('SELECT 1 FROM schema_migrations WHERE version = $1', [latest])).rowCount, 0, 'not migrated');
      } finally {
        await c.end();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await database.drop();
    }
  });
});
