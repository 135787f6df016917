/**
 * Parsing a submission body: every wrong JSON type is a problem naming the field and the type
 * it must have (zod 4 issues carry no input, so every wrong type once read "is required" and a
 * wrong-typed text crashed validation with a TypeError); the recipient limit is named; a large
 * text body is blamed on text; an attachment's contentType defaults from its file name.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMessageRequest } from '../../src/service/intake/message-request.js';

const base = { to: 'user@example.com', subject: 'Hi', text: 'x' };

function problems(body: unknown): Map<string, string> {
  const r = parseMessageRequest(body);
  assert.equal(r.ok, false, 'expected problems');
  return new Map((r as { problems: { key: string; message: string }[] }).problems.map((p) => [p.key, p.message]));
}

describe('parseMessageRequest', () => {
  it('names the field and expected type for every wrong type (no crash, no "is required")', () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ text: 5 }, 'text', /^text: must be a string, not a number$/],
      [{ text: ['a'] }, 'text', /^text: must be a string, not an array$/],
      [{ html: { a: 1 } }, 'html', /^html: must be a string, not an object$/],
      [{ subject: 5 }, 'subject', /^subject: must be a string, not a number$/],
      [{ subject: null }, 'subject', /^subject: must be a string, not null$/],
      [{ to: 5 }, 'to', /^to: must be an email address \(a string\) or an array of them, not a number$/],
      [{ to: ['a@example.com', true] }, 'to[1]', /^to\[1\]: must be a string, not a boolean$/],
      [{ cc: {} }, 'cc', /^cc: must be an email address/],
      [{ replyTo: ['a@example.com'] }, 'replyTo', /^replyTo: must be a string, not an array$/],
      [{ headers: 'X-A: 1' }, 'headers', /^headers: must be an object, not a string$/],
      [{ headers: { 'X-A': 1 } }, 'headers.X-A', /^headers\.X-A: must be a string, not a number$/],
      [{ attachments: 'x' }, 'attachments', /^attachments: must be an array, not a string$/],
      [{ attachments: [5] }, 'attachments[0]', /^attachments\[0\]: must be an object, not a number$/],
      [{ attachments: [{ filename: 'a.txt', content: 5 }] }, 'attachments[0].content', /must be a string, not a number$/],
      [{ idempotencyKey: 7 }, 'idempotencyKey', /^idempotencyKey: must be a string, not a number$/],
    ];
    for (const [over, key, expected] of cases) {
      const p = problems({ ...base, ...over });
      assert.deepEqual([...p.keys()], [key], `${JSON.stringify(over)} → ${JSON.stringify([...p])}`);
      assert.match(p.get(key)!, expected);
    }
    // Missing is still "is required".
    assert.match(problems({ to: 'a@example.com', text: 'x' }).get('subject')!, /^subject: is required$/);
  });

  it('1,000 recipients names the 500-recipient limit (was "to: Invalid input")', () => {
    const to = Array.from({ length: 1000 }, (_, i) => `u${i}@example.com`);
    const p = problems({ ...base, to });
    assert.deepEqual([...p.keys()], ['to']);
    assert.equal(p.get('to'), 'to: 1000 recipients, more than the 500 per message that Exchange Online accepts');
    const split = problems({ ...base, to: to.slice(0, 300), bcc: to.slice(300, 501) });
    assert.match(split.get('to')!, /501 recipients, more than the 500/);
  });

  it('a too-large text body is reported under text (was attachments)', () => {
    const p = problems({ ...base, text: 'x'.repeat(36 * 1024 * 1024) });
    assert.deepEqual([...p.keys()], ['text']);
  });

  it('an attachment without contentType gets the type of its extension, stored; cid is kept', () => {
    const body = { ...base, html: '<img src="cid:logo@x">', attachments: [{ filename: 'logo.PNG', content: 'aGk=', cid: 'logo@x' }, { filename: 'data.bin', content: 'aGk=' }] };
    const json = JSON.stringify(body);
    const r = parseMessageRequest(JSON.parse(json), json);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.request.payload.attachments, [
      { filename: 'logo.PNG', content: 'aGk=', cid: 'logo@x', contentType: 'image/png' },
      { filename: 'data.bin', content: 'aGk=', contentType: 'application/octet-stream' },
    ]);
    // The body as sent lacks the contentType, so it is not stored as is.
    assert.equal(r.request.payloadJson, undefined);
  });

  it('refuses forbidden headers, unfoldable header lines and structural attachment types', () => {
    const p = problems({ ...base, headers: { Received: 'from x', 'DKIM-Signature': 'v=1', 'X-Long': 'v'.repeat(1200) }, attachments: [{ filename: 'm.eml', contentType: 'message/rfc822', content: 'aGk=' }] });
    assert.deepEqual([...p.keys()].sort(), ['attachments[0].contentType', 'headers.DKIM-Signature', 'headers.Received', 'headers.X-Long']);
  });
});
