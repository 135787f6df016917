/**
 * Stored settings: AES-256-GCM at rest, the master key from the environment or a 0600 key
 * file (with a warning), a wrong master key reported at start-up, environment overrides with
 * sources, validation before saving, audit without values, refresh across processes; plus the
 * admin password and API key helpers.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createClientCertificate } from '../../src/emulator/index.js';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ADMIN_PASSWORD_META, resolveAdminPassword, setAdminPassword, verifyPassword } from '../../src/service/access/admin-password.js';
import { authenticateApiKey, createApiKey, hashApiKey, revokeApiKey } from '../../src/service/access/api-keys.js';
import { decryptValue, encryptValue, loadMasterKey, MASTER_KEY_FILE, MasterKeyError } from '../../src/service/settings/secret-box.js';
import { SettingsService } from '../../src/service/settings/settings-store.js';
import { openSqliteStore, type SqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { tempDir } from './helpers.js';

const KEY = Buffer.alloc(32, 3);
const SECRET = 'Q8~very.secret-client-value_123456';
const VALID = {
  clientId: '11111111-2222-3333-4444-555555555555',
  tenantId: 'contoso.onmicrosoft.com',
  clientSecret: SECRET,
  authorizedFrom: 'noreply@contoso.com',
};

async function withStore(fn: (store: SqliteStore, dir: string) => Promise<void>): Promise<void> {
  const t = tempDir();
  const store = openSqliteStore(t.dir);
  try {
    await fn(store, t.dir);
  } finally {
    await store.close();
    t.remove();
  }
}

describe('secret box', () => {
  it('encrypts with AES-256-GCM bound to the key name', () => {
    const c = encryptValue(KEY, SECRET, 'settings.clientSecret');
    assert.match(c, /^v1:/);
    assert.ok(!c.includes(SECRET));
    assert.notEqual(c, encryptValue(KEY, SECRET, 'settings.clientSecret'), 'random IV');
    assert.equal(decryptValue(KEY, c, 'settings.clientSecret'), SECRET);
    assert.throws(() => decryptValue(KEY, c, 'settings.smtpPassword'), MasterKeyError);
    assert.throws(() => decryptValue(Buffer.alloc(32, 4), c, 'settings.clientSecret'), /master key/);
  });

  it('takes the master key from the environment (hex or base64), refusing anything else', () => {
    const t = tempDir();
    try {
      assert.deepEqual(loadMasterKey(KEY.toString('hex'), t.dir).key, KEY);
      assert.deepEqual(loadMasterKey(KEY.toString('base64'), t.dir).key, KEY);
      assert.throws(() => loadMasterKey('too-short', t.dir), /MAILGATE_MASTER_KEY must be 32 bytes/);
    } finally {
      t.remove();
    }
  });

  it('creates a 0600 key file with a warning when no key is given, and reuses it', () => {
    const t = tempDir();
    try {
      const a = loadMasterKey(undefined, t.dir);
      assert.equal(a.source, 'file');
      assert.equal(a.created, true);
      assert.match(a.warnings[0], /MAILGATE_MASTER_KEY is not set/);
      assert.equal(statSync(join(t.dir, MASTER_KEY_FILE)).mode & 0o777, 0o600);
      const b = loadMasterKey(undefined, t.dir);
      assert.equal(b.created, false);
      assert.deepEqual(b.key, a.key);
      writeFileSync(join(t.dir, MASTER_KEY_FILE), 'garbage');
      assert.throws(() => loadMasterKey(undefined, t.dir), /damaged/);
    } finally {
      t.remove();
    }
  });
});

describe('settings service', () => {
  it('saves valid settings with the secret encrypted, reports sources, audits keys only', async () => {
    await withStore(async (store, dir) => {
      const svc = await SettingsService.open({ store, masterKey: KEY, env: {} });
      assert.equal(svc.view().valid, false);
      const r = await svc.update(VALID, 'admin');
      assert.ok(r.ok);
      assert.equal(svc.view().values.clientSecretSet, true);
      assert.equal(svc.view().sources.clientSecret, 'stored');
      assert.equal(svc.view().sources.smtpPort, 'default');
      assert.equal(svc.settings()?.clientSecret?.reveal(), SECRET);
      const raw = await store.getSettings();
      assert.match(raw.clientSecret, /^v1:/);
      assert.equal(raw.clientId, VALID.clientId);
      const audit = await store.listAudit(5);
      assert.deepEqual(audit[0].detail, { keys: ['clientId', 'tenantId', 'clientSecret', 'authorizedFrom'] });
      store.database.pragma('wal_checkpoint(TRUNCATE)');
      for (const f of ['mailgate.db', 'mailgate.db-wal']) {
        try {
          assert.ok(!readFileSync(join(dir, f)).includes(SECRET));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
    });
  });

  it('refuses to save invalid settings and lists every problem', async () => {
    await withStore(async (store) => {
      const svc = await SettingsService.open({ store, masterKey: KEY, env: {} });
      const r = await svc.update({ ...VALID, clientId: 'x', smtpPort: 'abc', nope: true }, 'admin');
      assert.equal(r.ok, false);
      if (!r.ok) assert.deepEqual(r.problems.map((p) => p.key).sort(), ['clientId', 'nope', 'smtpPort']);
      assert.equal(await store.settingsVersion(), 0);
    });
  });

  it('keeps a stored secret when the field is empty, clears it with null', async () => {
    await withStore(async (store) => {
      const svc = await SettingsService.open({ store, masterKey: KEY, env: {} });
      const cert = await createClientCertificate();
      const certPath = join(mkdtempSync(join(tmpdir(), 'mailgate-cert-')), 'client.pem');
      writeFileSync(certPath, `${cert.certPem}\n${cert.privateKeyPem}`);
      const bad = await svc.update({ ...VALID, clientCertificatePath: '/nonexistent/cert.pem' }, 'admin');
      assert.ok(!bad.ok && bad.problems.some((p) => p.key === 'clientCertificatePath'), 'an unreadable certificate is refused when saved');
      assert.ok((await svc.update({ ...VALID, clientCertificatePath: certPath }, 'admin')).ok);
      let r = await svc.update({ clientSecret: '' }, 'admin');
      assert.ok(r.ok && r.changedKeys.length === 0);
      assert.equal(svc.settings()?.clientSecret?.reveal(), SECRET);
      r = await svc.update({ clientSecret: null }, 'admin');
      assert.ok(r.ok);
      assert.equal(svc.settings()?.clientSecret, undefined);
      assert.equal(svc.view().values.clientSecretSet, false);
    });
  });

  it('environment variables win, are reported as env, and cannot be changed through the service', async () => {
    await withStore(async (store) => {
      const env = { MAILGATE_CLIENT_SECRET: SECRET, MAILGATE_SMTP_PORT: '25' };
      const svc = await SettingsService.open({ store, masterKey: KEY, env });
      const r = await svc.update({ ...VALID, clientSecret: undefined }, 'admin');
      assert.ok(r.ok);
      assert.equal(svc.view().sources.clientSecret, 'env');
      assert.equal(svc.view().sources.smtpPort, 'env');
      assert.equal(svc.settings()?.smtpPort, 25);
      assert.equal((await store.getSettings()).clientSecret, undefined, 'env secret never stored');
      const bad = await svc.update({ smtpPort: 587 }, 'admin');
      assert.equal(bad.ok, false);
      if (!bad.ok) assert.match(bad.problems[0].message, /MAILGATE_SMTP_PORT/);
    });
  });

  it('detects a master key that does not match the stored secrets', async () => {
    await withStore(async (store) => {
      const a = await SettingsService.open({ store, masterKey: KEY, env: {} });
      await a.update(VALID, 'admin');
      await assert.rejects(SettingsService.open({ store, masterKey: Buffer.alloc(32, 5), env: {} }), /not the one the stored secrets were encrypted with/);
    });
  });

  it('notices changes made by another process (refresh)', async () => {
    const t = tempDir();
    const s1 = openSqliteStore(t.dir);
    const s2 = openSqliteStore(t.dir);
    try {
      const a = await SettingsService.open({ store: s1, masterKey: KEY, env: {} });
      const b = await SettingsService.open({ store: s2, masterKey: KEY, env: {} });
      let changed = 0;
      b.onChange(() => changed++);
      await a.update(VALID, 'admin');
      assert.equal(b.view().valid, false);
      assert.equal(await b.refresh(), true);
      assert.equal(b.view().valid, true);
      assert.equal(b.snapshot().version, a.snapshot().version);
      assert.equal(await b.refresh(), false);
      assert.equal(changed, 1);
    } finally {
      await s1.close();
      await s2.close();
      t.remove();
    }
  });
});

describe('admin password and API keys', () => {
  it('generates and stores only a scrypt hash on first start; env and set-password take over', async () => {
    await withStore(async (store) => {
      const first = await resolveAdminPassword(store, undefined, { now: 1 });
      assert.ok(first.generated && first.generated.length >= 20);
      const hash = await store.getMeta(ADMIN_PASSWORD_META);
      assert.match(hash!, /^scrypt\$/);
      assert.ok(!hash!.includes(first.generated!));
      assert.equal(await first.verify(first.generated!), true);
      assert.equal(await first.verify('wrong'), false);
      const second = await resolveAdminPassword(store, undefined, { now: 2 });
      assert.equal(second.generated, undefined);
      await setAdminPassword(store, 'a-new-long-password', { now: 3, actor: 'cli' });
      assert.equal(await first.verify('a-new-long-password'), true, 'takes effect at once');
      await assert.rejects(setAdminPassword(store, 'short', { now: 4, actor: 'cli' }), /at least 12/);
      const fromEnv = await resolveAdminPassword(store, 'env-password-123', { now: 5 });
      assert.equal(fromEnv.source, 'env');
      assert.equal(await fromEnv.verify('env-password-123'), true);
      assert.ok(await verifyPassword('a-new-long-password', (await store.getMeta(ADMIN_PASSWORD_META))!));
    });
  });

  it('stores only the hash of an API key; revoked keys stop working', async () => {
    await withStore(async (store) => {
      const k = await createApiKey(store, 'billing-app', 'send', { now: 1, actor: 'cli' });
      assert.match(k.key, /^mg_[A-Za-z0-9_-]{43}$/);
      const found = await authenticateApiKey(store, k.key);
      assert.equal(found?.name, 'billing-app');
      assert.equal(await store.findApiKey(hashApiKey(k.key)).then((x) => x?.scope), 'send');
      const dump = JSON.stringify(store.database.prepare('SELECT * FROM api_keys').all());
      assert.ok(!dump.includes(k.key));
      await assert.rejects(createApiKey(store, 'billing-app', 'send', { now: 2, actor: 'cli' }), /exists already/);
      await assert.rejects(createApiKey(store, 'bad name!', 'send', { now: 2, actor: 'cli' }), /invalid/);
      assert.equal(await revokeApiKey(store, 'billing-app', { now: 3, actor: 'cli' }), true);
      assert.equal(await authenticateApiKey(store, k.key), undefined);
    });
  });
});
