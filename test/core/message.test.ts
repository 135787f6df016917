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
