/**
 * The admin page's "Relay clients" tab (issue 14), through the real admin app with sessions and
 * CSRF: create shows the generated password once (never again, nowhere at rest), the rules'
 * errors appear next to their field, revoking asks for confirmation first, forms without the
 * CSRF token change nothing, and the list shows last use and messages sent/failed.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { authenticateRelayClient, listRelayClients } from '../../src/service/access/relay-clients.js';
import { appClient, startAdmin, type AdminClient, type AdminCtx } from './helpers.js';

function filesHolding(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (readFileSync(p).includes(Buffer.from(needle))) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

describe('admin page: Relay clients', () => {
  let ctx: AdminCtx;
  let client: AdminClient;
  before(async () => {
    ctx = await startAdmin();
    client = appClient(ctx);
    assert.equal((await client.login()).status, 303);
  });
  after(async () => {
    await ctx.stop();
  });

  it('is a tab of the navigation and starts empty', async () => {
    const r = await client.get('/admin/relay-clients');
    assert.equal(r.status, 200);
    assert.match(r.text, /<a[^>]*href="\/admin\/relay-clients"[^>]*aria-current="page"[^>]*>Relay clients<\/a>|<a[^>]*aria-current="page"[^>]*href="\/admin\/relay-clients"[^>]*>Relay clients<\/a>/);
    assert.match(r.text, /No active relay clients\./);
    const other = await client.get('/admin/api-keys');
    assert.match(other.text, /href="\/admin\/relay-clients"/);
  });

  it('create shows the username and password once; they work; the list never shows the password again', async () => {
    const r = await client.post('/admin/relay-clients', { name: 'scanner-3rd-floor', allowFrom: 'scanner@contoso.com\ncopier@contoso.com', allowIp: '192.168.10.0/24', fromPolicy: 'rewrite' });
    assert.equal(r.status, 201);
    const username = /<pre id="new-relay-username"><code>([^<]+)<\/code><\/pre>/.exec(r.text)?.[1];
    const password = /<pre id="new-relay-password"><code>([^<]+)<\/code><\/pre>/.exec(r.text)?.[1];
    assert.ok(username && password, 'username and password shown');
    assert.match(r.text, /shown only this once/);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    // The credentials work (from the allowed network only).
    const ok = await authenticateRelayClient(ctx.svc.store, username, password, { remoteAddress: '192.168.10.7' });
    assert.equal(ok?.name, 'scanner-3rd-floor');
    assert.deepEqual(ok?.allowFrom, ['scanner@contoso.com', 'copier@contoso.com']);
    assert.equal(ok?.fromPolicy, 'rewrite');
    const list = await client.get('/admin/relay-clients');
    assert.ok(!list.text.includes(password), 'never shown again');
    const row = /<tr data-relay-client="scanner-3rd-floor">[\s\S]*?<\/tr>/.exec(list.text)?.[0] ?? '';
    assert.match(row, new RegExp(`<code>${username}</code>`));
    assert.match(row, /scanner@contoso\.com<br>copier@contoso\.com/);
    assert.match(row, /<code>192\.168\.10\.0\/24<\/code>/);
    assert.match(row, /<td data-label="Sent" data-sent>0<\/td>/);
    assert.match(row, /<td data-label="Failed" data-failed>0<\/td>/);
    for (const h of ['Sent', 'Failed', 'Last used', 'Action']) assert.match(list.text, new RegExp(`<th scope="col">${h}</th>`));
    assert.deepEqual(filesHolding(ctx.dir, password), [], 'the password is in no file of the data dir');
    assert.ok(!ctx.logs.lines.some((l) => l.includes(password)), 'nor in the log');
  });

  it('a no-auth client shows no password; the rules\' errors are shown at their field (422)', async () => {
    const needsIp = await client.post('/admin/relay-clients', { name: 'mfp', noAuth: 'yes' });
    assert.equal(needsIp.status, 422);
    assert.match(needsIp.text, /id="relay-allow-ip-error"[^>]*>[\s\S]*needs at least one --allow-ip/);
    assert.match(needsIp.text, /value="mfp"/, 'the form keeps what was typed');
    const open = await client.post('/admin/relay-clients', { name: 'mfp', noAuth: 'yes', allowIp: '198.51.100.0/24' });
    assert.equal(open.status, 422);
    assert.match(open.text, /public address range 198\.51\.100\.0\/24[\s\S]*--force/);
    const badFrom = await client.post('/admin/relay-clients', { name: 'mfp', allowFrom: 'not an address' });
    assert.equal(badFrom.status, 422);
    assert.match(badFrom.text, /id="relay-allow-from-error"/);
    const badName = await client.post('/admin/relay-clients', { name: 'bad name!' });
    assert.equal(badName.status, 422);
    assert.match(badName.text, /id="relay-name-error"/);
    const empty = await client.post('/admin/relay-clients', { name: '' });
    assert.equal(empty.status, 422);
    const ok = await client.post('/admin/relay-clients', { name: 'mfp', noAuth: 'yes', allowIp: '192.168.1.20' });
    assert.equal(ok.status, 201);
    assert.match(ok.text, /recognised by its address only \(192\.168\.1\.20\/32\)/);
    assert.doesNotMatch(ok.text, /new-relay-password/);
    const dup = await client.post('/admin/relay-clients', { name: 'mfp', allowIp: '192.168.1.21' });
    assert.equal(dup.status, 422);
    assert.match(dup.text, /exists already/);
  });

  it('escapes what it shows', async () => {
    const r = await client.post('/admin/relay-clients', { name: '<script>x</script>' });
    assert.equal(r.status, 422);
    assert.ok(!r.text.includes('<script>x</script>'));
    assert.match(r.text, /&lt;script&gt;/);
  });

  it('revoke asks first; only the confirmation revokes; then the credentials stop working', async () => {
    const created = await client.post('/admin/relay-clients', { name: 'erp' });
    const username = /<pre id="new-relay-username"><code>([^<]+)</.exec(created.text)![1]!;
    const password = /<pre id="new-relay-password"><code>([^<]+)</.exec(created.text)![1]!;
    const ask = await client.post('/admin/relay-clients/revoke', { name: 'erp' });
    assert.equal(ask.status, 200);
    assert.match(ask.text, /Revoke the relay client "erp"\?/);
    assert.match(ask.text, /<input type="hidden" name="confirmed" value="yes">/);
    assert.match(ask.text, /Messages sent<\/dt><dd>0/);
    assert.ok(await authenticateRelayClient(ctx.svc.store, username, password), 'not revoked before the confirmation');
    const done = await client.post('/admin/relay-clients/revoke', { name: 'erp', confirmed: 'yes' });
    assert.equal(done.status, 303);
    const after = await client.get(done.location!);
    assert.match(after.text, /Relay client &quot;erp&quot; revoked\./);
    assert.match(after.text, /Revoked relay clients \(1\)/);
    assert.equal(await authenticateRelayClient(ctx.svc.store, username, password), undefined);
    const unknown = await client.post('/admin/relay-clients/revoke', { name: 'erp', confirmed: 'yes' });
    assert.equal(unknown.status, 303);
    assert.match((await client.get(unknown.location!)).text, /No active relay client has that name\./);
    const audit = await ctx.svc.store.listAudit(20);
    assert.ok(audit.some((e) => e.action === 'relay-client.revoke' && e.actor === 'admin' && e.detail.name === 'erp'));
  });

  it('refuses both forms without the CSRF token (403) and changes nothing', async () => {
    const before = (await listRelayClients(ctx.svc.store)).length;
    for (const [path, form] of [['/admin/relay-clients', { name: 'csrf-test' }], ['/admin/relay-clients/revoke', { name: 'mfp', confirmed: 'yes' }]] as const) {
      assert.equal((await client.post(path, form, { csrf: false })).status, 403, path);
      assert.equal((await client.post(path, form, { csrf: 'A'.repeat(43) })).status, 403, `${path} with a forged token`);
    }
    const clients = await listRelayClients(ctx.svc.store);
    assert.equal(clients.length, before);
    assert.equal(clients.find((x) => x.name === 'mfp')?.revokedAt, undefined);
  });

  it('is behind the sign-in', async () => {
    const anonymous = appClient(ctx);
    const r = await anonymous.get('/admin/relay-clients');
    assert.equal(r.status, 303);
    assert.match(r.location ?? '', /\/admin\/login/);
  });
});
