/**
 * What belongs to an API key (issue 12 items 12 and 13, issue 13 item 7): idempotency keys are
 * scoped per API key (two applications using the same string never collide), `"to": "x"` and
 * `"to": ["x"]` are the same request, the `Idempotency-Key` header works like the body field
 * (both at once only when equal), and a send key lists and reads only the messages it submitted
 * while an admin key and the admin page read all. In-process HTTP (`app.request()`) on a real
 * SQLite store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApiKey } from '../../src/service/access/api-keys.js';
import type { RunningService } from '../../src/app/service.js';
import { appClient, startAdmin, type AdminCtx } from '../admin/helpers.js';

const message = (over: Record<string, unknown> = {}) => ({ to: 'user@example.com', subject: 'Your code', text: 'Code: 123456', ...over });

describe('API keys own their messages and idempotency keys', () => {
  let ctx: AdminCtx;
  let svc: RunningService;
  const keys: Record<'billing' | 'signup' | 'ops', string> = { billing: '', signup: '', ops: '' };

  before(async () => {
    ctx = await startAdmin();
    svc = ctx.svc;
    const o = { now: Date.now(), actor: 'test' };
    keys.billing = (await createApiKey(svc.store, 'billing', 'send', o)).key;
    keys.signup = (await createApiKey(svc.store, 'signup', 'send', o)).key;
    keys.ops = (await createApiKey(svc.store, 'ops', 'admin', o)).key;
  });
  after(async () => {
    await ctx.stop();
  });

  async function call(method: string, path: string, key: string, body?: unknown, headers: Record<string, string> = {}) {
    const r = await svc.app.request(path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined };
  }

  it('two API keys using the same idempotency key get two messages; within one key the usual rules hold', async () => {
    const a = await call('POST', '/api/v1/messages', keys.billing, message({ idempotencyKey: 'order-1001', subject: 'Invoice' }));
    const b = await call('POST', '/api/v1/messages', keys.signup, message({ idempotencyKey: 'order-1001', subject: 'Welcome' }));
    assert.equal(a.status, 202);
    assert.equal(b.status, 202, 'another application, same key string: accepted, not 409');
    assert.notEqual(a.json.id, b.json.id);
    const again = await call('POST', '/api/v1/messages', keys.signup, message({ idempotencyKey: 'order-1001', subject: 'Welcome' }));
    assert.equal(again.status, 200);
    assert.equal(again.json.id, b.json.id);
    const conflict = await call('POST', '/api/v1/messages', keys.billing, message({ idempotencyKey: 'order-1001', subject: 'Other' }));
    assert.equal(conflict.status, 409);
    assert.equal(conflict.json.type, 'urn:mailgate:problem:idempotency-conflict');
    assert.equal(conflict.json.id, a.json.id);
  });

  it('"to": "x" and "to": ["x"] (and cc/bcc likewise) are the same request', async () => {
    const a = await call('POST', '/api/v1/messages', keys.billing, message({ to: 'x@example.com', cc: 'c@example.com', idempotencyKey: 'spelling-1' }));
    assert.equal(a.status, 202);
    const b = await call('POST', '/api/v1/messages', keys.billing, message({ to: ['x@example.com'], cc: ['c@example.com'], idempotencyKey: 'spelling-1' }));
    assert.equal(b.status, 200);
    assert.equal(b.json.id, a.json.id);
    const two = await call('POST', '/api/v1/messages', keys.billing, message({ to: ['x@example.com', 'y@example.com'], idempotencyKey: 'spelling-1' }));
    assert.equal(two.status, 409, 'a different recipient list is a different request');
  });

  it('accepts the Idempotency-Key header like the body field, and refuses both at once when they differ', async () => {
    const a = await call('POST', '/api/v1/messages', keys.billing, message({ subject: 'Header' }), { 'idempotency-key': 'hdr-1' });
    assert.equal(a.status, 202);
    const viaBody = await call('POST', '/api/v1/messages', keys.billing, message({ subject: 'Header', idempotencyKey: 'hdr-1' }));
    assert.equal(viaBody.status, 200, 'header and body field name the same key');
    assert.equal(viaBody.json.id, a.json.id);
    const both = await call('POST', '/api/v1/messages', keys.billing, message({ subject: 'Header', idempotencyKey: 'hdr-1' }), { 'Idempotency-Key': 'hdr-1' });
    assert.equal(both.status, 200, 'both, with the same value');
    assert.equal(both.json.id, a.json.id);
    const differ = await call('POST', '/api/v1/messages', keys.billing, message({ subject: 'Header', idempotencyKey: 'hdr-2' }), { 'Idempotency-Key': 'hdr-1' });
    assert.equal(differ.status, 422);
    assert.equal(differ.json.type, 'urn:mailgate:problem:validation');
    assert.ok(differ.json.errors.some((e: { key: string; message: string }) => e.key === 'idempotencyKey' && /Idempotency-Key header/.test(e.message)), JSON.stringify(differ.json.errors));
    const tooLong = await call('POST', '/api/v1/messages', keys.billing, message(), { 'Idempotency-Key': 'k'.repeat(256) });
    assert.equal(tooLong.status, 422);
    assert.ok(tooLong.json.errors.some((e: { key: string }) => e.key === 'Idempotency-Key'));
    const conflict = await call('POST', '/api/v1/messages', keys.billing, message({ subject: 'Changed' }), { 'Idempotency-Key': 'hdr-1' });
    assert.equal(conflict.status, 409);
    // The header is scoped per API key too.
    assert.equal((await call('POST', '/api/v1/messages', keys.signup, message({ subject: 'Changed' }), { 'Idempotency-Key': 'hdr-1' })).status, 202);
  });

  it('a send key lists and reads only its own messages (another key\'s is 404); an admin key reads all', async () => {
    const mine = (await call('POST', '/api/v1/messages', keys.billing, message({ subject: 'billing only' }))).json.id as string;
    const theirs = (await call('POST', '/api/v1/messages', keys.signup, message({ subject: 'signup only' }))).json.id as string;
    const byAdmin = (await call('POST', '/api/v1/messages', keys.ops, message({ subject: 'ops' }))).json.id as string;

    const listed = async (key: string) => {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const r: { status: number; json: any } = await call('GET', `/api/v1/messages?limit=2${cursor ? `&cursor=${cursor}` : ''}`, key);
        assert.equal(r.status, 200);
        ids.push(...r.json.items.map((m: { id: string }) => m.id));
        cursor = r.json.nextCursor;
      } while (cursor);
      return ids;
    };
    const billing = await listed(keys.billing);
    assert.ok(billing.includes(mine));
    assert.ok(!billing.includes(theirs) && !billing.includes(byAdmin), 'no other key\'s message in the listing');
    const signup = await listed(keys.signup);
    assert.ok(signup.includes(theirs) && !signup.includes(mine));
    const all = await listed(keys.ops);
    for (const id of [mine, theirs, byAdmin]) assert.ok(all.includes(id), 'the admin key lists every message');
    assert.equal(all.length, new Set([...billing, ...signup, ...all]).size);

    assert.equal((await call('GET', `/api/v1/messages/${mine}`, keys.billing)).json.subject, 'billing only');
    const other = await call('GET', `/api/v1/messages/${theirs}`, keys.billing);
    assert.equal(other.status, 404, 'not 403: a send key does not learn that the id exists');
    const missing = await call('GET', '/api/v1/messages/00000000-0000-0000-0000-000000000000', keys.billing);
    assert.deepEqual({ ...other.json, detail: undefined }, { ...missing.json, detail: undefined }, 'indistinguishable from a missing id');
    assert.equal((await call('GET', `/api/v1/messages/${byAdmin}`, keys.billing)).status, 404);
    assert.equal((await call('GET', `/api/v1/messages/${theirs}`, keys.ops)).json.subject, 'signup only');

    // The admin page sees every application's messages.
    const admin = appClient(ctx);
    await admin.login();
    const page = await admin.get('/admin/messages');
    assert.equal(page.status, 200);
    for (const subject of ['billing only', 'signup only']) assert.ok(page.text.includes(subject), `the delivery log lists "${subject}"`);
    assert.equal((await admin.get(`/admin/messages/${theirs}`)).status, 200);
  });
});
