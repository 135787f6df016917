/**
 * `mailgate doctor --data-dir DIR` never writes the service's database: it opens it read-only
 * (no migration, no write probe), never stores a key check (a wrong key used to overwrite
 * `crypto.keyCheck` when no secret was stored yet), and refuses a schema it would have to
 * migrate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { runCli } from '../helpers/cli.js';
import { keyCheck, loadMasterKey } from '../../src/service/settings/secret-box.js';
import { SettingsService } from '../../src/service/settings/settings-store.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { loadMigrations, migrate } from '../../src/service/outbox/sqlite/migrate.js';
import { DATABASE_FILE } from '../../src/service/outbox/sqlite/open.js';

const fixture = useEmulatedTenants();

async function serviceDataDir(raw: Record<string, string>, masterKey: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mailgate-doctor-ro-'));
  const store = openSqliteStore(dir);
  try {
    const svc = await SettingsService.open({ store, masterKey: loadMasterKey(masterKey, dir).key, env: {} });
    if (Object.keys(raw).length) {
      const r = await svc.update(raw, 'test');
      assert.ok(r.ok, JSON.stringify(r));
    }
  } finally {
    await store.close();
  }
  return dir;
}

/** The database file's bytes and mtime, and the data dir's other files (SQLite's -wal/-shm aside). */
function snapshot(dir: string) {
  const file = join(dir, DATABASE_FILE);
  return {
    bytes: readFileSync(file).toString('base64'),
    mtimeMs: statSync(file).mtimeMs,
    files: readdirSync(dir).filter((f) => !/-(wal|shm)$/.test(f)).sort(),
  };
}

const KEY = Buffer.alloc(32, 3).toString('base64');
const WRONG = Buffer.alloc(32, 4).toString('base64');

test('doctor --data-dir with the right key: the database file is byte for byte unchanged, mtime too', async () => {
  const t = fixture.tenant();
  const dir = await serviceDataDir(fixture.rawFor(t), KEY);
  try {
    const before = snapshot(dir);
    const r = await runCli(['doctor', '--data-dir', dir, '--json'], { MAILGATE_CA_FILE: fixture.emu.caFile, MAILGATE_MASTER_KEY: KEY });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(snapshot(dir), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('doctor --data-dir with a wrong key and no secret stored yet: exit 2 naming the key, crypto.keyCheck untouched', async () => {
  // A service started once, nothing saved yet: it would adopt a new key here; the doctor must not.
  const dir = await serviceDataDir({}, KEY);
  try {
    const before = snapshot(dir);
    const r = await runCli(['doctor', '--data-dir', dir], { MAILGATE_MASTER_KEY: WRONG });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /master key/i);
    assert.deepEqual(snapshot(dir), before);
    const db = new BetterSqlite3(join(dir, DATABASE_FILE), { readonly: true });
    try {
      const row = db.prepare("SELECT value FROM meta WHERE key = 'crypto.keyCheck'").get() as { value: string };
      assert.equal(row.value, keyCheck(Buffer.from(KEY, 'base64')));
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('doctor --data-dir on an older schema: refused (exit 2, "older"), not migrated; a newer one: refused too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailgate-doctor-old-'));
  try {
    const file = join(dir, DATABASE_FILE);
    const all = loadMigrations();
    const db = new BetterSqlite3(file);
    db.pragma('journal_mode = WAL');
    migrate(db, all.slice(0, all.length - 1));
    db.close();
    const before = snapshot(dir);
    const old = await runCli(['doctor', '--data-dir', dir], { MAILGATE_MASTER_KEY: KEY });
    assert.equal(old.code, 2, old.stdout + old.stderr);
    assert.match(old.stderr, new RegExp(`schema version ${all.length - 1}, older than this Mailgate's \\(${all.length}\\)`));
    assert.deepEqual(snapshot(dir), before);

    const w = new BetterSqlite3(file);
    migrate(w, all);
    w.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(all.length + 1, 'future', 0);
    w.close();
    const newer = await runCli(['doctor', '--data-dir', dir], { MAILGATE_MASTER_KEY: KEY });
    assert.equal(newer.code, 2, newer.stdout + newer.stderr);
    assert.match(newer.stderr, /newer than this Mailgate knows/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
