/**
 * Relay clients (service/access/relay-clients.ts) against a real SQLite store: creation rules
 * (name, addresses, CIDRs, --no-auth needs a private --allow-ip unless forced), the password
 * shown once and stored only as a scrypt verifier, authentication (and its source-address
 * rule), the --no-auth address match, revocation here at once and from another connection
 * (another process) within the cache lifetime, and the sender rule.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  RELAY_CLIENT_CACHE_TTL_MS,
  RelayClientError,
  authenticateRelayClient,
  createRelayClient,
  isPublicCidr,
  isRelayClientActive,
  listRelayClients,
  relayClientForAddress,
  relayClientMaySendAs,
  relayRewriteAddress,
  revokeRelayClient,
} from '../../src/service/access/relay-clients.js';
import { openSqliteStore, type SqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { tempDir } from '../service/helpers.js';

const ACTOR = { now: 1_700_000_000_000, actor: 'test' };

describe('relay clients', () => {
  const tmp = tempDir('mailgate-relay-clients-');
  let store: SqliteStore;
  before(() => {
    store = openSqliteStore(tmp.dir);
  });
  after(async () => {
    await store.close();
    tmp.remove();
  });

  it('creates a client with a generated username and a password shown once, stored only as a verifier', async () => {
    const c = await createRelayClient(store, { name: 'erp', allowFrom: ['ERP@Contoso.com'] }, ACTOR);
    assert.match(c.username, /^relay-erp-[0-9a-f]{8}$/);
    assert.match(c.password!, /^[A-Za-z0-9]{24}$/);
    assert.deepEqual([c.allowFrom, c.allowIp, c.noAuth, c.fromPolicy], [['erp@contoso.com'], [], false, 'reject']);
    assert.equal(c.client.name, 'erp');
    assert.equal(c.client.username, c.username);
    assert.equal(JSON.stringify(await listRelayClients(store)).includes(c.password!), false);
    assert.ok(!('passwordHash' in c.client));
    await store.close();
    // Binary-safe grep of the whole data dir: the password never reaches a file at rest.
    for (const f of readdirSync(tmp.dir)) assert.equal(readFileSync(join(tmp.dir, f)).includes(Buffer.from(c.password!)), false, f);
    store = openSqliteStore(tmp.dir);
    const audit = await store.listAudit(5);
    assert.equal(audit[0]!.action, 'relay-client.create');
    assert.equal(JSON.stringify(audit).includes(c.password!), false);
  });

  it('authenticates with the right password only, and only from its networks when it lists some', async () => {
    const c = await createRelayClient(store, { name: 'mfp', allowIp: ['192.168.7.0/24'] }, ACTOR);
    assert.equal((await authenticateRelayClient(store, c.username, c.password!, { remoteAddress: '192.168.7.9' }))?.name, 'mfp');
    assert.equal((await authenticateRelayClient(store, c.username, c.password!, { remoteAddress: '::ffff:192.168.7.9' }))?.name, 'mfp');
    assert.equal(await authenticateRelayClient(store, c.username, c.password! + 'x', { remoteAddress: '192.168.7.9' }), undefined);
    assert.equal(await authenticateRelayClient(store, c.username, c.password!, { remoteAddress: '192.168.8.9' }), undefined);
    assert.equal(await authenticateRelayClient(store, c.username, c.password!), undefined);
    assert.equal(await authenticateRelayClient(store, 'relay-nobody-00000000', c.password!), undefined);
    const found = await authenticateRelayClient(store, c.username, c.password!, { remoteAddress: '192.168.7.9' });
    assert.ok(found && !('passwordHash' in found), 'the verifier does not leave the module');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(typeof (await listRelayClients(store)).find((x) => x.name === 'mfp')!.lastUsedAt, 'number', 'last used recorded');
  });

  it('refuses invalid input and --no-auth without a private --allow-ip (unless forced), saying why', async () => {
    const code = async (input: Parameters<typeof createRelayClient>[1]) => {
      try {
        await createRelayClient(store, input, ACTOR);
        return 'created';
      } catch (e) {
        assert.ok(e instanceof RelayClientError);
        return e.code;
      }
    };
    assert.equal(await code({ name: 'bad name' }), 'invalid-name');
    assert.equal(await code({ name: 'x', allowFrom: ['not-an-address'] }), 'invalid-address');
    assert.equal(await code({ name: 'x', allowFrom: ['a@b.com\r\nBcc: c@d.com'] }), 'invalid-address');
    assert.equal(await code({ name: 'x', allowIp: ['300.1.1.1'] }), 'invalid-cidr');
    assert.equal(await code({ name: 'x', allowIp: ['10.0.0.0/33'] }), 'invalid-cidr');
    assert.equal(await code({ name: 'x', fromPolicy: 'maybe' as never }), 'invalid-policy');
    assert.equal(await code({ name: 'x', noAuth: true }), 'no-auth-needs-ip');
    assert.equal(await code({ name: 'x', noAuth: true, allowIp: ['0.0.0.0/0'] }), 'public-cidr');
    assert.equal(await code({ name: 'x', noAuth: true, allowIp: ['10.0.0.0/8', '8.8.8.8'] }), 'public-cidr');
    assert.equal(await code({ name: 'x', noAuth: true, allowIp: ['10.0.0.0/7'] }), 'public-cidr', 'wider than the private range');
    try {
      await createRelayClient(store, { name: 'x', noAuth: true, allowIp: ['203.0.113.0/24'] }, ACTOR);
    } catch (e) {
      assert.match((e as Error).message, /open relay/);
      assert.match((e as Error).message, /--force/);
    }
    assert.equal(await code({ name: 'forced', noAuth: true, allowIp: ['203.0.113.5'], force: true }), 'created');
    assert.equal(await code({ name: 'forced' }), 'exists');
    assert.equal(isPublicCidr('192.168.1.0/24'), false);
    assert.equal(isPublicCidr('fd00::/8'), false);
    assert.equal(isPublicCidr('2001:db8::/32'), true);
    assert.equal(isPublicCidr('172.32.0.1'), true);
  });

  it('matches a --no-auth client by source address, and never lets it authenticate with a password', async () => {
    const c = await createRelayClient(store, { name: 'scanner', noAuth: true, allowIp: ['10.9.0.0/16', 'fd00:9::/32'], fromPolicy: 'rewrite' }, ACTOR);
    assert.equal(c.password, null);
    assert.equal((await relayClientForAddress(store, '10.9.3.4'))?.name, 'scanner');
    assert.equal((await relayClientForAddress(store, '::ffff:10.9.3.4'))?.name, 'scanner');
    assert.equal((await relayClientForAddress(store, 'fd00:9::1'))?.fromPolicy, 'rewrite');
    assert.equal(await relayClientForAddress(store, '10.10.0.1'), undefined);
    assert.equal(await relayClientForAddress(store, '127.0.0.1'), undefined);
    assert.equal(await authenticateRelayClient(store, c.username, '', { remoteAddress: '10.9.3.4' }), undefined);
  });

  it('a revocation here takes effect at once; one from another process within the cache lifetime', async () => {
    const c = await createRelayClient(store, { name: 'cron' }, ACTOR);
    const found = await authenticateRelayClient(store, c.username, c.password!);
    assert.ok(found);
    assert.equal(await isRelayClientActive(store, found.id), true);
    assert.equal(await revokeRelayClient(store, 'cron', ACTOR), true);
    assert.equal(await revokeRelayClient(store, 'cron', ACTOR), false);
    assert.equal(await authenticateRelayClient(store, c.username, c.password!), undefined);
    assert.equal(await isRelayClientActive(store, found.id), false);

    // Another process: a second connection to the same database creates and revokes.
    const other = openSqliteStore(tmp.dir);
    try {
      assert.equal(await isRelayClientActive(store, 'none'), false); // fills this store's snapshot
      const d = await createRelayClient(other, { name: 'cli-made' }, ACTOR);
      const deadline = performance.now() + RELAY_CLIENT_CACHE_TTL_MS + 1_000;
      let seen;
      while (!(seen = await authenticateRelayClient(store, d.username, d.password!)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal(seen?.name, 'cli-made', 'a client created by another process works within the bound');
      assert.equal(await revokeRelayClient(other, 'cli-made', ACTOR), true);
      let active = true;
      while ((active = await isRelayClientActive(store, seen.id)) && performance.now() < deadline + 2_000) await new Promise((r) => setTimeout(r, 100));
      assert.equal(active, false, 'a revocation by another process reaches this one within the bound');
      assert.ok(RELAY_CLIENT_CACHE_TTL_MS <= 2_000);
    } finally {
      await other.close();
    }
  });

  it('sender rule: an address Mailgate may send as and, when the client lists some, one of them', () => {
    const sendable = ['Sender@Contoso.com', 'alerts@contoso.com'];
    assert.equal(relayClientMaySendAs({ allowFrom: [] }, 'sender@contoso.com', sendable), true);
    assert.equal(relayClientMaySendAs({ allowFrom: [] }, 'ceo@contoso.com', sendable), false);
    assert.equal(relayClientMaySendAs({ allowFrom: ['alerts@contoso.com'] }, 'ALERTS@contoso.com', sendable), true);
    assert.equal(relayClientMaySendAs({ allowFrom: ['alerts@contoso.com'] }, 'sender@contoso.com', sendable), false);
    assert.equal(relayClientMaySendAs({ allowFrom: ['other@contoso.com'] }, 'other@contoso.com', sendable), false);
    assert.equal(relayRewriteAddress({ allowFrom: ['alerts@contoso.com'] }, sendable), 'alerts@contoso.com');
    assert.equal(relayRewriteAddress({ allowFrom: [] }, sendable), 'sender@contoso.com');
  });
});
