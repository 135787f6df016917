/**
 * Removing the secondary while it is the credential in use (review of round 6): after Entra
 * refused the primary, the token provider runs on the secondary; removing it then would leave
 * only the refused primary, the outage the rotation exists to prevent. The step is refused,
 * saying to make the secondary primary first; after promote the old (refused) one is removed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMailgateError } from '../../src/core/errors.js';
import { CredentialRotationService } from '../../src/service/settings/credential-rotation-service.js';
import { SendersService } from '../../src/service/settings/senders-service.js';
import { SettingsService } from '../../src/service/settings/settings-store.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { tempDir } from './helpers.js';

const KEY = Buffer.alloc(32, 7);

describe('credential rotation: the secondary in use after a failover', () => {
  it('is not removed (promote first); after promote the refused old one is', async () => {
    const t = tempDir('mailgate-rot-inuse-');
    const store = openSqliteStore(t.dir);
    try {
      const settings = await SettingsService.open({ store, masterKey: KEY, env: {} });
      assert.equal((await settings.update({ useModernAuth: 'true', clientId: '11111111-2222-3333-4444-555555555555', tenantId: '66666666-7777-8888-9999-000000000000', authorizedFrom: 'sender@contoso.com', clientSecret: 'Pr1Q~primary-secret-value-0123456789abcdef' }, 'test')).ok, true);
      const senders = await SendersService.open({ store, settings, masterKey: KEY, env: {} });
      const rotation = await CredentialRotationService.open({ settings, senders, store, masterKey: KEY, testToken: async () => undefined, diagnose: () => ({ summary: '', fixes: [] }) });
      await rotation.addSecondary('default', { clientSecret: 'Se1Q~secondary-secret-value-0123456789abc' }, 'admin');
      // The token provider built from these settings reports: Entra refused the primary.
      const r = rotation.recordFailover(settings.settings()!, { code: 'AADSTS7000222', at: Date.now() });
      assert.equal(r?.name, 'default');
      assert.equal(rotation.get('default')?.active, 'secondary');
      await assert.rejects(rotation.removeSecondary('default', 'admin'), (e: unknown) => isMailgateError(e) && e.code === 'ROTATION_STEP_INVALID' && /in use/.test(e.message) && /primary/.test(e.message));
      assert.ok(rotation.get('default')?.secondary, 'the secondary is still there');
      await rotation.promote('default', 'admin', { force: true });
      const after = await rotation.removeSecondary('default', 'admin');
      assert.equal(after.secondary, null, 'the refused old credential is removed once it is the secondary');
    } finally {
      await store.close();
      t.remove();
    }
  });
});
