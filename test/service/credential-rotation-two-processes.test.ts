/**
 * The rotation steps taken by two processes on one store (the service and `mailgate
 * credentials`, or two instances on PostgreSQL; here two services on one SQLite store): each
 * step must decide on the state in the store, not on what its process last loaded (review of
 * round 6: a stale process replaced a tested secondary by an untested one, and lost the other
 * process's test results).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMailgateError } from '../../src/core/errors.js';
import { CredentialRotationService } from '../../src/service/settings/credential-rotation-service.js';
import { SendersService } from '../../src/service/settings/senders-service.js';
import { SettingsService } from '../../src/service/settings/settings-store.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { tempDir } from './helpers.js';

const KEY = Buffer.alloc(32, 9);
const PRIMARY = 'Pr1Q~primary-secret-value-0123456789abcdef';
const FIRST = 'Se1Q~first-secondary-value-0123456789abcd';
const SECOND = 'Se2Q~other-secondary-value-0123456789abcd';

async function process(store: ReturnType<typeof openSqliteStore>) {
  const settings = await SettingsService.open({ store, masterKey: KEY, env: {} });
  const senders = await SendersService.open({ store, settings, masterKey: KEY, env: {} });
  return CredentialRotationService.open({ settings, senders, store, masterKey: KEY, testToken: async () => undefined, diagnose: () => ({ summary: 'x', fixes: [] }) });
}

describe('credential rotation: two processes on one store', () => {
  it('a step decides on the stored state, not on a stale copy', async () => {
    const t = tempDir('mailgate-rot2-');
    const store = openSqliteStore(t.dir);
    try {
      const settings = await SettingsService.open({ store, masterKey: KEY, env: {} });
      const r = await settings.update({ useModernAuth: 'true', clientId: '11111111-2222-3333-4444-555555555555', tenantId: '66666666-7777-8888-9999-000000000000', authorizedFrom: 'sender@contoso.com', clientSecret: PRIMARY }, 'test');
      assert.equal(r.ok, true);
      const a = await process(store); // the service
      const b = await process(store); // `mailgate credentials` started earlier, or another instance
      await a.addSecondary('default', { clientSecret: FIRST }, 'admin');
      assert.equal((await a.test('default', 'secondary', 'admin')).ok, true);
      assert.equal(a.get('default')?.secondary?.lastTest?.ok, true);
      // B has not polled yet: it must still see the tested secondary and refuse to overwrite it.
      await assert.rejects(b.addSecondary('default', { clientSecret: SECOND }, 'cli'), (e: unknown) => isMailgateError(e) && e.code === 'ROTATION_STEP_INVALID');
      // A test taken by B must not drop A's metadata (one document for every credential).
      assert.equal((await b.test('default', 'primary', 'cli')).ok, true);
      const fresh = await process(store);
      const v = fresh.get('default')!;
      assert.equal(v.secondary?.lastTest?.ok, true, 'the secondary\'s passed test is still recorded');
      assert.equal(v.primary?.lastTest?.ok, true);
      assert.equal(v.secondary?.hint, FIRST.slice(0, 3), 'the tested secondary is still the one in place');
    } finally {
      await store.close();
      t.remove();
    }
  });
});
