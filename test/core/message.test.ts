import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateMessage } from '../../src/core/message.js';
import { MailgateError } from '../../src/core/errors.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MailgateError);
    assert.equal(e.code, 'ARGUMENT_INVALID');
    assert.equal(e.phase, 'arguments');
    return (e.problems ?? []).map((p) => p.key);
  }
  assert.fail('expected a validation error');
}

test('a valid message passes and lists are normalised', () => {
  const m = validateMessage({ to: ['a@example.com', 'Bob <bob@example.com>'], subject: 'Hi', text: 'x' });
  assert.deepEqual(m.to, ['a@example.com', 'Bob <bob@example.com>']);
});

test('CR/LF in the subject is header injection and refused', () => {
  assert.deepEqual(problemsOf(() => validateMessage({ to: ['a@example.com'], subject: 'Hi\r\nBcc: evil@example.com', text: 'x' })), ['subject']);
});

test('CR/LF in an address or display name is refused', () => {
  assert.deepEqual(problemsOf(() => validateMessage({ to: ['a@example.com\nBcc: x@example.com'], subject: 's', text: 'x' })), ['to']);
  assert.deepEqual(problemsOf(() => validateMessage({ to: ['"Evil\r\nBcc: x@y.example" <a@example.com>'], subject: 's', text: 'x' })), ['to']);
});

test('CR/LF in a header value and reserved header names are refused', () => {
  const keys = problemsOf(() => validateMessage({ to: ['a@example.com'], subject: 's', text: 'x', headers: { 'X-Ok': 'fine', 'X-Bad': 'a\r\nBcc: x@y.example', From: 'x@y.example' } }));
  assert.deepEqual(keys.sort(), ['headers.From', 'headers.X-Bad']);
});

test('malformed addresses are refused, all problems at once', () => {
  const keys = problemsOf(() => validateMessage({ to: ['not-an-address', 'b@'], subject: 's' } as never));
  assert.deepEqual(keys.sort(), ['text', 'to[0]', 'to[1]']);
});

test('no recipient is refused', () => {
  assert.ok(problemsOf(() => validateMessage({ to: [], subject: 's', text: 'x' })).includes('to'));
});

test('more than 500 recipients is refused before sending', () => {
  const to = Array.from({ length: 501 }, (_, i) => `u${i}@example.com`);
  assert.deepEqual(problemsOf(() => validateMessage({ to, subject: 's', text: 'x' })), ['to']);
});

/** Every problem of a refused message, as `key: message`. */
function problemTexts(fn: () => unknown): Map<string, string> {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MailgateError);
    return new Map((e.problems ?? []).map((p) => [p.key, p.message]));
  }
  assert.fail('expected a validation error');
}

const ok = { to: ['a@example.com'], subject: 's', text: 'x' };

test('wrong types are problems naming the field and the expected type, never a crash or "is required"', () => {
  // A stored row or a JavaScript caller can hand anything; Buffer.byteLength(5) used to throw a TypeError.
  const p = problemTexts(() => validateMessage({ ...ok, text: 5, html: ['a'], subject: 7, headers: { 'X-A': 5 }, replyTo: 3 } as never));
  assert.match(p.get('text')!, /^text: must be a string, not a number$/);
  assert.match(p.get('html')!, /^html: must be a string, not an array$/);
  assert.match(p.get('subject')!, /^subject: must be a string, not a number$/);
  assert.match(p.get('headers.X-A')!, /must be a string, not a number/);
  assert.match(p.get('replyTo')!, /must be an email address \(a string\), not a number/);
  for (const m of p.values()) assert.doesNotMatch(m, /is required/);
  assert.match(problemTexts(() => validateMessage({ ...ok, headers: 'X-A: 1' } as never)).get('headers')!, /must be an object/);
  assert.match(problemTexts(() => validateMessage({ ...ok, attachments: 'x' } as never)).get('attachments')!, /must be an array, not a string/);
  assert.match(problemTexts(() => validateMessage({ ...ok, subject: undefined } as never)).get('subject')!, /a subject line is required/);
});

test('a too-large text body is reported under text, not attachments', () => {
  const p = problemTexts(() => validateMessage({ ...ok, text: 'x'.repeat(36 * 1024 * 1024) }));
  assert.deepEqual([...p.keys()], ['text']);
  assert.match(p.get('text')!, /36 MB.*35 MB/);
  const a = problemTexts(() => validateMessage({ ...ok, attachments: [{ filename: 'big.bin', contentType: 'application/octet-stream', content: Buffer.alloc(27 * 1024 * 1024) }] }));
  assert.deepEqual([...a.keys()], ['attachments']);
});

test('headers only mail servers may set are refused; Disposition-Notification-To is allowed with an address', () => {
  const refused = ['Received', 'Received-SPF', 'Authentication-Results', 'DKIM-Signature', 'ARC-Seal', 'ARC-Message-Signature', 'Resent-From', 'Resent-To', 'Content-Disposition', 'Content-ID', 'Return-Receipt-To', 'X-MS-Exchange-Organization-SCL'];
  const headers = Object.fromEntries(refused.map((h) => [h, 'value']));
  const p = problemTexts(() => validateMessage({ ...ok, headers }));
  assert.deepEqual([...p.keys()].sort(), refused.map((h) => `headers.${h}`).sort());
  assert.match(p.get('headers.Received')!, /cannot be set/);
  // Allowed: the standard read-receipt request (with an address), Content-Language, ordinary X- headers.
  validateMessage({ ...ok, headers: { 'Disposition-Notification-To': 'Ops <ops@example.com>', 'Content-Language': 'en', 'X-Tag': 'otp' } });
  assert.deepEqual([...problemTexts(() => validateMessage({ ...ok, headers: { 'Disposition-Notification-To': 'not an address' } })).keys()], ['headers.Disposition-Notification-To']);
});

test('a header line that cannot be folded under 998 characters is refused (folded values are fine)', () => {
  // 'X-Long: ' + 990 = 998 fits; one more does not, unless there is a space to fold at.
  validateMessage({ ...ok, headers: { 'X-Long': 'v'.repeat(990) } });
  assert.deepEqual([...problemTexts(() => validateMessage({ ...ok, headers: { 'X-Long': 'v'.repeat(991) } })).keys()], ['headers.X-Long']);
  validateMessage({ ...ok, headers: { 'X-Words': 'word '.repeat(1000) } });
  assert.deepEqual([...problemTexts(() => validateMessage({ ...ok, subject: 'S'.repeat(990) })).keys()], ['subject']);
  validateMessage({ ...ok, subject: 'S'.repeat(989) });
  assert.deepEqual([...problemTexts(() => validateMessage({ ...ok, to: [`${'N'.repeat(1000)} <a@example.com>`] })).keys()], ['to']);
  // Non-ASCII text is encoded in short words by the composer, so it is folded whatever its length.
  validateMessage({ ...ok, headers: { 'X-Long': '中'.repeat(1500) } });
});

test('multipart/* and message/* attachments are refused (their content was silently lost); cid is checked', () => {
  const content = Buffer.from('hi');
  const p = problemTexts(() =>
    validateMessage({
      ...ok,
      attachments: [
        { filename: 'a.eml', contentType: 'message/rfc822', content },
        { filename: 'b', contentType: 'Multipart/Mixed; boundary=x', content },
        { filename: 'c.png', contentType: 'image/png', content, cid: 'bad cid <x>' },
      ],
    }),
  );
  assert.deepEqual([...p.keys()], ['attachments[0].contentType', 'attachments[1].contentType', 'attachments[2].cid']);
  assert.match(p.get('attachments[0].contentType')!, /application\/octet-stream/);
  validateMessage({ ...ok, html: '<img src="cid:logo@example">', attachments: [{ filename: 'logo.png', contentType: 'image/png', content, cid: 'logo@example' }] });
});
