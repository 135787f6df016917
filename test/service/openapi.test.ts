/**
 * The OpenAPI document (GET /api/v1/openapi.json) against the app it describes: every route of
 * the Hono app is documented and every documented operation exists, and the documented request
 * schemas accept and refuse the same sample payloads as the API's validators (each sample is
 * checked against the document with a small JSON Schema evaluator, then POSTed for real).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { messageRequestSchema } from '../../src/service/intake/message-request.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { FakeMailer, LineCapture, tempDir } from './helpers.js';

type Schema = Record<string, any>;

/** Routes that are not the API: the admin page (HTML forms with CSRF) and browser assets. */
const NOT_API = (path: string) => path === '/admin' || path.startsWith('/admin/') || path === '/favicon.ico';

/** A JSON Schema 2020-12 evaluator for the keywords the document uses; returns the failures. */
function check(doc: Schema, schema: Schema, value: unknown, at = '$'): string[] {
  if (schema.$ref) {
    const target = (schema.$ref as string).replace(/^#\//, '').split('/').reduce((o: any, k) => o?.[k], doc);
    assert.ok(target, `unresolved ${schema.$ref}`);
    return check(doc, target, value, at);
  }
  const out: string[] = [];
  const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    const t = typeOf(value);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) return [`${at}: type ${t} not in ${types}`];
  }
  if (schema.const !== undefined && value !== schema.const) out.push(`${at}: not const`);
  if (schema.enum && !schema.enum.includes(value)) out.push(`${at}: not in enum`);
  if (schema.anyOf && !schema.anyOf.some((s: Schema) => check(doc, s, value, at).length === 0)) out.push(`${at}: no anyOf branch`);
  for (const s of schema.allOf ?? []) out.push(...check(doc, s, value, at));
  if (typeof value === 'string') {
    const n = [...value].length;
    if (schema.minLength !== undefined && n < schema.minLength) out.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && n > schema.maxLength) out.push(`${at}: longer than ${schema.maxLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) out.push(`${at}: does not match ${schema.pattern}`);
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) out.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.minItems !== undefined && value.length < schema.minItems) out.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.items) value.forEach((v, i) => out.push(...check(doc, schema.items, v, `${at}[${i}]`)));
  } else if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    for (const k of schema.required ?? []) if (!(k in obj)) out.push(`${at}.${k}: required`);
    for (const [k, v] of Object.entries(obj)) {
      if (schema.propertyNames) out.push(...check(doc, schema.propertyNames, k, `${at}.${k} (name)`));
      if (schema.properties?.[k]) out.push(...check(doc, schema.properties[k], v, `${at}.${k}`));
      else if (schema.additionalProperties === false) out.push(`${at}.${k}: not allowed`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.push(...check(doc, schema.additionalProperties, v, `${at}.${k}`));
    }
  }
  return out;
}

const base = { to: 'user@example.com', subject: 'Hello', text: 'Hi' };
const many = (n: number) => Array.from({ length: n }, (_, i) => `u${i}@example.com`);

/** Sample submissions: the valid ones are also valid messages (so the API answers 202). */
const MESSAGE_SAMPLES: [string, unknown, boolean][] = [
  ['minimal', base, true],
  ['lists and every field', { to: ['a@example.com', 'B <b@example.com>'], cc: 'c@example.com', bcc: ['d@example.com'], replyTo: 'r@example.com', subject: '', html: '<p>x</p>', headers: { 'X-Tag': 'otp' }, idempotencyKey: 'k-1' }, true],
  ['attachments with and without contentType, inline cid', { ...base, html: '<img src="cid:logo@x">', attachments: [{ filename: 'logo.png', content: 'aGk=', cid: 'logo@x' }, { filename: 'a.pdf', contentType: 'application/pdf', content: 'aGk=' }] }, true],
  ['500 recipients', { ...base, to: many(500) }, true],
  ['missing to', { subject: 's', text: 'x' }, false],
  ['missing subject', { to: 'a@example.com', text: 'x' }, false],
  ['text is a number', { ...base, text: 5 }, false],
  ['text is an array', { ...base, text: ['a'] }, false],
  ['to is a number', { ...base, to: 5 }, false],
  ['to has a number', { ...base, to: ['a@example.com', 5] }, false],
  ['501 recipients in to', { ...base, to: many(501) }, false],
  ['unknown field', { ...base, priority: 1 }, false],
  ['header value is a number', { ...base, headers: { 'X-A': 1 } }, false],
  ['attachment with an unknown field', { ...base, attachments: [{ filename: 'a.txt', content: 'aGk=', inline: true }] }, false],
  ['attachment without content', { ...base, attachments: [{ filename: 'a.txt' }] }, false],
  ['attachment content not base64', { ...base, attachments: [{ filename: 'a.txt', content: 'not base64!!' }] }, false],
  ['attachment with an empty filename', { ...base, attachments: [{ filename: '', content: 'aGk=' }] }, false],
  ['101 attachments', { ...base, attachments: Array.from({ length: 101 }, () => ({ filename: 'a.txt', content: 'aGk=' })) }, false],
  ['subject of 999 characters', { ...base, subject: 'word '.repeat(200).slice(0, 999) }, false],
  ['empty idempotencyKey', { ...base, idempotencyKey: '' }, false],
  ['body is an array', [base], false],
];

describe('OpenAPI document', () => {
  let svc: RunningService;
  let doc: Schema;
  let send: string;
  let admin: string;
  let remove: () => void;

  before(async () => {
    const t = tempDir();
    remove = t.remove;
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
    const r = await svc.app.request('/api/v1/openapi.json');
    assert.equal(r.status, 200);
    doc = (await r.json()) as Schema;
  });
  after(async () => {
    await svc.stop();
    remove();
  });

  it('is OpenAPI 3.1 with the Idempotency-Key header on POST /api/v1/messages', () => {
    assert.equal(doc.openapi, '3.1.0');
    const p = doc.paths['/api/v1/messages'].post.parameters.find((x: Schema) => x.name === 'Idempotency-Key');
    assert.equal(p?.in, 'header');
    // The attachment schema a newcomer needs: filename, optional contentType, base64 content, cid.
    const att = doc.components.schemas.MessageRequest.properties.attachments.items;
    assert.deepEqual(Object.keys(att.properties).sort(), ['cid', 'content', 'contentType', 'filename']);
    assert.deepEqual(att.required.sort(), ['content', 'filename']);
  });

  it('documents every route of the app, and only routes that exist', () => {
    const methods = new Set(['get', 'put', 'post', 'delete', 'patch']);
    const inApp = new Set(
      svc.app.routes.filter((r) => r.method !== 'ALL' && !NOT_API(r.path)).map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    );
    const inDoc = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths as Record<string, Schema>)) {
      for (const m of Object.keys(item)) if (methods.has(m)) inDoc.add(`${m.toUpperCase()} ${path}`);
    }
    assert.deepEqual([...inApp].filter((r) => !inDoc.has(r)), [], 'routes missing from the document');
    assert.deepEqual([...inDoc].filter((r) => !inApp.has(r)), [], 'documented routes the app does not have');
    assert.ok(inApp.size >= 12, `found ${inApp.size} routes`);
  });

  it('its message request schema accepts and refuses the same samples as the API', async () => {
    const schema = doc.paths['/api/v1/messages'].post.requestBody.content['application/json'].schema;
    for (const [name, sample, valid] of MESSAGE_SAMPLES) {
      const failures = check(doc, schema, sample);
      assert.equal(failures.length === 0, valid, `${name}: document says ${failures.join('; ') || 'valid'}`);
      assert.equal(messageRequestSchema.safeParse(sample).success, valid, `${name}: zod schema`);
      const r = await svc.app.request('/api/v1/messages', { method: 'POST', headers: { authorization: `Bearer ${send}`, 'content-type': 'application/json' }, body: JSON.stringify(sample) });
      assert.equal(r.status, valid ? 202 : 422, `${name}: API answered ${r.status} ${valid ? await r.text() : ''}`);
    }
  });

  it('its other request schemas agree with their routes too', async () => {
    const cases: [string, unknown, boolean, number][] = [
      ['/api/v1/diagnostics', {}, true, 200],
      ['/api/v1/diagnostics', { to: 'a@example.com' }, true, 200],
      ['/api/v1/diagnostics', { bogus: 1 }, false, 422],
      ['/api/v1/diagnostics', { to: 5 }, false, 422],
      ['/api/v1/settings/email/test', { to: 'a@example.com' }, true, 200],
      ['/api/v1/settings/email/test', {}, false, 422],
      ['/api/v1/settings/email/test', { to: 'a@example.com', cc: 'b@example.com' }, false, 422],
    ];
    for (const [path, sample, valid, status] of cases) {
      const schema = doc.paths[path].post.requestBody.content['application/json'].schema;
      assert.equal(check(doc, schema, sample).length === 0, valid, `${path} ${JSON.stringify(sample)}`);
      const r = await svc.app.request(path, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(sample) });
      assert.equal(r.status, status, `${path} ${JSON.stringify(sample)}: ${r.status}`);
    }
    const settings = doc.paths['/api/v1/settings/email'].put.requestBody.content['application/json'].schema;
    assert.deepEqual(check(doc, settings, { smtpPort: 587, useModernAuth: true, clientSecret: null, cloud: 'global' }), []);
    assert.notDeepEqual(check(doc, settings, { smtpPortt: 587 }), []);
    const r = await svc.app.request('/api/v1/settings/email', { method: 'PUT', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ smtpPortt: 587 }) });
    assert.equal(r.status, 422);
  });
});
