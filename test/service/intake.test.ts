/**
 * The cheap intake path of `POST /api/v1/messages`: the API-key authentication cache (and its
 * staleness bound), the body limit over a real socket (Content-Length checked from the header,
 * chunked bodies counted), and the request body stored as is when normalising changes nothing.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import { createLogger } from '../../src/log/logger.js';
import { API_KEY_CACHE_TTL_MS, authenticateApiKey, createApiKey, hashApiKey, revokeApiKey } from '../../src/service/access/api-keys.js';
import { parseMessageRequest, type ParsedMessageRequest } from '../../src/service/intake/message-request.js';
import { createOutbox } from '../../src/service/outbox/outbox.js';
import { decodePayload } from '../../src/service/outbox/payload.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { openSqliteStore, type SqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import type { ApiKeyRecord, ConfigStore, NewMessage } from '../../src/service/outbox/store.js';
import { LineCapture, tempDir } from './helpers.js';

const ACTOR = { now: 1, actor: 'test' };

/** A store of API keys in memory that counts lookups and can hold one back. */
class KeyStore {
  keys: { name: string; scope: 'send' | 'admin'; hash: string; prefix: string; createdAt: number; revokedAt?: number }[] = [];
  lookups = 0;
  /** When set, the next lookup waits for this promise before answering. */
  hold?: Promise<void>;
  async createApiKey(k: { name: string; scope: 'send' | 'admin'; hash: string; prefix: string; createdAt: number }): Promise<boolean> {
    if (this.keys.some((x) => x.name === k.name && x.revokedAt === undefined)) return false;
    this.keys.push({ ...k });
    return true;
  }
  async revokeApiKey(name: string, at: number): Promise<boolean> {
    const k = this.keys.find((x) => x.name === name && x.revokedAt === undefined);
    if (k) k.revokedAt = at;
    return !!k;
  }
  async findApiKey(hash: string): Promise<ApiKeyRecord | undefined> {
    this.lookups++;
    const k = this.keys.find((x) => x.hash === hash && x.revokedAt === undefined);
    const record = k ? { id: String(this.keys.indexOf(k) + 1), name: k.name, scope: k.scope, prefix: k.prefix, createdAt: k.createdAt } : undefined;
    const hold = this.hold;
    this.hold = undefined;
    if (hold) await hold;
    return record;
  }
  async appendAudit(): Promise<void> {}
  asStore(): ConfigStore {
    return this as unknown as ConfigStore;
  }
}

describe('API-key authentication cache', () => {
  it('answers repeated requests without a store lookup, for at most API_KEY_CACHE_TTL_MS', async () => {
    const s = new KeyStore();
    const store = s.asStore();
    const { key } = await createApiKey(store, 'app', 'send', ACTOR);
    assert.equal((await authenticateApiKey(store, key, 1000))?.name, 'app');
    assert.equal((await authenticateApiKey(store, key, 1001))?.scope, 'send');
    assert.equal((await authenticateApiKey(store, key, 1000 + API_KEY_CACHE_TTL_MS - 1))?.name, 'app');
    assert.equal(s.lookups, 1);
    assert.equal((await authenticateApiKey(store, key, 1000 + API_KEY_CACHE_TTL_MS))?.name, 'app');
    assert.equal(s.lookups, 2, 'looked up again once the entry expired');
    assert.ok(API_KEY_CACHE_TTL_MS <= 5_000, 'the documented staleness bound is a few seconds');
  });

  it('a key revoked through this process stops working at once', async () => {
    const s = new KeyStore();
    const store = s.asStore();
    const { key } = await createApiKey(store, 'app', 'send', ACTOR);
    assert.ok(await authenticateApiKey(store, key, 1000));
    assert.equal(await revokeApiKey(store, 'app', ACTOR), true);
    assert.equal(await authenticateApiKey(store, key, 1001), undefined);
  });

  it('a key revoked by another process sharing the database: accepted at most API_KEY_CACHE_TTL_MS longer', async () => {
    const t = tempDir();
    const service = openSqliteStore(t.dir);
    const cli = openSqliteStore(t.dir); // `mailgate apikey …` while `mailgate serve` runs
    try {
      const { key } = await createApiKey(cli, 'app', 'admin', ACTOR);
      assert.equal((await authenticateApiKey(service, key, 1000))?.scope, 'admin', 'a key created elsewhere works at once');
      // Replaced elsewhere by a key of a smaller scope (revoke + create under the same name).
      assert.equal(await revokeApiKey(cli, 'app', ACTOR), true);
      const smaller = await createApiKey(cli, 'app', 'send', ACTOR);
      assert.equal((await authenticateApiKey(service, key, 1000 + API_KEY_CACHE_TTL_MS - 1))?.scope, 'admin', 'stale within the bound');
      assert.equal(await authenticateApiKey(service, key, 1000 + API_KEY_CACHE_TTL_MS), undefined, 'never beyond it');
      assert.equal((await authenticateApiKey(service, smaller.key, 1000))?.scope, 'send');
    } finally {
      await service.close();
      await cli.close();
      t.remove();
    }
  });

  it('does not cache unknown keys (a key created elsewhere afterwards works at once)', async () => {
    const s = new KeyStore();
    const store = s.asStore();
    const key = 'mg_' + 'k'.repeat(43);
    assert.equal(await authenticateApiKey(store, key, 1000), undefined);
    await s.createApiKey({ name: 'late', scope: 'send', hash: hashApiKey(key), prefix: key.slice(0, 7), createdAt: 2 });
    assert.equal((await authenticateApiKey(store, key, 1001))?.name, 'late');
  });

  it('a lookup that raced a revocation here does not fill the cache', async () => {
    const s = new KeyStore();
    const store = s.asStore();
    const { key } = await createApiKey(store, 'app', 'send', ACTOR);
    let release!: () => void;
    s.hold = new Promise((r) => (release = r));
    const inFlight = authenticateApiKey(store, key, 1000); // read the key while it was active
    await revokeApiKey(store, 'app', ACTOR);
    release();
    assert.ok(await inFlight, 'the request that started before the revocation');
    assert.equal(await authenticateApiKey(store, key, 1001), undefined, 'but not the next one');
  });

  it('caches per store, keyed by hash, and returns read-only records', async () => {
    const a = new KeyStore();
    const b = new KeyStore();
    const { key } = await createApiKey(a.asStore(), 'app', 'send', ACTOR);
    const rec = await authenticateApiKey(a.asStore(), key, 1000);
    assert.equal(await authenticateApiKey(b.asStore(), key, 1000), undefined);
    assert.ok(Object.isFrozen(rec));
    assert.equal(await authenticateApiKey(a.asStore(), 'not-a-key', 1000), undefined);
    assert.equal(a.lookups, 1);
  });
});

describe('stored payload: the request body as sent when normalising changes nothing', () => {
  const storedFor = (r: ParsedMessageRequest) => r.payloadJson ?? JSON.stringify(r.payload);
  const parse = (body: Record<string, unknown>) => {
    const json = JSON.stringify(body);
    const r = parseMessageRequest(JSON.parse(json), json);
    assert.ok(r.ok, JSON.stringify(r));
    return { json, request: r.request };
  };

  it('reuses the body text for an already-normal request (with or without an idempotency key)', () => {
    const body = { to: ['a@example.com'], subject: 'Hi', text: 'Line 1\nLine "2" ✓', html: '<p>x</p>', headers: { 'X-Tag': 'otp' }, attachments: [{ filename: 'a.txt', contentType: 'text/plain', content: 'aGVsbG8=' }] };
    const { json, request } = parse(body);
    assert.equal(request.payloadJson, json);
    assert.deepEqual(JSON.parse(request.payloadJson!), request.payload);
    const keyed = parse({ ...body, idempotencyKey: 'k-1' });
    assert.equal(keyed.request.payloadJson, keyed.json);
    assert.ok(keyed.request.requestHash);
    const { idempotencyKey, ...rest } = JSON.parse(keyed.request.payloadJson!);
    assert.equal(idempotencyKey, 'k-1');
    assert.deepEqual(rest, keyed.request.payload);
    // The worker's view is the same either way.
    assert.deepEqual(decodePayload(keyed.request.payloadJson!, '<x@y>'), decodePayload(JSON.stringify(keyed.request.payload), '<x@y>'));
  });

  it('stores the normalised payload when normalising changes something', () => {
    const cases: Record<string, unknown>[] = [
      { to: 'a@example.com', subject: 'Hi', text: 'x' }, // a single address as a string
      { to: [' a@example.com'], subject: 'Hi', text: 'x' }, // untrimmed
      { to: ['a@example.com'], cc: [], subject: 'Hi', text: 'x' }, // empty list dropped
      { to: ['a@example.com'], bcc: 'b@example.com', subject: 'Hi', text: 'x' },
      { to: ['a@example.com'], replyTo: ' r@example.com ', subject: 'Hi', text: 'x' },
      { to: ['a@example.com'], subject: 'Hi', text: 'x', attachments: [{ filename: 'a', contentType: 'text/plain', content: 'aGVs\nbG8=' }] },
      JSON.parse('{"to":["a@example.com"],"subject":"Hi","text":"x","headers":{"__proto__":"x","X-A":"1"}}') as Record<string, unknown>,
    ];
    for (const body of cases) {
      const { request } = parse(body);
      assert.equal(request.payloadJson, undefined, JSON.stringify(body));
      assert.deepEqual(JSON.parse(storedFor(request)), request.payload);
    }
    const direct = parseMessageRequest({ to: ['a@example.com'], subject: 'Hi', text: 'x' });
    assert.ok(direct.ok && direct.request.payloadJson === undefined, 'without the text, the payload is serialised');
  });

  it('the outbox stores payloadJson when there is one', async () => {
    const stored: NewMessage[] = [];
    const outbox = createOutbox({
      store: { enqueue: async (m: NewMessage) => (stored.push(m), { outcome: 'created', message: { id: m.id, status: 'queued' } }) } as never,
      now: () => 1,
      settings: () => undefined,
      maxAgeMs: 1000,
    });
    const { json, request } = parse({ to: ['a@example.com'], subject: 'Hi', text: 'x' });
    await outbox.submit(request);
    await outbox.submit(parse({ to: 'a@example.com', subject: 'Hi', text: 'x' }).request);
    assert.equal(stored[0].payload, json);
    assert.deepEqual(JSON.parse(stored[1].payload), { to: ['a@example.com'], subject: 'Hi', text: 'x' });
  });
});

describe('intake over a real socket (node-server)', () => {
  let svc: RunningService;
  let server: http.Server;
  let base: URL;
  let key: string;
  let t: ReturnType<typeof tempDir>;
  before(async () => {
    t = tempDir();
    svc = await startService({
      env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'), MAILGATE_MAX_BODY_BYTES: '65536' },
      listen: false,
      worker: false,
      logger: createLogger({ destination: new LineCapture(), level: 'debug' }),
    });
    key = (await createApiKey(svc.store, 'app', 'send', { now: Date.now(), actor: 'test' })).key;
    server = await new Promise<http.Server>((resolve) => {
      const s = serve({ fetch: svc.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s as http.Server)) as http.Server;
    });
    base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/messages`);
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await svc.stop();
    t.remove();
  });

  /** POST with Content-Length, or chunked (Transfer-Encoding) in pieces of 16 KB. */
  function post(body: string, o: { chunked?: boolean; type?: string } = {}): Promise<{ status: number; type: string; json: any }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { 'content-type': o.type ?? 'application/json', authorization: `Bearer ${key}` };
      if (!o.chunked) headers['content-length'] = Buffer.byteLength(body);
      const req = http.request(base, { method: 'POST', headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), json: text ? JSON.parse(text) : undefined }));
      });
      req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? undefined : reject(e)));
      if (!o.chunked) return void req.end(body);
      for (let i = 0; i < body.length; i += 16_384) req.write(body.slice(i, i + 16_384));
      req.end();
    });
  }
  const body = (text: string) => JSON.stringify({ to: ['user@example.com'], subject: 'Hi', text });

  it('accepts with Content-Length and chunked, storing the body as sent', async () => {
    for (const chunked of [false, true]) {
      const sent = body(`x "quoted" é\n`.repeat(3000));
      const r = await post(sent, { chunked });
      assert.equal(r.status, 202, JSON.stringify(r.json));
      const m = await svc.store.get(r.json.id);
      assert.equal(m?.subject, 'Hi');
      const row = (svc.store as SqliteStore).database.prepare('SELECT p.payload FROM message_payloads p JOIN messages m ON m.seq = p.seq WHERE m.id = ?').get(r.json.id) as { payload: string };
      assert.equal(row.payload, sent);
    }
  });

  it('refuses an oversize body with 413 problem+json, by Content-Length or while counting chunks', async () => {
    for (const chunked of [false, true]) {
      const r = await post(body('x'.repeat(70_000)), { chunked });
      assert.equal(r.status, 413, `chunked: ${chunked}`);
      assert.match(r.type, /application\/problem\+json/);
      assert.equal(r.json.type, 'urn:mailgate:problem:too-large');
    }
    assert.equal((await post(body('ok'))).status, 202, 'the connection pool still works');
  });

  it('keeps 415 and 400 problems', async () => {
    const r415 = await post('to=x', { type: 'application/x-www-form-urlencoded' });
    assert.equal(r415.status, 415);
    assert.equal(r415.json.type, 'urn:mailgate:problem:unsupported-media-type');
    const r400 = await post('{"to":');
    assert.equal(r400.status, 400);
    assert.equal(r400.json.type, 'urn:mailgate:problem:malformed-json');
  });
});
