/**
 * Managing relay clients outside the SMTP dialogue: `mailgate relay-client create|list|revoke`
 * (a child process on a data dir, `--json` shapes as in issue 14) and /api/v1/relay-clients
 * (admin scope). The generated password is shown once and is nowhere at rest (binary-safe grep
 * of every file of the data dir) nor in any later answer.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startService, type RunningService } from '../../src/app/service.js';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { runCli, singleJson } from '../helpers/cli.js';
import { FakeMailer, LineCapture, tempDir } from '../service/helpers.js';

/** Every file under dir holding `needle` (bytes, so SQLite pages and the WAL count). */
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

describe('mailgate relay-client (CLI)', () => {
  const t = tempDir('mg-relay-cli-');
  const env = { MAILGATE_DATA_DIR: t.dir };
  after(() => t.remove());

  it('create --json prints exactly {name, username, password, allowFrom, allowIp}; the password is not at rest', async () => {
    const r = await runCli(['relay-client', 'create', 'scanner-2f', '--allow-from', 'Scanner@Contoso.com', '--allow-from', 'copier@contoso.com', '--allow-ip', '192.168.1.0/24', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const j = singleJson(r.stdout);
    assert.deepEqual(Object.keys(j), ['name', 'username', 'password', 'allowFrom', 'allowIp']);
    assert.equal(j.name, 'scanner-2f');
    assert.match(j.username, /^relay-scanner-2f-/);
    assert.match(j.password, /^[A-Za-z0-9]{20,}$/);
    assert.deepEqual(j.allowFrom, ['scanner@contoso.com', 'copier@contoso.com']);
    assert.deepEqual(j.allowIp, ['192.168.1.0/24']);
    assert.deepEqual(filesHolding(t.dir, j.password), [], 'the password is in no file of the data dir');

    const list = await runCli(['relay-client', 'list', '--json'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.ok(!list.stdout.includes(j.password));
    const [c] = singleJson(`{"a":${list.stdout.trim()}}`).a as Record<string, unknown>[];
    assert.equal(c.name, 'scanner-2f');
    assert.equal(c.username, j.username);
    assert.equal(c.noAuth, false);
    assert.equal(c.revokedAt, null);
    assert.equal(c.messagesSent, 0);
    assert.equal(c.messagesFailed, 0);
    assert.equal(c.lastUsedAt, null);
    assert.ok(!('password' in c) && !('passwordHash' in c));
  });

  it('the human create output shows the username and password once; list shows neither password nor verifier', async () => {
    const r = await runCli(['relay-client', 'create', 'erp'], env);
    assert.equal(r.code, 0, r.stderr);
    const password = /password: (\S+)/.exec(r.stdout)?.[1];
    assert.ok(password, r.stdout);
    assert.match(r.stdout, /username: relay-erp-/);
    assert.match(r.stdout, /shown only now/);
    const list = await runCli(['relay-client', 'list'], env);
    assert.match(list.stdout, /^NAME\s+USERNAME/m);
    assert.match(list.stdout, /^erp\s+relay-erp-\S+\s+password/m);
    assert.ok(!list.stdout.includes(password) && !list.stdout.includes('scrypt$'));
  });

  it('--no-auth needs --allow-ip, refuses a public network unless --force, and prints password null', async () => {
    const noIp = await runCli(['relay-client', 'create', 'mfp', '--no-auth'], env);
    assert.equal(noIp.code, 1);
    assert.match(noIp.stderr, /needs at least one --allow-ip/);
    const open = await runCli(['relay-client', 'create', 'mfp', '--no-auth', '--allow-ip', '203.0.113.0/24'], env);
    assert.equal(open.code, 1);
    assert.match(open.stderr, /Refusing --no-auth for the public address range 203\.0\.113\.0\/24.*open relay/);
    const ok = await runCli(['relay-client', 'create', 'mfp', '--no-auth', '--allow-ip', '192.168.1.20', '--json'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(singleJson(ok.stdout), { name: 'mfp', username: singleJson(ok.stdout).username, password: null, allowFrom: [], allowIp: ['192.168.1.20/32'] });
    const forced = await runCli(['relay-client', 'create', 'branch-mfp', '--no-auth', '--allow-ip', '203.0.113.7', '--force', '--json'], env);
    assert.equal(forced.code, 0, forced.stderr);
  });

  it('--from-policy takes reject or rewrite only; a taken name is refused', async () => {
    const bad = await runCli(['relay-client', 'create', 'x1', '--from-policy', 'accept'], env);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Allowed choices are reject, rewrite/);
    const rewrite = await runCli(['relay-client', 'create', 'x1', '--from-policy', 'rewrite', '--allow-from', 'scanner@contoso.com'], env);
    assert.equal(rewrite.code, 0, rewrite.stderr);
    const again = await runCli(['relay-client', 'create', 'x1'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists already; revoke it first/);
    const list = JSON.parse((await runCli(['relay-client', 'list', '--json'], env)).stdout) as { name: string; fromPolicy: string }[];
    assert.equal(list.find((c) => c.name === 'x1')?.fromPolicy, 'rewrite');
  });

  it('revoke marks the client revoked; a second revoke (or an unknown name) fails', async () => {
    const r = await runCli(['relay-client', 'revoke', 'erp'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Revoked relay client "erp"/);
    const again = await runCli(['relay-client', 'revoke', 'erp'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /No active relay client is named "erp"/);
    const list = JSON.parse((await runCli(['relay-client', 'list', '--json'], env)).stdout) as { name: string; revokedAt: string | null }[];
    assert.match(list.find((c) => c.name === 'erp')?.revokedAt ?? '', /^\d{4}-\d\d-\d\dT/);
  });
});

describe('/api/v1/relay-clients (admin scope)', () => {
  let svc: RunningService;
  let admin = '';
  let send = '';
  const t = tempDir('mg-relay-api-');
  before(async () => {
    const mailer = new FakeMailer();
    svc = await startService({
      env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
      listen: false,
      worker: false,
      logger: createLogger({ destination: new LineCapture(), level: 'debug' }),
      createMailer: () => Object.assign(mailer, { stats: { peakConnections: 0, connectionsOpened: 0, openConnections: 0 } }),
    });
    const now = { now: Date.now(), actor: 'test' };
    send = (await createApiKey(svc.store, 'app', 'send', now)).key;
    admin = (await createApiKey(svc.store, 'ops', 'admin', now)).key;
  });
  after(async () => {
    await svc.stop();
    t.remove();
  });
  const call = (method: string, path: string, key: string, body?: unknown) =>
    svc.app.request(path, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  it('a send-scope key is refused (403), no key is 401', async () => {
    assert.equal((await call('GET', '/api/v1/relay-clients', send)).status, 403);
    assert.equal((await call('POST', '/api/v1/relay-clients', send, { name: 'x' })).status, 403);
    assert.equal((await svc.app.request('/api/v1/relay-clients')).status, 401);
  });

  it('POST creates (201, password once, no-store), GET lists without it, DELETE revokes (204, then 404)', async () => {
    const r = await call('POST', '/api/v1/relay-clients', admin, { name: 'printer-3', allowFrom: ['scanner@contoso.com'], allowIp: ['10.1.2.0/24'], fromPolicy: 'rewrite' });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const j = (await r.json()) as Record<string, any>;
    assert.deepEqual(Object.keys(j).slice(0, 5), ['name', 'username', 'password', 'allowFrom', 'allowIp']);
    assert.match(j.password, /^[A-Za-z0-9]{20,}$/);
    assert.equal(j.fromPolicy, 'rewrite');
    const list = await call('GET', '/api/v1/relay-clients', admin);
    assert.equal(list.status, 200);
    const text = await list.text();
    assert.ok(!text.includes(j.password) && !text.includes('scrypt$'));
    const { items } = JSON.parse(text) as { items: Record<string, any>[] };
    assert.equal(items.length, 1);
    assert.equal(items[0].name, 'printer-3');
    assert.equal(items[0].username, j.username);
    assert.deepEqual(items[0].allowIp, ['10.1.2.0/24']);
    assert.equal(items[0].messagesSent, 0);
    assert.deepEqual(filesHolding(t.dir, j.password), []);

    assert.equal((await call('DELETE', '/api/v1/relay-clients/printer-3', admin)).status, 204);
    const gone = await call('DELETE', '/api/v1/relay-clients/printer-3', admin);
    assert.equal(gone.status, 404);
    assert.match(((await gone.json()) as { detail: string }).detail, /No active relay client is named "printer-3"/);
    const after = (await (await call('GET', '/api/v1/relay-clients', admin)).json()) as { items: Record<string, any>[] };
    assert.ok(after.items[0].revokedAt);
  });

  it('invalid input is a 422 naming the field; a taken name is 409; unknown fields are refused', async () => {
    const bad = async (body: unknown, key: string, message: RegExp) => {
      const r = await call('POST', '/api/v1/relay-clients', admin, body);
      assert.equal(r.status, 422, JSON.stringify(body));
      const p = (await r.json()) as { errors: { key: string; message: string }[] };
      assert.equal(p.errors[0].key, key);
      assert.match(p.errors[0].message, message);
    };
    await bad({ name: 'mfp', noAuth: true }, 'allowIp', /needs at least one --allow-ip/);
    await bad({ name: 'mfp', noAuth: true, allowIp: ['8.8.8.0/24'] }, 'allowIp', /public address range/);
    await bad({ name: 'bad name!' }, 'name', /invalid/);
    await bad({ name: 'x', allowFrom: ['not-an-address'] }, 'allowFrom', /not an email address/);
    await bad({ name: 'x', allowIp: ['10.0.0.0/99'] }, 'allowIp', /not an IP address or CIDR/);
    await bad({ name: 'x', fromPolicy: 'accept' }, 'fromPolicy', /./);
    await bad({ name: 'x', password: 'chosen' }, 'password', /./);
    assert.equal((await call('POST', '/api/v1/relay-clients', admin, { name: 'dup' })).status, 201);
    assert.equal((await call('POST', '/api/v1/relay-clients', admin, { name: 'dup' })).status, 409);
    const forced = await call('POST', '/api/v1/relay-clients', admin, { name: 'branch', noAuth: true, allowIp: ['203.0.113.9'], force: true });
    assert.equal(forced.status, 201);
    assert.equal(((await forced.json()) as { password: unknown }).password, null);
  });
});
