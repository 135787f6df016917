/**
 * How the CLI turns any failure into its error and exit code: invalid settings or arguments
 * exit 2 (nothing was attempted), anything else 1; an unexpected error keeps its own words,
 * without credential-shaped strings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailgateError } from '../../src/core/errors.js';
import { asMailgateError, exitCodeFor } from '../../src/cli/error-output.js';

test('an unexpected error becomes INTERNAL with its cause named, and exits 1 whatever the phase', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL291dGxvb2sifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
  const err = asMailgateError(new TypeError(`Cannot read properties of undefined (reading 'oid') near ${jwt}`), 'mailgate setup-script', 'token');
  assert.equal(err.code, 'INTERNAL');
  assert.match(err.message, /^mailgate setup-script failed unexpectedly \(TypeError: Cannot read properties of undefined \(reading 'oid'\)/);
  assert.ok(!err.message.includes(jwt), 'no token in the message');
  assert.equal(exitCodeFor(err), 1);
  assert.equal(exitCodeFor(asMailgateError(new Error('x'), 'mailgate doctor', 'arguments')), 1, 'INTERNAL is never "invalid arguments"');
});

test('our own errors pass through; invalid settings or arguments exit 2, delivery failures 1', () => {
  const invalid = new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: 'Client ID missing' });
  assert.equal(asMailgateError(invalid, 'mailgate send', 'send'), invalid);
  assert.equal(exitCodeFor(invalid), 2);
  assert.equal(exitCodeFor(new MailgateError({ code: 'ARGUMENT_INVALID', phase: 'arguments', message: 'bad --to' })), 2);
  assert.equal(exitCodeFor(new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: '535 5.7.3 Authentication unsuccessful' })), 1);
});
