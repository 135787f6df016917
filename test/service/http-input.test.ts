/**
 * The HTTP API's input handling, in-process on a real SQLite store: wrong JSON types are 422
 * naming the field and the type (was 500), the recipient limit and a too-large text body are
 * named right, headers only mail servers set and structural attachment types are refused, an
 * attachment's contentType defaults from its extension and cid makes an inline image, the send
 * test refuses an invalid recipient with 422 (was 200 ok:false), admin POSTs need no body,
 * GET / leads to the admin page, a wrong key is told from a missing one, and the OpenAPI
 * document is served without a key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey, revokeApiKey } from '../../src/service/access/api-keys.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { FakeMailer, LineCapture, tempDir } from './helpers.js';

const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');
const message = (over: Record<string, unknown> = {}) => ({ to: 'user@example.com', subject: 'Your code', text: 'Code: 123456', ...over });

describe('HTTP API input', () => {
  let svc: RunningService;
  let send: string;
  let admin: string;
  let revoked: string;
  let remove: () => void;
  const mailer = new FakeMailer();

  before(async () => {
    const t = tempDir();
    remove = t.remove;
    svc = await startService({
      env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY },
      listen: false,
      worker: false,
      logger: createLogger({ destination: new LineCapture(), level: 'debug' }),
      createMailer: () => Object.assign(mailer, { stats: { peakConnections: 0, connectionsOpened: 0, openConnections: 0 } }),
    });
    const now = { now: Date.now(), actor: 'test' };
    send = (await createApiKey(svc.store, 'app', 'send', now)).key;
    admin = (await createApiKey(svc.store, 'ops', 'admin', now)).key;
    const r = await createApiKey(svc.store, 'old', 'send', now);
    revoked = r.key;
    await revokeApiKey(svc.store, 'old', now);
  });
  after(async () => {
    await svc.stop();
    remove();
  });

  async function call(method: string, path: string, o: { key?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...o.headers };
    if (o.key) headers.authorization = `Bearer ${o.key}`;
    let body: string | undefined = o.raw;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    if (body !== undefined) headers['content-length'] ??= String(Buffer.byteLength(body));
    const r = await svc.app.request(path, { method, headers, body });
    const text = await r.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status, type: r.headers.get('content-type') ?? '', headers: r.headers, json, text };
  }
  const errorsOf = (r: { json: any }) => new Map<string, string>(r.json.errors.map((e: { key: string; message: string }) => [e.key, e.message]));

  it('a wrong JSON type is 422 naming the field and the expected type (was 500)', async () => {
    for (const [over, key, expected] of [
      [{ text: 5 }, 'text', 'text: must be a string, not a number'],
      [{ text: ['a'] }, 'text', 'text: must be a string, not an array'],
      [{ html: 5 }, 'html', 'html: must be a string, not a number'],
      [{ subject: false }, 'subject', 'subject: must be a string, not a boolean'],
      [{ headers: { 'X-A': 1 } }, 'headers.X-A', 'headers.X-A: must be a string, not a number'],
    ] as const) {
      const r = await call('POST', '/api/v1/messages', { key: send, body: message(over) });
      assert.equal(r.status, 422, r.text);
      assert.match(r.type, /application\/problem\+json/);
      assert.deepEqual([...errorsOf(r)], [[key, expected]]);
    }
  });

  it('1,000 recipients names the 500-recipient limit; a too-large text body is blamed on text', async () => {
    const to = Array.from({ length: 1000 }, (_, i) => `u${i}@example.com`);
    let r = await call('POST', '/api/v1/messages', { key: send, body: message({ to }) });
    assert.equal(r.status, 422);
    assert.deepEqual([...errorsOf(r)], [['to', 'to: 1000 recipients, more than the 500 per message that Exchange Online accepts']]);
    r = await call('POST', '/api/v1/messages', { key: send, body: message({ text: 'x'.repeat(35 * 1024 * 1024 + 1024) }) });
    assert.equal(r.status, 422);
    assert.deepEqual([...errorsOf(r).keys()], ['text']);
  });

  it('headers only mail servers set, Resent-*, Content-Disposition and Return-Receipt-To are refused; long lines too', async () => {
    const headers = { Received: 'from evil', 'Resent-From': 'boss@example.com', 'DKIM-Signature': 'v=1; d=example.com', 'ARC-Seal': 'i=1', 'Content-Disposition': 'attachment', 'Return-Receipt-To': 'a@example.com', 'X-Long': 'v'.repeat(2000) };
    const r = await call('POST', '/api/v1/messages', { key: send, body: message({ headers }) });
    assert.equal(r.status, 422);
    assert.deepEqual([...errorsOf(r).keys()].sort(), Object.keys(headers).map((h) => `headers.${h}`).sort());
    const ok = await call('POST', '/api/v1/messages', { key: send, body: message({ headers: { 'Disposition-Notification-To': 'ops@example.com', 'X-Words': 'word '.repeat(400) } }) });
    assert.equal(ok.status, 202, ok.text);
  });

  it('multipart/* and message/rfc822 attachments are refused; contentType defaults from the extension; cid is kept', async () => {
    let r = await call('POST', '/api/v1/messages', {
      key: send,
      body: message({ attachments: [{ filename: 'fwd.eml', contentType: 'message/rfc822', content: 'aGk=' }, { filename: 'x', contentType: 'multipart/mixed', content: 'aGk=' }] }),
    });
    assert.equal(r.status, 422);
    assert.deepEqual([...errorsOf(r).keys()], ['attachments[0].contentType', 'attachments[1].contentType']);
    r = await call('POST', '/api/v1/messages', {
      key: send,
      body: message({ html: '<img src="cid:logo@example">', attachments: [{ filename: 'logo.png', content: 'iVBORw0KGgo=', cid: 'logo@example' }, { filename: 'report.pdf', content: 'JVBERi0=' }] }),
    });
    assert.equal(r.status, 202, r.text);
    // What is stored is what will be sent: claim it as the worker would and read its payload.
    const claimed = (await svc.store.claim({ owner: 'test', limit: 100, now: Date.now(), leaseMs: 60_000 })).find((m) => m.id === r.json.id);
    assert.ok(claimed);
    const payload = JSON.parse(claimed.payload);
    assert.deepEqual(payload.attachments.map((a: Record<string, string>) => [a.contentType, a.cid]), [['image/png', 'logo@example'], ['application/pdf', undefined]]);
  });

  it('the send test answers 422 problem+json to an invalid recipient (was 200 {"ok":false})', async () => {
    for (const to of ['not-an-address', 'a@example.com\r\nBcc: x@example.com', 'Name <nope>']) {
      const r = await call('POST', '/api/v1/settings/email/test', { key: admin, body: { to } });
      assert.equal(r.status, 422, r.text);
      assert.match(r.type, /application\/problem\+json/);
      assert.equal(r.json.type, 'urn:mailgate:problem:validation');
      assert.deepEqual([...errorsOf(r).keys()], ['to']);
    }
    const wrongType = await call('POST', '/api/v1/settings/email/test', { key: admin, body: { to: 5 } });
    assert.equal(wrongType.status, 422);
    assert.deepEqual(wrongType.json.errors, [{ key: 'to', message: 'to: must be a string, not a number' }]);
    const diag = await call('POST', '/api/v1/diagnostics', { key: admin, body: { to: ['a@example.com'] } });
    assert.deepEqual(diag.json.errors, [{ key: 'to', message: 'to: must be a string, not an array' }]);
    assert.equal(mailer.calls.length, 0, 'nothing was sent');
  });

  it('admin POSTs without a body work (no -d \'{}\')', async () => {
    // curl -X POST with no body: no content type, Content-Length 0.
    let r = await call('POST', '/api/v1/diagnostics', { key: admin, headers: { 'content-length': '0' } });
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json.checks));
    r = await call('POST', '/api/v1/diagnostics', { key: admin, raw: '', headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 200, r.text);
    // A body that is there is still checked.
    r = await call('POST', '/api/v1/diagnostics', { key: admin, raw: 'to=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.status, 415);
    r = await call('POST', '/api/v1/diagnostics', { key: admin, body: { bogus: 1 } });
    assert.equal(r.status, 422);
  });

  it('GET / redirects to the admin page', async () => {
    const r = await svc.app.request('/', { redirect: 'manual' });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), '/admin');
  });

  it('a wrong or revoked API key says "unknown or revoked key"; a missing one says it is missing', async () => {
    const missing = await call('POST', '/api/v1/messages', { body: message() });
    assert.equal(missing.status, 401);
    assert.match(missing.json.detail, /^No API key/);
    const unknown = await call('POST', '/api/v1/messages', { key: 'mg_unknownkeyunknownkeyunknownkey', body: message() });
    assert.equal(unknown.status, 401);
    assert.match(unknown.json.detail, /Unknown or revoked key/);
    assert.equal(unknown.headers.get('www-authenticate'), 'Bearer realm="mailgate", error="invalid_token"');
    const gone = await call('GET', '/api/v1/messages', { key: revoked });
    assert.equal(gone.status, 401);
    assert.match(gone.json.detail, /Unknown or revoked key/);
    const malformed = await call('GET', '/api/v1/messages', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    assert.match(malformed.json.detail, /not "Bearer <key>"/);
    for (const r of [unknown, gone]) assert.ok(!r.text.includes('mg_unknown') && !r.text.includes(revoked), 'the key is not echoed');
  });

  it('serves the OpenAPI document without a key', async () => {
    const r = await call('GET', '/api/v1/openapi.json');
    assert.equal(r.status, 200);
    assert.match(r.type, /application\/json/);
    assert.equal(r.json.openapi, '3.1.0');
    assert.ok(r.json.paths['/api/v1/messages'].post.parameters.some((p: { name: string; in: string }) => p.name === 'Idempotency-Key' && p.in === 'header'));
  });
});

describe('zodProblems', () => {
  it('names the field and the type on every JSON route (diagnostics, send test), not zod\'s "Invalid input"', async () => {
    const { z } = await import('zod');
    const { zodProblems } = await import('../../src/service/intake/zod-problems.js');
    const schema = z.strictObject({ to: z.string().min(3).max(5).optional(), n: z.number().int().max(3).optional(), either: z.union([z.string(), z.array(z.string())]).optional() });
    const body = { to: 5, n: 9, either: { a: 1 }, extra: true };
    const r = schema.safeParse(body);
    assert.ok(!r.success);
    assert.deepEqual(zodProblems(r.error, body).map((p) => p.message).sort(), [
      'either: has the wrong type, not an object',
      'extra: unknown field',
      'n: must be at most 3',
      'to: must be a string, not a number',
    ]);
  });
});

describe('a 500 answer and its log line', () => {
  it('the log keeps the error type, message and stack (was "type":"Object","stack":"")', async () => {
    const t = tempDir();
    const logs = new LineCapture();
    const svc = await startService({
      env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY },
      listen: false,
      worker: false,
      logger: createLogger({ destination: logs, level: 'info' }),
    });
    try {
      const key = (await createApiKey(svc.store, 'app', 'send', { now: Date.now(), actor: 'test' })).key;
      await svc.store.close(); // a real failure: the database is gone under the request
      const r = await svc.app.request('/api/v1/messages', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(message()) });
      assert.equal(r.status, 500);
      assert.match(((await r.json()) as { detail: string }).detail, /server log has the details/);
      const line = logs.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'unhandled error in HTTP request');
      assert.ok(line, logs.text());
      assert.equal(line.err.type, 'TypeError');
      assert.match(line.err.message, /database connection is not open/);
      assert.match(line.err.stack, /^TypeError: The database connection is not open\n\s+at /);
    } finally {
      await svc.stop().catch(() => undefined);
      t.remove();
    }
  });
});
