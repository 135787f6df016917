/**
 * `mailgate doctor --data-dir DIR` checks the Email Settings a service stored in DIR (secrets
 * decrypted with the data dir's master.key or MAILGATE_MASTER_KEY), with environment values
 * winning as in the service; a directory without a database or a key is an argument error and
 * nothing is created in it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { runCli, singleJson } from '../helpers/cli.js';
import { loadMasterKey, MASTER_KEY_FILE } from '../../src/service/settings/secret-box.js';
import { SettingsService } from '../../src/service/settings/settings-store.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';

const fixture = useEmulatedTenants();

/** A data dir as `mailgate serve` leaves it after an administrator saved these settings. */
async function serviceDataDir(raw: Record<string, string>, masterKey?: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mailgate-doctor-data-'));
  const store = openSqliteStore(dir);
  try {
    const key = loadMasterKey(masterKey, dir).key;
    const svc = await SettingsService.open({ store, masterKey: key, env: {} });
    const r = await svc.update(raw, 'test');
    assert.ok(r.ok, JSON.stringify(r));
  } finally {
    await store.close();
  }
  return dir;
}

const check = (report: { checks: Array<{ id: string; status: string; details?: Record<string, unknown> }> }, id: string) => report.checks.find((c) => c.id === id)!;

test('doctor --data-dir: the stored settings (secret decrypted with master.key) pass; an environment value wins over a stored one', async () => {
  const t = fixture.tenant();
  const dir = await serviceDataDir(fixture.rawFor(t));
  try {
    const ca = { MAILGATE_CA_FILE: fixture.emu.caFile };
    const ok = await runCli(['doctor', '--data-dir', dir, '--json'], ca);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.ok(!ok.stdout.includes(t.clientSecret!));

    // The environment wins, as in the service: a wrong secret there is what the doctor checks.
    const envWins = await runCli(['doctor', '--data-dir', dir, '--json'], { ...ca, MAILGATE_CLIENT_SECRET: 'wrong8Q~not-the-stored-secret-0123456789' });
    assert.equal(envWins.code, 1);
    assert.equal(check(singleJson(envWins.stdout) as never, 'token').details?.diagnosis, 'aadsts-7000215');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('doctor --data-dir with MAILGATE_MASTER_KEY (no key file): decrypts with it; a wrong key is an argument error naming the key', async () => {
  const t = fixture.tenant();
  const key = Buffer.alloc(32, 7).toString('base64');
  const dir = await serviceDataDir(fixture.rawFor(t), key);
  try {
    assert.ok(!existsSync(join(dir, MASTER_KEY_FILE)));
    const ok = await runCli(['doctor', '--data-dir', dir, '--json'], { MAILGATE_CA_FILE: fixture.emu.caFile, MAILGATE_MASTER_KEY: key });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const noKey = await runCli(['doctor', '--data-dir', dir], {});
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /no master\.key in it and MAILGATE_MASTER_KEY is not set/);
    assert.ok(!existsSync(join(dir, MASTER_KEY_FILE)), 'the doctor created no key file');
    const wrong = await runCli(['doctor', '--data-dir', dir], { MAILGATE_MASTER_KEY: Buffer.alloc(32, 9).toString('base64') });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /master key/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('doctor --data-dir on a directory that is not a service data dir: exit 2, nothing created', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'mailgate-doctor-empty-'));
  try {
    const r = await runCli(['doctor', '--data-dir', empty], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no Mailgate database \(mailgate\.db\)/);
    assert.deepEqual(readdirSync(empty), []);
    const missing = await runCli(['doctor', '--data-dir', join(empty, 'nope'), '--json'], {});
    assert.equal(missing.code, 2);
    assert.equal(singleJson(missing.stdout).error.code, 'ARGUMENT_INVALID');
    assert.ok(!existsSync(join(empty, 'nope')));
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
