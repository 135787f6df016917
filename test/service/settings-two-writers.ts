/**
 * Two writers on one store (two instances on PostgreSQL, or `mailgate credentials` next to a
 * running service on SQLite), interleaved deterministically: writer A decides on settings
 * version N and is held just before its save, writer B saves, then A's save goes on. Without a
 * compare-and-set A overwrote B's change; now A's save is refused and A decides again on the
 * fresh state. Run on SQLite (credential-rotation-two-writers.test.ts) and PostgreSQL
 * (postgres-credential-rotation-two-writers.test.ts), each writer on its own connection.
 *
 * The hold is a Proxy over the real store (every call goes to it): not a mock, only a pause.
 */
import assert from 'node:assert/strict';
import { isMailgateError } from '../../src/core/errors.js';
import type { Store } from '../../src/service/outbox/store.js';
import { CredentialRotationService } from '../../src/service/settings/credential-rotation-service.js';
import { SendersService } from '../../src/service/settings/senders-service.js';
import { SettingsService } from '../../src/service/settings/settings-store.js';

const KEY = Buffer.alloc(32, 9);
const PRIMARY = 'Pr1Q~primary-secret-value-0123456789abcdef';
const FIRST = 'Se1Q~first-secondary-value-0123456789abcd';
const SECOND = 'Se2Q~other-secondary-value-0123456789abcd';
const BASE = { useModernAuth: 'true', clientId: '11111111-2222-3333-4444-555555555555', tenantId: '66666666-7777-8888-9999-000000000000', authorizedFrom: 'sender@contoso.com', clientSecret: PRIMARY };

/** Opens a new, independent connection to the same (initially empty) data. */
export type OpenStore = () => Promise<Store>;

interface Hold {
  reached: Promise<void>;
  release(): void;
}

/** The real store; `holdNextSave` pauses its next saveSettings until released; `beforeEachSave` runs before every save. */
function holdable(store: Store) {
  let next: { reached: () => void; released: Promise<void> } | undefined;
  let before: (() => Promise<void>) | undefined;
  const proxy = new Proxy(store, {
    get(target, prop) {
      if (prop === 'saveSettings') {
        return async (...args: Parameters<Store['saveSettings']>) => {
          const h = next;
          next = undefined;
          if (h) {
            h.reached();
            await h.released;
          }
          if (before) await before();
          return target.saveSettings(...args);
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    store: proxy,
    holdNextSave(): Hold {
      let reached!: () => void;
      let release!: () => void;
      const r = new Promise<void>((res) => (reached = res));
      next = { reached, released: new Promise<void>((res) => (release = res)) };
      return { reached: r, release };
    },
    beforeEachSave(fn: (() => Promise<void>) | undefined): void {
      before = fn;
    },
  };
}

async function processOn(store: Store) {
  const settings = await SettingsService.open({ store, masterKey: KEY, env: {} });
  const senders = await SendersService.open({ store, settings, masterKey: KEY, env: {} });
  const rotation = await CredentialRotationService.open({ settings, senders, store, masterKey: KEY, testToken: async () => undefined, diagnose: () => ({ summary: 'x', fixes: [] }) });
  return { settings, senders, rotation };
}

/** Two writers A (holdable) and B on their own connections, the Email Settings saved. */
async function twoWriters(open: OpenStore, run: (w: { a: Awaited<ReturnType<typeof processOn>>; b: Awaited<ReturnType<typeof processOn>>; hold: ReturnType<typeof holdable>; fresh: () => Promise<Awaited<ReturnType<typeof processOn>>> }) => Promise<void>): Promise<void> {
  const stores: Store[] = [];
  const opened = async () => {
    const s = await open();
    stores.push(s);
    return s;
  };
  try {
    const storeA = await opened();
    const setup = await SettingsService.open({ store: storeA, masterKey: KEY, env: {} });
    assert.equal((await setup.update(BASE, 'test')).ok, true);
    const hold = holdable(storeA);
    const a = await processOn(hold.store);
    const b = await processOn(await opened());
    await run({ a, b, hold, fresh: async () => processOn(await opened()) });
  } finally {
    for (const s of stores.reverse()) await s.close();
  }
}

export const TWO_WRITER_CASES: { name: string; run: (open: OpenStore) => Promise<void> }[] = [
  {
    name: 'settings: a destination move decided before another writer added a secondary is decided again and refused (the secondary must be re-entered)',
    run: (open) => twoWriters(open, async ({ a, b, hold, fresh }) => {
      const h = hold.holdNextSave();
      const moving = a.settings.update({ authorityHost: 'https://login.other.example', clientSecret: PRIMARY }, 'api-key:a');
      await h.reached; // A checked the move against settings without a secondary
      await b.rotation.addSecondary('default', { clientSecret: FIRST }, 'cli');
      h.release();
      const r = await moving;
      assert.equal(r.ok, false, 'decided again with the secondary in place');
      assert.ok(!r.ok && r.problems.some((p) => p.key === 'clientSecretSecondary'), JSON.stringify(!r.ok && r.problems));
      const raw = (await fresh()).settings.effectiveRaw();
      assert.equal(raw.authorityHost, undefined, 'the authority host did not move');
      assert.equal(raw.clientSecretSecondary, FIRST, 'the other writer\'s secondary is kept');
    }),
  },
  {
    name: 'rotation: an add decided on a stale state does not replace the tested secondary another writer added meanwhile',
    run: (open) => twoWriters(open, async ({ a, b, hold, fresh }) => {
      const h = hold.holdNextSave();
      const adding = a.rotation.addSecondary('default', { clientSecret: FIRST }, 'api-key:a');
      await h.reached; // A decided "no secondary yet: add is allowed"
      await b.rotation.addSecondary('default', { clientSecret: SECOND }, 'cli');
      assert.equal((await b.rotation.test('default', 'secondary', 'cli')).ok, true);
      h.release();
      await assert.rejects(adding, (e: unknown) => isMailgateError(e) && e.code === 'ROTATION_STEP_INVALID', 'A\'s add is refused on the fresh state');
      const v = (await fresh()).rotation.get('default')!;
      assert.equal(v.secondary?.hint, SECOND.slice(0, 3), 'the tested secondary is still the one in place');
      assert.equal(v.secondary?.lastTest?.ok, true);
    }),
  },
  {
    name: 'rotation: two tests recorded at once both stay in the metadata document',
    run: (open) => twoWriters(open, async ({ a, b, hold, fresh }) => {
      await b.rotation.addSecondary('default', { clientSecret: FIRST }, 'cli');
      const h = hold.holdNextSave();
      const testing = a.rotation.test('default', 'primary', 'api-key:a');
      await h.reached; // A's metadata document is built, without B's result
      assert.equal((await b.rotation.test('default', 'secondary', 'cli')).ok, true);
      h.release();
      assert.equal((await testing).ok, true);
      const v = (await fresh()).rotation.get('default')!;
      assert.equal(v.primary?.lastTest?.ok, true, 'A\'s test is recorded');
      assert.equal(v.secondary?.lastTest?.ok, true, 'B\'s test is still recorded');
    }),
  },
  {
    name: 'senders: two senders saved at once are both kept',
    run: (open) => twoWriters(open, async ({ a, b, hold, fresh }) => {
      const h = hold.holdNextSave();
      const putting = a.senders.putSender({ address: 'support@contoso.com', signInAs: 'sender@contoso.com', credential: 'default' }, 'api-key:a', { create: true });
      await h.reached;
      assert.deepEqual(await b.senders.putSender({ address: 'billing@contoso.com', signInAs: 'sender@contoso.com', credential: 'default' }, 'cli', { create: true }), { ok: true });
      h.release();
      assert.deepEqual(await putting, { ok: true });
      const addresses = (await fresh()).senders.list().map((s) => s.address).sort();
      assert.deepEqual(addresses, ['billing@contoso.com', 'sender@contoso.com', 'support@contoso.com']);
    }),
  },
  {
    name: 'conflicts that persist end with SETTINGS_CONFLICT (409) and nothing of the change saved',
    run: (open) => twoWriters(open, async ({ a, b, hold, fresh }) => {
      let n = 0;
      // Another writer saves just before each of A's saves: every attempt finds a newer version.
      hold.beforeEachSave(async () => {
        assert.equal((await b.settings.update({ connectionTimeoutMs: String(10_000 + ++n) }, 'cli')).ok, true);
      });
      await assert.rejects(a.settings.update({ authorizedFrom: 'other@contoso.com' }, 'api-key:a'), (e: unknown) => isMailgateError(e) && e.code === 'SETTINGS_CONFLICT' && e.phase === 'settings');
      hold.beforeEachSave(undefined);
      assert.ok(n >= 2, 'decided again after a conflict');
      const raw = (await fresh()).settings.effectiveRaw();
      assert.equal(raw.authorizedFrom, BASE.authorizedFrom, 'nothing of the refused change was saved');
      // Without the other writer, the same change goes through.
      assert.equal((await a.settings.update({ authorizedFrom: 'other@contoso.com' }, 'api-key:a')).ok, true);
    }),
  },
];
