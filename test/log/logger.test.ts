import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { addLogSecretSource, createLogger } from '../../src/log/logger.js';
import { Secret } from '../../src/core/secret.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, stream };
}

const JWT = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlMzY1LmNvbSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU';

test('the logger redacts secrets by field, by type and by shape, at debug level', () => {
  const { lines, stream } = capture();
  const log = createLogger({ level: 'debug', destination: stream });
  log.debug({ clientSecret: 'Sx8Q~plain-secret-value-1234567890', accessToken: JWT, settings: { smtpPassword: 'hunter2hunter2' } }, 'fields');
  log.debug({ secret: new Secret('wrapped-secret-value') }, 'typed');
  log.debug({ reply: `AUTH XOAUTH2 dXNlcj1hQGIuY29tAWF1dGg9QmVhcmVyIHgBAQ==`, text: `token ${JWT} here` }, 'shapes');
  log.info(`a message with ${JWT} inside`);
  log.debug({ err: new Error(`failed with ${JWT}`) }, 'error');
  const all = lines.join('');
  assert.equal(lines.length, 5);
  for (const s of ['Sx8Q~plain-secret-value-1234567890', JWT, 'hunter2hunter2', 'wrapped-secret-value', 'dXNlcj1hQGIuY29t']) {
    assert.equal(all.includes(s), false, `leaked ${s.slice(0, 12)}`);
  }
  assert.match(all, /\[redacted\]/);
});

test('registered secret values are scrubbed from any field and message, e.g. a library error quoting them', () => {
  const { lines, stream } = capture();
  const log = createLogger({ level: 'debug', destination: stream });
  const remove = addLogSecretSource(() => ['plain-looking-password-42']);
  try {
    log.error({ err: new Error('login failed for pw plain-looking-password-42'), detail: { note: 'x plain-looking-password-42' } }, 'failed with plain-looking-password-42');
  } finally {
    remove();
  }
  assert.equal(lines.join('').includes('plain-looking-password-42'), false);
  assert.match(lines.join(''), /\[redacted\]/);
});

test('errors keep their type, message, stack and fields in the log, scrubbed (was "type":"Object","stack":"")', async () => {
  const { lines, stream } = capture();
  const log = createLogger({ level: 'debug', destination: stream });
  const { MailgateError } = await import('../../src/core/errors.js');
  const remove = addLogSecretSource(() => ['stack-secret-value-99']);
  try {
    const typeError = new TypeError(`bad value stack-secret-value-99 ${JWT}`);
    log.error({ err: typeError, path: '/api/v1/messages' }, 'unhandled error in HTTP request');
    log.error(new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: 'refused', smtp: { code: 535, enhanced: '5.7.3', raw: '535 5.7.3 Authentication unsuccessful' }, cause: new Error('inner stack-secret-value-99') }));
    log.warn({ error: new RangeError('other key') }, 'under another key');
  } finally {
    remove();
  }
  const [a, b, c] = lines.map((l) => JSON.parse(l));
  assert.equal(a.err.type, 'TypeError');
  assert.match(a.err.message, /^bad value \[redacted\] \[redacted\]$/);
  assert.match(a.err.stack, /^TypeError: bad value \[redacted\]/);
  assert.match(a.err.stack, /\n\s+at /, 'the stack has its frames');
  assert.equal(b.err.type, 'MailgateError');
  assert.equal(b.err.code, 'AUTH_FAILED');
  assert.equal(b.err.phase, 'auth');
  assert.equal(b.err.smtp.enhanced, '5.7.3');
  assert.match(b.err.stack, /\n\s+at /);
  assert.equal(b.err.cause.type, 'Error');
  assert.equal(b.err.cause.message, 'inner [redacted]');
  assert.equal(b.msg, 'refused');
  assert.equal(c.error.type, 'RangeError');
  assert.match(c.error.stack, /^RangeError: other key\n/);
  assert.equal(lines.join('').includes('stack-secret-value-99'), false);
  assert.equal(lines.join('').includes(JWT), false);
});
