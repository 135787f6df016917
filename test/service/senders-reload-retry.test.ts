/**
 * The senders follow a settings change even when their own read of the store fails once (the
 * database went away between the settings poll seeing the new version and the senders' reload).
 * Before, that reload's error was absorbed and nothing asked again until the next settings
 * change: a new default sender stayed unseen (found by a review, reproduced 15 s after the
 * database came back). Two processes on one SQLite data dir, each on its own connection: B
 * changes the Authorized from Address; A's senders read fails once, the retry (1 s) sees it.
 *
 * The failure is a Proxy over the real store (every other call goes to it), not a mock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { StoreUnavailableError, type Store } from '../../src/service/outbox/store.js';
import { SendersService } from '../../src/service/settings/senders-service.js';
import { SettingsService } from '../../src/service/settings/settings-store.js';
import { tempDir, waitFor } from './helpers.js';

const KEY = Buffer.alloc(32, 7);
const BASE = { useModernAuth: 'true', clientId: '11111111-2222-3333-4444-555555555555', tenantId: '66666666-7777-8888-9999-000000000000', authorizedFrom: 'old@contoso.com', clientSecret: 'Pr1Q~primary-secret-value-0123456789abcdef' };

/** The real store; after `failAfter(n)`, the (n+1)th next getSettings throws as an outage would. */
function flaky(store: Store) {
  let plan: { skip: number } | undefined;
  const proxy = new Proxy(store, {
    get(target, prop) {
      if (prop === 'getSettings') {
        return async () => {
          if (plan && plan.skip-- === 0) {
            plan = undefined;
            throw new StoreUnavailableError('the PostgreSQL database cannot be reached: connection terminated');
          }
          return target.getSettings();
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store: proxy, failAfter: (n: number) => void (plan = { skip: n }) };
}

describe('senders reload after a failed read', () => {
  it('a reload the settings asked for that fails is tried again until the senders see the change', async () => {
    const t = tempDir('mailgate-senders-retry-');
    const stores: Store[] = [];
    const senders: SendersService[] = [];
    try {
      const storeB = await openSqliteStore(t.dir);
      stores.push(storeB);
      const settingsB = await SettingsService.open({ store: storeB, masterKey: KEY, env: {} });
      await settingsB.update(BASE, 'test');

      const storeA = await openSqliteStore(t.dir);
      stores.push(storeA);
      const f = flaky(storeA);
      const settingsA = await SettingsService.open({ store: f.store, masterKey: KEY, env: {} });
      const sendersA = await SendersService.open({ store: f.store, settings: settingsA, masterKey: KEY, env: {} });
      senders.push(sendersA);
      assert.equal(sendersA.defaultSender()?.address, 'old@contoso.com');

      await settingsB.update({ authorizedFrom: 'new@contoso.com' }, 'test');
      // A's settings poll reads the new settings (1st getSettings); its senders' read (2nd) fails.
      f.failAfter(1);
      assert.equal(await settingsA.refresh(), true, 'A sees the new settings version');
      assert.equal(settingsA.settings()?.authorizedFrom, 'new@contoso.com');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(sendersA.defaultSender()?.address, 'old@contoso.com', 'the failed reload left the old senders for now');
      await waitFor(() => sendersA.defaultSender()?.address === 'new@contoso.com', 5_000, 'the senders retried and see the new default sender');
    } finally {
      for (const s of senders) s.close();
      for (const s of stores) await s.close();
      t.remove();
    }
  });
});
