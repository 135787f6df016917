/**
 * Issue 12 item 1 at the settings service (real SQLite, real certificate files): for every
 * credential kind (client secret, certificate PEM, certificate path, basic password; stored or
 * from the environment) × every destination field (the core table), a change of the
 * destination without the credential is refused naming the credential, nothing is saved, and
 * a legitimate administrator who enters the credential again can make the change.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SettingsService } from '../../src/service/settings/settings-store.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { attackPatch, DESTINATION_FIELDS, envFor, envLocked, KINDS, makeMaterial, otherModePatch, setupPatch, typed, type CredentialKind, type Material } from '../helpers/credential-matrix.js';
import { tempDir } from './helpers.js';

const KEY = Buffer.alloc(32, 7);
const ATTACKER = { host: 'mx.attacker.example', port: 2526 };

async function withSettings(kind: CredentialKind, m: Material, fn: (svc: SettingsService, version: () => Promise<number>) => Promise<void>): Promise<void> {
  const t = tempDir('mailgate-redirect-');
  const store = openSqliteStore(t.dir);
  try {
    const svc = await SettingsService.open({ store, masterKey: KEY, env: envFor(kind, m) });
    const r = await svc.update(setupPatch(kind, m), 'admin');
    assert.ok(r.ok, `setup of ${kind.name}: ${!r.ok ? r.problems.map((p) => p.message).join('; ') : ''}`);
    assert.ok(svc.settings(), 'the setup is valid');
    await fn(svc, () => store.settingsVersion());
  } finally {
    await store.close();
    t.remove();
  }
}

describe('a destination change needs every credential entered again (settings service)', async () => {
  const m = await makeMaterial({ clientId: '11111111-2222-3333-4444-555555555555', tenantId: 'contoso.onmicrosoft.com', authorizedFrom: 'noreply@contoso.com' });

  for (const kind of KINDS) {
    for (const field of DESTINATION_FIELDS) {
      it(`${kind.name} × ${field}: refused without the credential${kind.retype ? ', accepted with it' : ''}`, async () => {
        await withSettings(kind, m, async (svc, version) => {
          if (field === 'useModernAuth' && !envLocked(kind, field)) {
            const r = await svc.update(otherModePatch(kind, m), 'admin');
            assert.ok(r.ok, `switch to the other mode: ${!r.ok ? r.problems.map((p) => p.message).join('; ') : ''}`);
          }
          const before = await version();
          const settingsBefore = JSON.stringify(svc.view().values);
          const attack = attackPatch(field, kind, ATTACKER);
          const refused = await svc.update(attack, 'api-key:stolen');
          assert.equal(refused.ok, false, 'refused');
          assert.equal(await version(), before, 'nothing saved');
          assert.equal(JSON.stringify(svc.view().values), settingsBefore);
          if (refused.ok) return;
          if (envLocked(kind, field)) {
            assert.deepEqual(refused.problems.map((p) => p.key), [field], 'the environment pins the mode');
            return;
          }
          assert.ok(refused.reenter.includes(kind.key), `names ${kind.key}: ${JSON.stringify(refused.problems)}`);
          const problem = refused.problems.find((p) => p.key === kind.key)!;
          assert.match(problem.message, kind.source === 'env' ? /comes from the environment/ : kind.retype ? /must be entered again in this request/ : /names a file on the server/);
          for (const secret of [m.secret, m.password, m.pem]) assert.ok(!JSON.stringify(refused.problems).includes(secret), 'no secret in the problems');

          // Entering the credential again: accepted when that proves something, refused otherwise.
          const retyped = await svc.update({ ...attack, ...(kind.source === 'stored' ? typed(kind, m) : {}) }, 'admin');
          assert.equal(retyped.ok, kind.retype, retyped.ok ? 'accepted' : retyped.problems.map((p) => p.message).join('; '));
          if (kind.source === 'stored' && !kind.retype) {
            // A certificate file: the change is possible by replacing it with a credential the caller holds.
            const replaced = await svc.update({ ...attack, clientCertificatePath: null, clientCertificatePem: m.pem }, 'admin');
            assert.ok(replaced.ok, !replaced.ok ? replaced.problems.map((p) => p.message).join('; ') : '');
          }
        });
      });
    }
  }

  it('the issue’s reproduction: a certificate path, then smtpHost + smtpPort to an attacker → refused', async () => {
    await withSettings(KINDS.find((k) => k.key === 'clientCertificatePath' && k.source === 'stored')!, m, async (svc) => {
      const r = await svc.update({ smtpHost: '127.0.0.1', smtpPort: 2526 }, 'api-key:stolen');
      assert.ok(!r.ok);
      if (!r.ok) assert.deepEqual(r.reenter, ['clientCertificatePath']);
      assert.equal(svc.settings()?.smtpHost, 'smtp.office365.com');
      // Typing the path again (it is shown by GET) proves nothing.
      const again = await svc.update({ smtpHost: '127.0.0.1', smtpPort: 2526, clientCertificatePath: m.certPath }, 'api-key:stolen');
      assert.ok(!again.ok);
    });
  });

  it('two steps cannot re-attach a certificate file to a chosen host: move with a throw-away secret, then set the path back', async () => {
    await withSettings(KINDS.find((k) => k.key === 'clientCertificatePath' && k.source === 'stored')!, m, async (svc) => {
      const step1 = await svc.update({ smtpHost: 'mx.attacker.example', clientCertificatePath: null, clientSecret: 'attacker~own-secret-0123456789' }, 'api-key:stolen');
      assert.ok(step1.ok, 'moving with a credential of its own is allowed (nothing of ours goes there)');
      const step2 = await svc.update({ clientCertificatePath: m.certPath, clientSecret: null }, 'api-key:stolen');
      assert.ok(!step2.ok, 'the file is not used with a host a request chose');
      if (!step2.ok) assert.match(step2.problems.find((p) => p.key === 'clientCertificatePath')!.message, /SMTP Client Server \(mx\.attacker\.example\)/);
      assert.equal(svc.settings()?.clientCertificatePath, undefined);
      // Back on the cloud's own host, the file may be set again.
      assert.ok((await svc.update({ smtpHost: null, clientSecret: 'attacker~own-secret-0123456789' }, 'admin')).ok);
      assert.ok((await svc.update({ clientCertificatePath: m.certPath, clientSecret: null }, 'admin')).ok);
    });
  });

  it('two interleaved requests cannot do together what neither may alone (updates are serialised)', async () => {
    const kind = KINDS.find((k) => k.key === 'clientSecret' && k.source === 'stored')!;
    for (let round = 0; round < 5; round++) {
      await withSettings(kind, m, async (svc) => {
        // One sets the certificate file (allowed on the cloud's host), the other moves the host
        // with a secret of its own (allowed without a file): never both.
        const [a, b] = await Promise.all([
          svc.update({ clientCertificatePath: m.certPath, clientSecret: null }, 'api-key:stolen'),
          svc.update({ smtpHost: 'mx.attacker.example', clientSecret: 'attacker~own-secret-0123456789' }, 'api-key:stolen'),
        ]);
        assert.ok(!(a.ok && b.ok), 'not both');
        const s = svc.settings();
        assert.ok(!(s?.clientCertificatePath && s.smtpHost === 'mx.attacker.example'), 'the file never goes to the chosen host');
      });
    }
  });

  it('two steps cannot expose a stored secret kept next to a certificate: the unused secret is required too', async () => {
    const kind = KINDS.find((k) => k.key === 'clientCertificatePem' && k.source === 'stored')!;
    await withSettings(kind, m, async (svc) => {
      assert.ok((await svc.update({ clientSecret: m.secret }, 'admin')).ok, 'a secret stored next to the certificate (the certificate wins)');
      const step1 = await svc.update({ smtpHost: 'mx.attacker.example', clientCertificatePem: '-----BEGIN attacker' }, 'api-key:stolen');
      assert.ok(!step1.ok);
      if (!step1.ok) assert.ok(step1.reenter.includes('clientSecret'), 'the stored secret must be entered again or cleared');
    });
  });

  it('a cleared credential needs nothing; unrelated changes need nothing', async () => {
    const kind = KINDS.find((k) => k.key === 'clientSecret' && k.source === 'stored')!;
    await withSettings(kind, m, async (svc) => {
      assert.ok((await svc.update({ connectionTimeoutMs: 5000, authorizedFrom: 'other@contoso.com' }, 'admin')).ok);
      const r = await svc.update({ smtpHost: 'smtp.example.net', clientSecret: null, clientCertificatePem: m.pem }, 'admin');
      assert.ok(r.ok, !r.ok ? r.problems.map((p) => p.message).join('; ') : '');
    });
  });
});
