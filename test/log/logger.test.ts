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
