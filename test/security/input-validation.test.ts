/**
 * Security replay, end to end (issue 12 items 6, 7 and 10): the service on a real socket with
 * its real mailer, delivering to the Microsoft 365 emulator. Each reproduction of the review is
 * sent as it was, and the answer must be a 422 problem naming the field, with nothing reaching
 * the emulator; the legitimate variants are delivered, and the delivered MIME has no line over
 * 998 characters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startPair, type Pair } from '../service/e2e-helpers.js';
import { waitFor } from '../service/helpers.js';

describe('security replay: message input (items 6, 7, 10)', () => {
  let p: Pair;
  before(async () => {
    p = await startPair();
  });
  after(async () => {
    await p?.stop();
  });

  async function post(body: unknown) {
    const r = await fetch(`${p.svc.url}/api/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${p.key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, type: r.headers.get('content-type') ?? '', json: JSON.parse(text), text };
  }
  const keys = (r: { json: any }) => (r.json.errors as { key: string }[]).map((e) => e.key).sort();
  const base = { to: 'user@example.com', subject: 'Replay', text: 'x' };

  it('item 6: wrong JSON types are 422 naming the field and type (was 500), limits are named right', async () => {
    const before = p.emulator.messages().length;
    for (const [body, key, message] of [
      [{ ...base, text: 5 }, 'text', 'text: must be a string, not a number'],
      [{ ...base, text: ['a'] }, 'text', 'text: must be a string, not an array'],
      [{ ...base, to: { address: 'user@example.com' } }, 'to', 'to: must be an email address (a string) or an array of them, not an object'],
      [{ ...base, attachments: [{ filename: 5, content: 'aGk=' }] }, 'attachments[0].filename', 'attachments[0].filename: must be a string, not a number'],
    ] as const) {
      const r = await post(body);
      assert.equal(r.status, 422, r.text);
      assert.match(r.type, /^application\/problem\+json/);
      assert.deepEqual(r.json.errors, [{ key, message }]);
      assert.doesNotMatch(r.text, /is required/);
    }
    const thousand = await post({ ...base, to: Array.from({ length: 1000 }, (_, i) => `u${i}@example.com`) });
    assert.equal(thousand.status, 422);
    assert.deepEqual(thousand.json.errors, [{ key: 'to', message: 'to: 1000 recipients, more than the 500 per message that Exchange Online accepts' }]);
    const bigText = await post({ ...base, text: 'x'.repeat(35 * 1024 * 1024 + 4096) });
    assert.equal(bigText.status, 422);
    assert.deepEqual(keys(bigText), ['text'], 'a too-large text body is reported under text, not attachments');
    assert.equal(p.logs.text().includes('unhandled error'), false, 'no 500 on the way');
    assert.equal(p.emulator.messages().length, before);
  });

  it('item 7: headers that must not be set, unfoldable header lines and structural attachments are refused', async () => {
    const before = p.emulator.messages().length;
    const forbidden = ['Received', 'Resent-From', 'Resent-Message-ID', 'DKIM-Signature', 'ARC-Seal', 'ARC-Authentication-Results', 'Return-Receipt-To', 'Content-Disposition'];
    for (const h of forbidden) {
      const r = await post({ ...base, headers: { [h]: h === 'Return-Receipt-To' ? 'attacker@example.com' : 'forged' } });
      assert.equal(r.status, 422, `${h}: ${r.text}`);
      assert.deepEqual(keys(r), [`headers.${h}`]);
      assert.match(r.json.errors[0].message, /cannot be set/);
    }
    const long = await post({ ...base, headers: { 'X-Long': 'v'.repeat(1200) } });
    assert.equal(long.status, 422);
    assert.deepEqual(keys(long), ['headers.X-Long']);
    const longSubject = await post({ ...base, subject: 'S'.repeat(995) });
    assert.equal(longSubject.status, 422);
    assert.deepEqual(keys(longSubject), ['subject']);
    for (const contentType of ['multipart/mixed', 'message/rfc822', 'multipart/alternative; boundary=x']) {
      const r = await post({ ...base, attachments: [{ filename: 'x.eml', contentType, content: Buffer.from('From: a@b\r\n\r\nhidden').toString('base64') }] });
      assert.equal(r.status, 422, contentType);
      assert.deepEqual(keys(r), ['attachments[0].contentType']);
    }
    assert.equal(p.emulator.messages().length, before, 'nothing refused reached Exchange');
  });

  it('item 7: the legitimate variants are delivered, folded under 998 characters per line', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex').toString('base64');
    const r = await post({
      ...base,
      subject: 'word '.repeat(199).trim(),
      html: '<p>Logo: <img src="cid:logo@mailgate.test"></p>',
      headers: { 'Disposition-Notification-To': 'receipts@example.com', 'X-Folded': 'token '.repeat(400).trim(), 'Content-Language': 'en' },
      attachments: [{ filename: 'logo.png', content: png, cid: 'logo@mailgate.test' }, { filename: 'notes.txt', content: Buffer.from('hello').toString('base64') }],
    });
    assert.equal(r.status, 202, r.text);
    await p.waitForStatus([r.json.id], 'sent');
    const got = await waitFor(() => p.emulator.messages().find((m) => m.messageId === r.json.messageId), 10_000, 'the message at the emulator');
    const raw = p.emulator.rawMessage(got.id)!.toString('utf8');
    const longest = Math.max(...raw.split('\r\n').map((l) => l.length));
    assert.ok(longest <= 998, `longest line ${longest}`);
    assert.match(raw, /^Disposition-Notification-To: receipts@example\.com$/m);
    assert.match(raw, /^Content-Language: en$/m);
    assert.match(raw, /^Content-Type: image\/png; name=logo\.png$/m, 'contentType defaulted from the extension');
    assert.match(raw, /^Content-Id: <logo@mailgate\.test>$/im);
    assert.match(raw, /^Content-Type: text\/plain; name=notes\.txt$/m);
  });

  it('item 10: the send test refuses an invalid recipient with 422 problem+json (was 200 ok:false)', async () => {
    const before = p.emulator.messages().length;
    const bad = await p.api('POST', '/api/v1/settings/email/test', { to: 'not-an-address' });
    assert.equal(bad.status, 422, bad.text);
    assert.equal(bad.json.type, 'urn:mailgate:problem:validation');
    assert.deepEqual(bad.json.errors.map((e: { key: string }) => e.key), ['to']);
    const injected = await p.api('POST', '/api/v1/settings/email/test', { to: 'a@example.com\r\nBcc: victim@example.com' });
    assert.equal(injected.status, 422);
    assert.equal(p.emulator.messages().length, before);
    const good = await p.api('POST', '/api/v1/settings/email/test', { to: 'admin@example.com' });
    assert.equal(good.status, 200, good.text);
    assert.equal(good.json.ok, true);
  });

  it('over the real socket: POST /api/v1/diagnostics without a body, GET / to the admin page, the OpenAPI document without a key', async () => {
    const diag = await fetch(`${p.svc.url}/api/v1/diagnostics`, { method: 'POST', headers: { authorization: `Bearer ${p.key}` } });
    assert.equal(diag.status, 200, await diag.clone().text());
    assert.ok(Array.isArray(((await diag.json()) as { checks: unknown[] }).checks));
    const root = await fetch(`${p.svc.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/admin');
    const doc = await fetch(`${p.svc.url}/api/v1/openapi.json`);
    assert.equal(doc.status, 200);
    assert.equal(((await doc.json()) as { openapi: string }).openapi, '3.1.0');
  });
});
