/**
 * The admin page when other writers keep saving the settings while a change is decided again
 * (SETTINGS_CONFLICT after the service's retries): an error flash on the settings page saying
 * nothing was changed, never a 500 "something went wrong".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SettingsConflictError } from '../../src/service/outbox/store.js';
import { appClient, SECRET, startAdmin, VALID } from './helpers.js';

describe('admin: settings saved at the same time elsewhere', () => {
  it('a change refused after repeated conflicts is an error flash on the settings page; nothing is saved', async () => {
    const ctx = await startAdmin();
    try {
      const client = appClient(ctx);
      assert.equal((await client.login()).status, 303);
      const store = ctx.svc.store as unknown as { saveSettings: (...args: unknown[]) => Promise<unknown> };
      let attempts = 0;
      store.saveSettings = async () => {
        attempts++;
        throw new SettingsConflictError(attempts, attempts + 1);
      };
      const r = await client.post('/admin/settings', { ...VALID, useModernAuth: ['false', 'true'], clientSecret: SECRET });
      assert.equal(r.status, 303, r.text.slice(0, 300));
      assert.ok(attempts > 1, 'decided again before giving up');
      const page = await client.get('/admin/settings');
      assert.match(page.text, /kept changing while this change was being saved/);
      assert.match(page.text, /Nothing was changed/);
      assert.ok(!ctx.logs.text().includes('admin page: unhandled error'), 'not logged as a bug');
      assert.equal(ctx.svc.settings.secrets().length, 0, 'nothing saved');
    } finally {
      await ctx.stop();
    }
  });
});
