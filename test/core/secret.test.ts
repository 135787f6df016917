import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { Secret, scrubText } from '../../src/core/secret.js';

test('a Secret prints as [redacted] everywhere but reveal()', () => {
  const s = new Secret('super-secret-value');
  assert.equal(String(s), '[redacted]');
  assert.equal(JSON.stringify({ s }), '{"s":"[redacted]"}');
  assert.equal(inspect({ s }).includes('super-secret-value'), false);
  assert.equal(`${s}`, '[redacted]');
  assert.equal(s.reveal(), 'super-secret-value');
});

test('scrubText removes secrets, their base64 form, JWTs and AUTH initial responses', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL291dGxvb2sifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
  const text = `secret=hunter2hunter2 b64=${Buffer.from('hunter2hunter2').toString('base64')} tok=${jwt} AUTH XOAUTH2 dXNlcj1hQGIAYXV0aD1CZWFyZXIgeAEB`;
  const out = scrubText(text, ['hunter2hunter2']);
  assert.equal(out.includes('hunter2hunter2'), false);
  assert.equal(out.includes(jwt), false);
  assert.equal(out.includes('dXNlcj1hQGIAYXV0aD1CZWFyZXIgeAEB'), false);
  assert.match(out, /AUTH XOAUTH2 \[redacted\]/);
});
