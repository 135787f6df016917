/**
 * The HTTP API in-process (`app.request()`), on a real SQLite store in a temp dir: auth and
 * scopes, validation problems listed in problem+json, idempotency, oversize bodies, paging,
 * retry, settings without secrets (and with sources and audit), health, readiness, metrics,
 * diagnostics and the send test.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MailgateError } from '../../src/core/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { FakeMailer, LineCapture, tempDir } from './helpers.js';

const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');
const SECRET = 'Xy7~topsecret.value-abc123';
const VALID_SETTINGS = {
  useModernAuth: true,
  clientId: '11111111-2222-3333-4444-555555555555',
  tenantId: '66666666-7777-8888-9999-000000000000',
  clientSecret: SECRET,
  authorizedFrom: 'sender@contoso.com',
};

interface Ctx {
  svc: RunningService;
  dir: string;
  send: string;
  admin: string;
  logs: LineCapture;
  mailer: FakeMailer;
  remove(): void;
}

async function setup(env: Record<string, string> = {}, extra: Parameters<typeof startService>[0] = {}): Promise<Ctx> {
  const t = tempDir();
  const logs = new LineCapture();
  const mailer = new FakeMailer();
  const svc = await startService({
    env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_MAX_BODY_BYTES: '65536', ...env },
    listen: false,
    worker: false,
    logger: createLogger({ destination: logs, level: 'debug' }),
    createMailer: () => Object.assign(mailer, { stats: { peakConnections: 0, connectionsOpened: 0, openConnections: 0 } }),
    ...extra,
  });
  const now = { now: Date.now(), actor: 'test' };
  const send = (await createApiKey(svc.store, 'app', 'send', now)).key;
  const admin = (await createApiKey(svc.store, 'ops', 'admin', now)).key;
  return { svc, dir: t.dir, send, admin, logs, mailer, remove: t.remove };
}

function req(ctx: Ctx, method: string, path: string, o: { key?: string; body?: unknown; raw?: BodyInit; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...o.headers };
  if (o.key) headers.authorization = `Bearer ${o.key}`;
  let body: BodyInit | undefined = o.raw;
  if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['content-type'] ??= 'application/json';
  }
  return ctx.svc.app.request(path, { method, headers, body });
}

const message = (over: Record<string, unknown> = {}) => ({ to: 'user@example.com', subject: 'Your code', text: 'Code: 123456', ...over });

describe('HTTP API', () => {
  let ctx: Ctx;
  const responses: string[] = [];
  before(async () => {
    ctx = await setup();
  });
  after(async () => {
    await ctx.svc.stop();
    ctx.remove();
  });

  async function call(method: string, path: string, o: Parameters<typeof req>[3] = {}) {
    const r = await req(ctx, method, path, o);
    const text = await r.text();
    responses.push(text);
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status, type: r.headers.get('content-type') ?? '', json, text, headers: r.headers };
  }

  it('requires an API key, and the right scope', async () => {
    let r = await call('POST', '/api/v1/messages', { body: message() });
    assert.equal(r.status, 401);
    assert.match(r.type, /application\/problem\+json/);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="mailgate"');
    r = await call('POST', '/api/v1/messages', { body: message(), key: 'mg_unknownkeyunknownkeyunknownkey' });
    assert.equal(r.status, 401);
    r = await call('GET', '/api/v1/settings/email', { key: ctx.send });
    assert.equal(r.status, 403);
    assert.equal(r.json.type, 'urn:mailgate:problem:forbidden');
    r = await call('GET', '/api/v1/settings/email', { key: ctx.admin });
    assert.equal(r.status, 200);
  });

  it('accepts a message with 202 and shows it queued', async () => {
    const r = await call('POST', '/api/v1/messages', { key: ctx.send, body: message({ cc: ['a@example.com', 'b@example.com'], headers: { 'X-Tag': 'otp' } }) });
    assert.equal(r.status, 202);
    assert.equal(r.json.status, 'queued');
    assert.match(r.json.id, /^[0-9a-f-]{36}$/);
    assert.equal(r.json.messageId, `<${r.json.id}@mailgate>`);
    const g = await call('GET', `/api/v1/messages/${r.json.id}`, { key: ctx.send });
    assert.equal(g.status, 200);
    assert.equal(g.json.status, 'queued');
    assert.deepEqual(g.json.attempts, []);
    assert.equal(g.json.response, null);
    assert.ok(g.json.nextAttemptAt);
    assert.equal(g.json.recipients, 3);
    const stored = await ctx.svc.store.get(r.json.id);
    assert.equal(stored?.status, 'queued');
  });

  it('lists every validation problem at once (unknown field, CR/LF, bad address, missing body)', async () => {
    const r = await call('POST', '/api/v1/messages', {
      key: ctx.send,
      body: { to: ['ok@example.com', 'not-an-address'], subject: 'Hi\r\nBcc: victim@example.com', from: 'x@example.com', priority: 1 },
    });
    assert.equal(r.status, 422);
    assert.match(r.type, /application\/problem\+json/);
    const keys = r.json.errors.map((e: { key: string }) => e.key).sort();
    // `from` is a field since issue 16 (the sender): valid here, checked against the senders after the body is.
    assert.deepEqual(keys, ['priority', 'subject', 'text', 'to[1]']);
    for (const e of r.json.errors) assert.ok(e.message.length > 5);
  });

  it('refuses CR/LF in headers and a bad attachment', async () => {
    const r = await call('POST', '/api/v1/messages', {
      key: ctx.send,
      body: message({ headers: { 'X-Evil': 'a\r\nBcc: x@example.com' }, attachments: [{ filename: 'a.txt', contentType: 'text/plain', content: 'not base64!!' }] }),
    });
    assert.equal(r.status, 422);
    const keys = r.json.errors.map((e: { key: string }) => e.key);
    assert.ok(keys.includes('headers.X-Evil'));
    assert.ok(keys.includes('attachments[0].content'));
  });

  it('checks the recipients limit up front', async () => {
    const to = Array.from({ length: 300 }, (_, i) => `u${i}@example.com`);
    const cc = Array.from({ length: 201 }, (_, i) => `c${i}@example.com`);
    const r = await call('POST', '/api/v1/messages', { key: ctx.send, body: message({ to, cc }) });
    assert.equal(r.status, 422);
    assert.ok(r.json.errors.some((e: { message: string }) => /501 recipients, more than the 500/.test(e.message)), r.text);
  });

  it('answers 400 to malformed JSON and 415 to another content type', async () => {
    let r = await call('POST', '/api/v1/messages', { key: ctx.send, raw: '{"to":', headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400);
    assert.equal(r.json.type, 'urn:mailgate:problem:malformed-json');
    r = await call('POST', '/api/v1/messages', { key: ctx.send, raw: 'to=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.status, 415);
  });

  it('is idempotent: same key and body → 200 same id; different body → 409', async () => {
    const body = message({ idempotencyKey: 'reset-42' });
    const a = await call('POST', '/api/v1/messages', { key: ctx.send, body });
    assert.equal(a.status, 202);
    // Same content, keys in another order.
    const b = await call('POST', '/api/v1/messages', { key: ctx.send, body: { text: body.text, idempotencyKey: 'reset-42', subject: body.subject, to: body.to } });
    assert.equal(b.status, 200);
    assert.equal(b.json.id, a.json.id);
    const c = await call('POST', '/api/v1/messages', { key: ctx.send, body: message({ idempotencyKey: 'reset-42', text: 'other' }) });
    assert.equal(c.status, 409);
    assert.equal(c.json.type, 'urn:mailgate:problem:idempotency-conflict');
  });

  it('refuses an oversize body before reading it whole (Content-Length and chunked)', async () => {
    const big = message({ text: 'x'.repeat(70_000) });
    let r = await call('POST', '/api/v1/messages', { key: ctx.send, body: big });
    assert.equal(r.status, 413);
    assert.match(r.type, /problem\+json/);
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        if (pulled > 1000) controller.close();
        else controller.enqueue(new Uint8Array(16_384).fill(32));
      },
    });
    const res = await ctx.svc.app.request('/api/v1/messages', {
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.send}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
    assert.ok(pulled < 20, `stopped reading early (pulled ${pulled} chunks)`);
    r = await call('POST', '/api/v1/messages', { key: ctx.send, body: message() });
    assert.equal(r.status, 202);
  });

  it('lists messages newest first with keyset paging and a status filter', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await call('POST', '/api/v1/messages', { key: ctx.send, body: message({ subject: `page ${i}` }) })).json.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: Awaited<ReturnType<typeof call>> = await call('GET', `/api/v1/messages?limit=2&status=queued${cursor ? `&cursor=${cursor}` : ''}`, { key: ctx.send });
      assert.equal(r.status, 200);
      assert.ok(r.json.items.length <= 2);
      seen.push(...r.json.items.map((m: { id: string }) => m.id));
      cursor = r.json.nextCursor;
    } while (cursor);
    assert.deepEqual(seen.slice(0, 5), [...ids].reverse());
    const bad = await call('GET', '/api/v1/messages?status=lost&limit=0&foo=1', { key: ctx.send });
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.json.errors.map((e: { key: string }) => e.key).sort(), ['foo', 'limit', 'status']);
    const none = await call('GET', '/api/v1/messages/00000000-0000-0000-0000-000000000000', { key: ctx.send });
    assert.equal(none.status, 404);
  });

  it('retries a failed message (admin only)', async () => {
    const id = (await call('POST', '/api/v1/messages', { key: ctx.send, body: message() })).json.id;
    let r = await call('POST', `/api/v1/messages/${id}/retry`, { key: ctx.admin });
    assert.equal(r.status, 409, 'queued messages cannot be retried');
    const [c] = (await ctx.svc.store.claim({ owner: 't', limit: 100, now: Date.now() + 1000, leaseMs: 1000 })).filter((m) => m.id === id);
    await ctx.svc.store.markFailed(c.lease, { at: Date.now(), outcome: 'failed', code: 'SMTP_REJECTED' });
    r = await call('POST', `/api/v1/messages/${id}/retry`, { key: ctx.send });
    assert.equal(r.status, 403);
    r = await call('POST', `/api/v1/messages/${id}/retry`, { key: ctx.admin });
    assert.equal(r.status, 202);
    assert.equal(r.json.status, 'queued');
    const audit = (await ctx.svc.store.listAudit(5)).filter((e) => e.action === 'message.retry' && e.detail.id === id);
    assert.equal(audit.length, 1, 'the retry is audited once');
    assert.match(audit[0].actor, /^api-key:/);
    r = await call('POST', '/api/v1/messages/00000000-0000-0000-0000-000000000000/retry', { key: ctx.admin });
    assert.equal(r.status, 404);
  });

  it('settings: PUT validates everything, GET never returns secrets, sources and audit are kept', async () => {
    let r = await call('GET', '/api/v1/settings/email', { key: ctx.admin });
    assert.equal(r.json.valid, false);
    assert.equal(r.json.clientSecretSet, false);
    assert.equal(r.json.sources.smtpHost, 'default');

    r = await call('PUT', '/api/v1/settings/email', { key: ctx.admin, body: { clientId: 'nope', tenantId: 'x y', smtpPort: 70000, bogus: 1 } });
    assert.equal(r.status, 422);
    assert.deepEqual(r.json.errors.map((e: { key: string }) => e.key).sort(), ['authorizedFrom', 'bogus', 'clientId', 'clientSecret', 'smtpPort', 'tenantId']);
    assert.equal((await call('GET', '/api/v1/settings/email', { key: ctx.admin })).json.version, 0, 'nothing saved');

    r = await call('PUT', '/api/v1/settings/email', { key: ctx.admin, body: VALID_SETTINGS });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.valid, true);
    assert.equal(r.json.clientSecretSet, true);
    assert.equal(r.json.clientSecret, undefined);
    assert.equal(r.json.sources.clientSecret, 'stored');
    assert.equal(r.json.sources.smtpHost, 'default');
    assert.equal(r.json.smtpHost, 'smtp.office365.com');
    assert.ok(!r.text.includes(SECRET));

    // An empty secret keeps the stored one; other keys change.
    r = await call('PUT', '/api/v1/settings/email', { key: ctx.admin, body: { ...VALID_SETTINGS, clientSecret: '', smtpPort: 587, connectionTimeoutMs: 5000 } });
    assert.equal(r.status, 200);
    assert.equal(r.json.clientSecretSet, true);
    assert.equal(r.json.connectionTimeoutMs, 5000);
    assert.equal(ctx.svc.settings.settings()?.clientSecret?.reveal(), SECRET);

    const audit = await ctx.svc.store.listAudit(10);
    const updates = audit.filter((a) => a.action === 'settings.update');
    assert.deepEqual(updates[0].detail, { keys: ['smtpPort', 'connectionTimeoutMs'] });
    assert.ok(updates[1].detail.keys && (updates[1].detail.keys as string[]).includes('clientSecret'));
    assert.match(updates[0].actor, /^api-key:ops$/);
    assert.ok(!JSON.stringify(audit).includes(SECRET));

    r = await call('GET', '/healthz');
    assert.equal(r.status, 200);
    r = await call('GET', '/readyz');
    assert.equal(r.status, 200, r.text);
  });

  it('send test: reports the reply, or the failure with its diagnosis', async () => {
    let r = await call('POST', '/api/v1/settings/email/test', { key: ctx.admin, body: { to: 'admin@example.com' } });
    assert.equal(r.status, 200);
    assert.equal(r.json.ok, true);
    assert.equal(r.json.response, '250 2.0.0 OK');
    ctx.mailer.behaviour = () => {
      throw new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: `auth failed for ${SECRET}`, smtp: { code: 535, enhanced: '5.7.3', raw: '535 5.7.3 Authentication unsuccessful' } });
    };
    r = await call('POST', '/api/v1/settings/email/test', { key: ctx.admin, body: { to: 'admin@example.com' } });
    assert.equal(r.json.ok, false);
    assert.equal(r.json.error.code, 'AUTH_FAILED');
    assert.equal(r.json.error.reply, '535 5.7.3 Authentication unsuccessful');
    assert.ok(r.json.error.diagnosis.id);
    assert.ok(!r.text.includes(SECRET), 'the secret is scrubbed from the error message');
    r = await call('POST', '/api/v1/settings/email/test', { key: ctx.admin, body: { to: 'a@example.com', cc: 'b' } });
    assert.equal(r.status, 422);
  });

  it('diagnostics run the doctor on the settings in effect (never echoing the secret)', async () => {
    const r = await call('POST', '/api/v1/diagnostics', { key: ctx.admin, body: {} });
    assert.equal(r.status, 200);
    assert.equal(r.json.checks[0].id, 'settings');
    assert.ok(r.json.checks.every((c: { status: string }) => ['pass', 'fail', 'warn', 'skip'].includes(c.status)));
    assert.ok(!r.text.includes(SECRET));
  });

  it('metrics are Prometheus text without addresses', async () => {
    const r = await call('GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.type, /text\/plain/);
    assert.match(r.text, /mailgate_messages\{status="queued"\} \d+/);
    assert.match(r.text, /mailgate_messages_accepted_total \d+/);
    assert.match(r.text, /mailgate_token_requests_total \d+/);
    assert.match(r.text, /mailgate_delivery_latency_seconds_bucket\{le="\+Inf"\}/);
    assert.ok(!/@/.test(r.text));
  });

  it('unknown routes are problem+json 404', async () => {
    const r = await call('GET', '/nope');
    assert.equal(r.status, 404);
    assert.match(r.type, /problem\+json/);
  });

  it('no response and no file in the data dir contains the client secret', async () => {
    assert.ok(responses.length > 20);
    for (const text of responses) assert.ok(!text.includes(SECRET));
    const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
    await ctx.svc.store.ping(Date.now());
    for (const f of walk(ctx.dir)) {
      const data = readFileSync(f);
      assert.ok(!data.includes(SECRET), `${f} contains the secret`);
    }
    assert.ok(!ctx.logs.text().includes(SECRET));
  });
});

describe('HTTP API: environment overrides, metrics token, diagnostics', () => {
  it('reports env values as such and refuses to change them', async () => {
    const ctx = await setup({ MAILGATE_METRICS_TOKEN: 'scrape-token-123', MAILGATE_SMTP_PORT: '2525', MAILGATE_CLIENT_SECRET: SECRET }, {
      runDiagnostics: async (input) => ({ ok: true, checks: [{ id: 'settings', status: 'pass' }], to: input.to ?? null }),
    });
    try {
      let r = await req(ctx, 'PUT', '/api/v1/settings/email', { key: ctx.admin, body: { ...VALID_SETTINGS, clientSecret: undefined, smtpPort: 2525 } });
      let json = await r.json() as any;
      assert.equal(r.status, 200, JSON.stringify(json));
      assert.equal(json.sources.smtpPort, 'env');
      assert.equal(json.sources.clientSecret, 'env');
      assert.equal(json.clientSecretSet, true);
      assert.equal(json.smtpPort, 2525);
      r = await req(ctx, 'PUT', '/api/v1/settings/email', { key: ctx.admin, body: { smtpPort: 587, clientSecret: 'new-one-here' } });
      json = await r.json();
      assert.equal(r.status, 422);
      assert.deepEqual(json.errors.map((e: { key: string }) => e.key).sort(), ['clientSecret', 'smtpPort']);
      assert.match(json.errors[0].message, /MAILGATE_/);

      r = await req(ctx, 'GET', '/metrics');
      assert.equal(r.status, 401);
      r = await req(ctx, 'GET', '/metrics', { key: 'scrape-token-123' });
      assert.equal(r.status, 200);

      r = await req(ctx, 'POST', '/api/v1/diagnostics', { key: ctx.admin, body: { to: 'x@example.com' } });
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { ok: true, checks: [{ id: 'settings', status: 'pass' }], to: 'x@example.com' });
    } finally {
      await ctx.svc.stop();
      ctx.remove();
    }
  });

  it('readyz lists why the service is not ready', async () => {
    const ctx = await setup();
    try {
      const r = await req(ctx, 'GET', '/readyz');
      assert.equal(r.status, 503);
      const json = await r.json() as { errors: { key: string }[] };
      assert.ok(json.errors.some((e) => e.key === 'settings.clientId'));
    } finally {
      await ctx.svc.stop();
      ctx.remove();
    }
  });
});
