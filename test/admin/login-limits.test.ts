/**
 * The admin page's sign-in limits (issue 12 item 8) and form body limit (item 3), app level
 * (real service, real SQLite, `app.request`): the forwarded client address behind a trusted
 * proxy (and not without MAILGATE_TRUST_PROXY), IPv6 counted per /64, the global ceiling, the
 * limits from environment variables, parallel guesses, the password hash off the event loop,
 * 64 KB form bodies (Content-Length and chunked), and the favicon (issue 13 item 14).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { clientAddressFrom, limiterKey } from '../../src/admin/client-address.js';
import { ADMIN_MAX_BODY_BYTES } from '../../src/admin/index.js';
import { hashPassword, verifyPassword } from '../../src/service/access/admin-password.js';
import { parseServiceConfig } from '../../src/service/config.js';
import { ADMIN_PASSWORD, appClient, startAdmin, VALID, type AdminCtx } from './helpers.js';

/** Signs in (or tries to) with `password`, the request coming through a proxy that sets `xff`. */
async function tryLogin(ctx: AdminCtx, password: string, headers: Record<string, string>) {
  const client = appClient(ctx);
  await client.get('/admin/login');
  return client.post('/admin/login', { password, next: '/admin/settings' }, { headers });
}

describe('admin sign-in behind a reverse proxy (MAILGATE_TRUST_PROXY)', () => {
  let ctx: AdminCtx;
  before(async () => {
    ctx = await startAdmin({ env: { MAILGATE_TRUST_PROXY: 'on', MAILGATE_LOGIN_MAX_FAILURES: '3' }, admin: { clientAddress: undefined } });
  });
  after(() => ctx.stop());

  it('counts each forwarded client apart: one client locked out does not lock out the others', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await tryLogin(ctx, 'wrong', { 'x-forwarded-for': '198.51.100.1' })).status, 401);
    const locked = await tryLogin(ctx, ADMIN_PASSWORD, { 'x-forwarded-for': '198.51.100.1' });
    assert.equal(locked.status, 429, 'MAILGATE_LOGIN_MAX_FAILURES=3 applies');
    assert.match(locked.text, /from your address \(198\.51\.100\.1\)/);
    assert.equal((await tryLogin(ctx, ADMIN_PASSWORD, { 'x-forwarded-for': '198.51.100.2' })).status, 303, 'another administrator behind the same proxy signs in');
  });

  it('trusts only the hop the proxy added: addresses a client puts in front are ignored', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await tryLogin(ctx, 'wrong', { 'x-forwarded-for': '198.51.100.3' })).status, 401);
    const spoofed = await tryLogin(ctx, ADMIN_PASSWORD, { 'x-forwarded-for': `203.0.113.${50}, 198.51.100.3` });
    assert.equal(spoofed.status, 429, 'a forged left-most entry does not give a fresh bucket');
  });

  it('reads RFC 7239 Forwarded when there is no X-Forwarded-For', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await tryLogin(ctx, 'wrong', { forwarded: 'for=192.0.2.60;proto=https' })).status, 401);
    assert.equal((await tryLogin(ctx, ADMIN_PASSWORD, { forwarded: 'for="192.0.2.60:4711"' })).status, 429);
    assert.equal((await tryLogin(ctx, ADMIN_PASSWORD, { forwarded: 'for=192.0.2.61' })).status, 303);
  });

  it('counts an IPv6 client by its /64', async () => {
    const addresses = ['2001:db8:1:2::a', '2001:db8:1:2:ffff::b', '[2001:db8:1:2:1:2:3:4]:443'];
    for (const a of addresses) assert.equal((await tryLogin(ctx, 'wrong', { 'x-forwarded-for': a })).status, 401);
    const locked = await tryLogin(ctx, ADMIN_PASSWORD, { 'x-forwarded-for': '2001:db8:1:2::99' });
    assert.equal(locked.status, 429, 'rotating addresses inside the /64 does not escape the limit');
    assert.match(locked.text, /2001:db8:1:2::\/64/);
    assert.equal((await tryLogin(ctx, ADMIN_PASSWORD, { 'x-forwarded-for': '2001:db8:1:3::1' })).status, 303, 'the next /64 is another client');
  });
});

describe('admin sign-in without MAILGATE_TRUST_PROXY', () => {
  let ctx: AdminCtx;
  before(async () => {
    ctx = await startAdmin({ env: { MAILGATE_LOGIN_MAX_FAILURES: '2' }, admin: { clientAddress: undefined } });
  });
  after(() => ctx.stop());

  it('ignores forwarding headers (a client cannot pick its bucket)', async () => {
    assert.equal((await tryLogin(ctx, 'wrong', { 'x-forwarded-for': '198.51.100.1' })).status, 401);
    assert.equal((await tryLogin(ctx, 'wrong', { 'x-forwarded-for': '198.51.100.2' })).status, 401);
    assert.equal((await tryLogin(ctx, ADMIN_PASSWORD, { 'x-forwarded-for': '198.51.100.3' })).status, 429);
  });
});

describe('admin sign-in: the global ceiling and parallel guesses', () => {
  let ctx: AdminCtx;
  before(async () => {
    ctx = await startAdmin({
      env: { MAILGATE_LOGIN_MAX_FAILURES: '5', MAILGATE_LOGIN_GLOBAL_FAILURES_PER_MINUTE: '8' },
      admin: { clientAddress: (c) => c.req.header('x-test-client') ?? '192.0.2.10' },
    });
  });
  after(() => ctx.stop());

  it('refuses parallel guesses beyond the limit even while the first ones are still being checked', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, () => tryLogin(ctx, 'wrong', { 'x-test-client': '198.51.100.77' })));
    const statuses = results.map((r) => r.status).sort();
    assert.equal(statuses.filter((s) => s === 401).length, 5, `exactly 5 passwords were checked: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 429).length, 7);
  });

  it('after MAILGATE_LOGIN_GLOBAL_FAILURES_PER_MINUTE wrong passwords from anywhere, refuses everyone with a clear message', async () => {
    // 5 failures so far (the test above); 3 more from three new addresses reach the ceiling of 8.
    for (const a of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) assert.equal((await tryLogin(ctx, 'wrong', { 'x-test-client': a })).status, 401);
    const r = await tryLogin(ctx, ADMIN_PASSWORD, { 'x-test-client': '203.0.113.200' });
    assert.equal(r.status, 429);
    assert.match(r.text, /Too many wrong passwords were tried on this server in the last minute/);
    assert.ok(Number(r.headers.get('retry-after')) <= 60);
  });
});

describe('admin password hashing', () => {
  it('verifies off the event loop: other callbacks run while the hash is computed', async () => {
    const stored = hashPassword(ADMIN_PASSWORD);
    let ranMeanwhile = false;
    setImmediate(() => (ranMeanwhile = true));
    assert.equal(await verifyPassword(ADMIN_PASSWORD, stored), true);
    assert.ok(ranMeanwhile, 'the event loop turned while scrypt ran (async scrypt, not scryptSync)');
    assert.equal(await verifyPassword('not it', stored), false);
    assert.equal(await verifyPassword(ADMIN_PASSWORD, 'scrypt$99999999$8$1$AAAA$AAAA'), false, 'absurd parameters are refused, not computed');
  });
});

describe('client address and limiter key', () => {
  it('takes the entry before the trusted hops; falls back to the peer on garbage', () => {
    assert.equal(clientAddressFrom('10.0.0.1', { xForwardedFor: '1.1.1.1, 2.2.2.2' }, 0), '10.0.0.1');
    assert.equal(clientAddressFrom('10.0.0.1', { xForwardedFor: '1.1.1.1, 2.2.2.2' }, 1), '2.2.2.2');
    assert.equal(clientAddressFrom('10.0.0.1', { xForwardedFor: '1.1.1.1, 2.2.2.2' }, 2), '1.1.1.1');
    assert.equal(clientAddressFrom('10.0.0.1', { xForwardedFor: '2.2.2.2' }, 3), '2.2.2.2', 'a shorter chain: its left-most entry');
    assert.equal(clientAddressFrom('10.0.0.1', { xForwardedFor: 'evil' }, 1), '10.0.0.1');
    assert.equal(clientAddressFrom('10.0.0.1', {}, 1), '10.0.0.1');
    assert.equal(clientAddressFrom('10.0.0.1', { forwarded: 'for=1.1.1.1, for="[2001:db8::1]:80";proto=https' }, 1), '2001:db8::1');
    assert.equal(clientAddressFrom('10.0.0.1', { xForwardedFor: '3.3.3.3', forwarded: 'for=1.1.1.1' }, 1), '3.3.3.3', 'X-Forwarded-For wins');
  });

  it('keys IPv6 by /64, IPv4 (and IPv4-mapped) by address', () => {
    assert.equal(limiterKey('192.0.2.1'), '192.0.2.1');
    assert.equal(limiterKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(limiterKey('2001:db8:0:1:2:3:4:5'), '2001:db8:0:1::/64');
    assert.equal(limiterKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(limiterKey('unknown'), 'unknown');
  });

  it('MAILGATE_TRUST_PROXY is off by default and must be off, on or a hop count', () => {
    const ok = parseServiceConfig({});
    assert.ok(ok.ok && ok.config.trustProxy === 0 && ok.config.loginMaxFailures === 5 && ok.config.loginGlobalFailuresPerMinute === 100);
    const two = parseServiceConfig({ MAILGATE_TRUST_PROXY: '2' });
    assert.ok(two.ok && two.config.trustProxy === 2);
    const bad = parseServiceConfig({ MAILGATE_TRUST_PROXY: 'maybe' });
    assert.ok(!bad.ok && bad.problems.some((p) => p.env === 'MAILGATE_TRUST_PROXY'));
  });
});

describe('admin form bodies', () => {
  let ctx: AdminCtx;
  before(async () => {
    ctx = await startAdmin();
  });
  after(() => ctx.stop());

  it('refuses a body over 64 KB from its Content-Length, before reading it (413)', async () => {
    const client = appClient(ctx);
    await client.get('/admin/login');
    const body = `password=${'x'.repeat(ADMIN_MAX_BODY_BYTES)}`;
    const r = await ctx.svc.app.request('/admin/login', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)), cookie: `mailgate_admin=${client.cookies.get('mailgate_admin')}` },
    });
    assert.equal(r.status, 413);
    assert.match(await r.text(), /Form too large/);
  });

  it('refuses a chunked body as soon as 64 KB have streamed in (413)', async () => {
    let sent = 0;
    const chunk = new TextEncoder().encode('a'.repeat(16 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 10 * 1024 * 1024) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const r = await ctx.svc.app.request('/admin/login', { method: 'POST', body: stream, headers: { 'content-type': 'application/x-www-form-urlencoded' }, duplex: 'half' } as RequestInit);
    assert.equal(r.status, 413);
    assert.ok(sent < 1024 * 1024, `stopped reading early (read ${sent} bytes of 10 MB)`);
  });

  it('still accepts the Email Settings with a certificate PEM pasted (a long chain fits)', async () => {
    const client = appClient(ctx);
    await client.login();
    const block = (label: string, bytes: number) => `-----BEGIN ${label}-----\n${Buffer.alloc(bytes, 7).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END ${label}-----\n`;
    const pem = block('PRIVATE KEY', 2400) + block('CERTIFICATE', 1900).repeat(6); // a 4096-bit key and a six-certificate chain
    const r = await client.post('/admin/settings', { ...VALID, useModernAuth: ['false', 'true'], clientCertificatePem: pem });
    assert.notEqual(r.status, 413);
    assert.ok(r.status === 303 || r.status === 422, `the form was read and handled (${r.status})`);
  });

  it('serves a favicon: /favicon.ico leads to an ICO image', async () => {
    const r = await ctx.svc.app.request('/favicon.ico');
    assert.equal(r.status, 301);
    assert.equal(r.headers.get('location'), '/admin/assets/favicon.ico');
    const icon = await ctx.svc.app.request('/admin/assets/favicon.ico');
    assert.equal(icon.status, 200);
    assert.equal(icon.headers.get('content-type'), 'image/x-icon');
    const bytes = Buffer.from(await icon.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 4)], [0, 0, 1, 0], 'an ICO header');
    const page = await appClient(ctx).get('/admin/login');
    assert.match(page.text, /<link rel="icon" href="\/admin\/assets\/favicon\.ico"/);
  });
});
