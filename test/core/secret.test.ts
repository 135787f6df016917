import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { Secret, scrubDeep, scrubText } from '../../src/core/secret.js';

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

test('scrubText removes a bare XOAUTH2 string (the two-step form sends it as its own line), whatever the token', () => {
  const xoauth2 = Buffer.from('user=app@contoso.com\x01auth=Bearer opaque-token-value-not-a-jwt\x01\x01').toString('base64');
  const out = scrubText(`535 5.7.3 echo: ${xoauth2}`, []);
  assert.equal(out.includes(xoauth2.slice(0, 20)), false);
  assert.equal(out, '535 5.7.3 echo: [redacted]');
});

test('scrubDeep cleans strings at any depth, Secrets and Error messages, and leaves other values', () => {
  const out = scrubDeep({ a: ['x hunter2hunter2 y', { b: new Secret('s3cr3t-value') }], err: new Error('pw hunter2hunter2'), n: 5, ok: 'fine' }, ['hunter2hunter2']);
  const text = JSON.stringify(out);
  assert.equal(text.includes('hunter2hunter2'), false);
  assert.equal(text.includes('s3cr3t-value'), false);
  assert.deepEqual((out as { n: number; ok: string }).n, 5);
  assert.equal((out as { ok: string }).ok, 'fine');
  assert.match(text, /"message":"pw \[redacted\]"/);
});

test('scrubText removes a PEM private key that is in no list of secrets (a key read from a certificate file, the exported PKCS#8 form), terminated or truncated', async () => {
  const { generateKeyPairSync } = await import('node:crypto');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const body = pkcs8.split('\n')[1]!;
  for (const pem of [pkcs8, pkcs1, `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${body}\n-----END ENCRYPTED PRIVATE KEY-----\n`]) {
    const out = scrubText(`certificate in use: ${pem} (thumbprint ab12)`, []);
    assert.equal(out, 'certificate in use: [redacted]\n (thumbprint ab12)', out);
  }
  assert.equal(scrubText(`truncated: ${pkcs8.slice(0, 120)}`, []), 'truncated: [redacted]');
  // A certificate is public and stays readable.
  assert.equal(scrubText('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----', []), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----');
  // At any depth of a logged value (scrubDeep), e.g. an error carrying the client configuration.
  const err = Object.assign(new Error('token request failed'), { config: { auth: { clientCertificate: { thumbprint: 'ab12', privateKey: pkcs8 } } } });
  assert.ok(!JSON.stringify(scrubDeep({ err }, [])).includes(body));
});

test('scrubDeep never passes on unscrubbed what lies below its depth cap (a long cause chain, a deep object)', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhYmNkZWZnaCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
  let deep: unknown = { token: `Bearer ${jwt}` };
  for (let i = 0; i < 12; i++) deep = { next: deep };
  let err: Error = new Error(`innermost ${jwt}`);
  for (let i = 0; i < 12; i++) err = new Error(`level ${i}`, { cause: err });
  const out = JSON.stringify(scrubDeep({ deep, err }, []));
  assert.ok(!out.includes(jwt), out);
  assert.match(out, /\[too deep\]/);
  assert.match(out, /level 11/);
});
